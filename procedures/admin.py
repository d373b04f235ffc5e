from django.contrib import admin, messages
from django.contrib.admin.options import ActionLocation

from procedures import services
from procedures.models import (
    Calendar,
    Category,
    PriorityMatrix,
    Procedure,
    ProcedureChange,
    ProcedureVersion,
    Service,
)
from skills.errors import DomainError
from skills.policy import Action, can
from skills.policy_admin import PolicyAdmin


@admin.register(Category)
class CategoryAdmin(PolicyAdmin):
    list_display = ["name", "slug", "procedure"]
    list_select_related = ["procedure"]
    prepopulated_fields = {"slug": ["name"]}

    def save_through_service(self, request, obj, values):
        return services.category_save(actor=request.user, category=obj, **values)


@admin.register(Service)
class ServiceAdmin(PolicyAdmin):
    list_display = ["name", "slug", "owner", "is_critical", "is_public"]
    list_select_related = ["owner"]
    list_filter = ["is_critical", "is_public"]
    prepopulated_fields = {"slug": ["name"]}

    def save_through_service(self, request, obj, values):
        return services.service_save(actor=request.user, service=obj, **values)


@admin.register(Calendar)
class CalendarAdmin(PolicyAdmin):
    change_action = Action.SET_POLICY
    list_display = ["name", "slug", "timezone", "around_the_clock"]

    def save_through_service(self, request, obj, values):
        return services.calendar_save(actor=request.user, calendar=obj, **values)


class ChangeInline(admin.TabularInline):
    model = ProcedureChange
    fields = ["at", "actor", "version", "kind", "diff"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class VersionInline(admin.TabularInline):
    model = ProcedureVersion
    fields = ["number", "state", "team", "calendar", "published_at", "published_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Procedure)
class ProcedureAdmin(PolicyAdmin):
    """Procedures are created and changed as versions; here they are read, and a draft is
    published with the action (level 5)."""

    change_action = None
    list_display = ["name", "slug", "incident_class"]
    list_filter = ["incident_class"]
    inlines = [VersionInline, ChangeInline]
    readonly_fields = ["slug", "name", "incident_class"]
    actions = ["publish_draft"]

    @admin.action(description="Publish the draft version")
    def publish_draft(self, request, queryset):
        for procedure in queryset:
            try:
                services.procedure_publish(actor=request.user, procedure=procedure)
                messages.success(request, f"Published the draft of {procedure.slug}.")
            except DomainError as exc:
                messages.error(request, exc.message)

    def get_actions(self, request, action_location=ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        if not can(request.user, Action.PUBLISH_PROCEDURE):
            actions.pop("publish_draft", None)
        return actions


@admin.register(ProcedureVersion)
class ProcedureVersionAdmin(PolicyAdmin):
    """Only a draft can be changed (level 4); a published version never changes."""

    change_action = Action.DRAFT_PROCEDURE
    list_display = ["procedure", "number", "state", "team", "calendar", "published_at"]
    list_filter = ["state", "procedure"]
    list_select_related = ["procedure", "team", "calendar"]
    fields = [
        "procedure", "number", "state", "team", "calendar", "sla_targets", "escalation", "checklist",
        "action_levels", "routing_rules", "deadlines", "warning_percent",
    ]  # fmt: skip

    def has_add_permission(self, request):
        return False  # a draft starts from the published version: edit the procedure

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.state != ProcedureVersion.State.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return ["procedure", "number", "state"]

    def save_through_service(self, request, obj, values):
        return services.procedure_edit(actor=request.user, procedure=obj.procedure, **values)


@admin.register(PriorityMatrix)
class PriorityMatrixAdmin(PolicyAdmin):
    change_action = Action.SET_POLICY
    list_display = ["__str__", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]
    fields = ["matrix", "updated_by", "updated_at"]

    def save_through_service(self, request, obj, values):
        if "matrix" in values:
            services.priority_matrix_set(actor=request.user, matrix=values["matrix"])
