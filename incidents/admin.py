from django.contrib import admin, messages
from django.utils import timezone

from incidents.models import (
    Incident,
    OutboundMessage,
    ServiceSubscription,
    TimelineEvent,
    WebhookSubscription,
)
from incidents.selectors import LIST_RELATED, incidents_visible_to
from skills.policy import Action
from skills.policy_admin import PolicyAdmin


class TimelineInline(admin.TabularInline):
    model = TimelineEvent
    fields = ["at", "actor", "kind", "data", "is_public"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(PolicyAdmin):
    """Read-only: incidents change through their actions (the incident page or the API)."""

    view_action = Action.MONITOR_QUEUES
    change_action = None
    list_display = ["reference", "title", "status", "priority", "team", "assignee", "created_at"]
    list_filter = ["status", "priority", "is_major", "team"]
    search_fields = ["title"]
    list_select_related = LIST_RELATED
    inlines = [TimelineInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return incidents_visible_to(request.user)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Incident._meta.fields]


@admin.register(OutboundMessage)
class OutboundMessageAdmin(PolicyAdmin):
    """The outbox: what was sent, what waits, what failed for good (level 4 and up)."""

    view_action = Action.VIEW_OUTBOX
    change_action = None
    list_display = ["created_at", "channel", "to", "subject", "state", "attempts", "next_attempt_at", "sent_at"]
    list_filter = ["state", "channel"]
    search_fields = ["to", "subject"]
    readonly_fields = [
        "incident", "channel", "to", "subject", "body", "html", "headers", "dedupe_key", "state",
        "attempts", "next_attempt_at", "last_error", "created_at", "sent_at",
    ]  # fmt: skip
    actions = ["retry"]
    show_full_result_count = False

    def get_queryset(self, request):
        # Messages of incidents the person may not see stay hidden.
        visible = incidents_visible_to(request.user).values("pk")
        queryset = super().get_queryset(request)
        return queryset.filter(incident__in=visible) | queryset.filter(incident__isnull=True)

    @admin.action(description="Try again now")
    def retry(self, request, queryset):
        count = queryset.exclude(state=OutboundMessage.State.SENT).update(
            state=OutboundMessage.State.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        messages.success(request, f"{count} message(s) will be tried again.")


@admin.register(ServiceSubscription)
class ServiceSubscriptionAdmin(PolicyAdmin):
    """Stakeholders of a service (level 4 manages them)."""

    list_display = ["email", "service", "optional", "active", "created_at"]
    list_filter = ["service", "optional", "active"]
    search_fields = ["email"]
    fields = ["service", "email", "person", "optional", "active"]

    def save_through_service(self, request, obj, values):
        from incidents.subscriptions import subscription_save

        subscription_save(actor=request.user, subscription=obj, **values)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(PolicyAdmin):
    """Outbound webhooks (level 5: they send incident data out of the building)."""

    change_action = Action.SET_POLICY
    view_action = Action.SET_POLICY
    list_display = ["name", "url", "active", "include_security", "created_at"]
    fields = ["name", "url", "secret", "events", "active", "include_security"]

    def save_through_service(self, request, obj, values):
        from incidents.subscriptions import webhook_save

        webhook_save(actor=request.user, webhook=obj, **values)
