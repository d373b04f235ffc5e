"""Admin screens ask the same policy as everything else, and write through services."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from skills.errors import DomainError
from skills.policy import Action, can


class PolicyAdmin(admin.ModelAdmin):
    """Who may see and change a model in the admin, from `skills.policy.can`."""

    view_action = Action.VIEW_CONFIGURATION
    change_action = Action.MANAGE_CONFIGURATION

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        return can(request.user, self.view_action)

    def has_add_permission(self, request):
        return self.change_action is not None and can(request.user, self.change_action)

    def has_change_permission(self, request, obj=None):
        return self.change_action is not None and can(request.user, self.change_action)

    def has_delete_permission(self, request, obj=None):
        return False  # history is kept: nothing here is deleted

    def save_model(self, request, obj, form, change):
        """Write through the service, with only the fields the form changed."""
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        try:
            self.save_through_service(request, obj if change else None, values)
        except (DomainError, ValidationError) as exc:
            messages.error(request, getattr(exc, "message", None) or "; ".join(exc.messages))

    def save_through_service(self, request, obj, values):
        raise NotImplementedError
