from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from skills.models import ApiToken, Person, Team


@admin.register(Person)
class PersonAdmin(UserAdmin):
    list_display = ["username", "email", "role", "sfia_level", "is_active"]
    list_filter = ["role", "sfia_level", "teams", "is_active"]
    fieldsets = UserAdmin.fieldsets + (("Service desk", {"fields": ["role", "sfia_level", "teams"]}),)
    filter_horizontal = ["teams", "groups", "user_permissions"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "email", "is_security"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["hint", "person", "name", "scope", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["key_hash", "hint", "created_at", "last_used_at"]
    list_select_related = ["person"]

    def has_add_permission(self, request):
        return False  # tokens are issued with `manage.py issue_token` or the UI, shown once
