from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from skills import services
from skills.models import ApiToken, Person, Team
from skills.policy import Action, can
from skills.policy_admin import PolicyAdmin


@admin.register(Person)
class PersonAdmin(UserAdmin):
    """People and their SFIA levels: level 5 (the process owner) and superusers."""

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or can(request.user, Action.MANAGE_CONFIGURATION)

    def has_add_permission(self, request):
        return request.user.is_superuser or can(request.user, Action.SET_POLICY)

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # deactivate instead: incidents keep who did what

    list_display = ["username", "email", "role", "sfia_level", "is_active"]
    list_filter = ["role", "sfia_level", "teams", "is_active"]
    fieldsets = UserAdmin.fieldsets + (("Service desk", {"fields": ["role", "sfia_level", "teams"]}),)
    filter_horizontal = ["teams", "groups", "user_permissions"]


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
