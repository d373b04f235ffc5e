from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.views.decorators.debug import sensitive_post_parameters

from skills import services
from skills.errors import Forbidden
from skills.models import ApiToken, Person, PersonChange, Team
from skills.policy import Action, can, is_superuser, may_manage_people
from skills.policy_admin import PolicyAdmin


@admin.register(Person)
class PersonAdmin(PolicyAdmin, UserAdmin):
    """People and their SFIA levels, for level 5 and superusers; level 4 may look. Every
    change goes through `skills.services` (audited, and asking `skills.policy`): nobody
    raises their own level or grants one above their own, and only superusers see or
    touch superusers' accounts, superuser status, groups and permissions."""

    view_action = Action.MANAGE_CONFIGURATION
    change_action = Action.MANAGE_PEOPLE
    list_display = ["username", "email", "role", "sfia_level", "is_active"]
    list_filter = ["role", "sfia_level", "teams", "is_active"]
    filter_horizontal = ["teams", "groups", "user_permissions"]
    readonly_fields = ["last_login", "date_joined", "account_history"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Service desk", {"fields": ("role", "sfia_level", "teams", "is_active")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        ("History", {"fields": ("account_history",)}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Service desk", {"fields": ("role", "sfia_level", "teams")}),
    )
    superuser_fieldset = ("Superuser only", {"fields": ("is_superuser", "groups", "user_permissions")})

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return is_superuser(request.user) or can(request.user, self.view_action)

    def has_add_permission(self, request):
        return may_manage_people(request.user)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not is_superuser(request.user):
            return False
        return may_manage_people(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        # Superusers' accounts are for superusers' eyes.
        return queryset if is_superuser(request.user) else queryset.filter(is_superuser=False)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if is_superuser(request.user):
            fieldsets = (*fieldsets, self.superuser_fieldset)
        return fieldsets

    @admin.display(description="Account changes")
    def account_history(self, person):
        """The account's audit trail, newest first (all of it: the people audit list)."""
        rows = PersonChange.objects.filter(person=person).order_by("-at", "-id")[:50]
        if not rows:
            return "None recorded."
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((date_format(localtime(row.at), "DATETIME_FORMAT"), row.actor_name, row.get_kind_display(),
              _values(row.before), _values(row.after)) for row in rows),
        )  # fmt: skip
        return format_html(
            "<table><tr><th>When</th><th>Who</th><th>What</th><th>Before</th><th>After</th></tr>{}</table>", body
        )

    def save_through_service(self, request, obj, values):
        values = dict(values)
        password = values.pop("password1", None)
        values.pop("password2", None)
        values.pop("password", None)  # the change form's read-only hash: the password page sets it
        usable = values.pop("usable_password", "true")
        if obj is None:
            return services.person_create(
                actor=request.user, password=password if usable != "false" else None, **values
            )
        return services.person_change(actor=request.user, person=obj, **values)

    def save_related(self, request, form, formsets, change):
        pass  # teams, groups and permissions were set by the service, with the audit

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        """The password page: a valid submission goes through the service (which asks the
        policy and records it); the rest (the page, its errors) is Django's."""
        person = self.get_object(request, unquote(id))
        if request.method == "POST" and person is not None and self.has_change_permission(request, person):
            form = self.change_password_form(person, request.POST)
            usable = form.is_valid() and form.cleaned_data["set_usable_password"]
            if form.is_valid() and (usable or "unset-password" in request.POST):
                try:
                    person = services.person_set_password(
                        actor=request.user, person=person, password=form.cleaned_data["password1"] if usable else None
                    )
                except Forbidden as exc:
                    raise PermissionDenied(exc.message) from None
                if person.pk == request.user.pk:
                    update_session_auth_hash(request, person)
                messages.success(
                    request, "Password changed successfully." if usable else "Password-based authentication was disabled."
                )
                return HttpResponseRedirect(reverse("admin:skills_person_change", args=[person.pk]))
        return super().user_change_password(request, id, form_url)


def _values(values):
    return "; ".join(f"{key}: {value}" for key, value in sorted(values.items())) or "–"


@admin.register(PersonChange)
class PersonChangeAdmin(PolicyAdmin):
    """Who changed whose account, when, before and after: read-only."""

    view_action = Action.MANAGE_PEOPLE
    change_action = None
    list_display = ["at", "person", "actor_name", "kind"]
    list_filter = ["kind"]
    search_fields = ["person__username", "actor_name"]
    list_select_related = ["person"]
    readonly_fields = ["at", "person", "actor_name", "kind", "values_before", "values_after"]
    fields = readonly_fields

    @admin.display(description="Before")
    def values_before(self, change):
        return _values(change.before)

    @admin.display(description="After")
    def values_after(self, change):
        return _values(change.after)

    def has_view_permission(self, request, obj=None):
        return may_manage_people(request.user)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if is_superuser(request.user) else queryset.filter(person__is_superuser=False)


@admin.register(Team)
class TeamAdmin(PolicyAdmin):
    list_display = ["name", "slug", "email", "is_security"]
    prepopulated_fields = {"slug": ["name"]}

    def save_through_service(self, request, obj, values):
        return services.team_save(actor=request.user, team=obj, **values)


@admin.register(ApiToken)
class ApiTokenAdmin(PolicyAdmin):
    view_action = Action.SET_POLICY
    change_action = None

    list_display = ["hint", "person", "name", "scope", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "hint", "created_at", "last_used_at"]
    list_select_related = ["person"]
    actions = ["revoke"]

    @admin.action(description="Revoke")
    def revoke(self, request, queryset):
        from skills.services import token_revoke

        for token in queryset:
            token_revoke(token=token)
