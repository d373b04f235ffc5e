"""Admin screens ask the same policy as everything else, and write through services."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction

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

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The form asks the service in its clean step (in a savepoint rolled back at once),
        so a refusal shows on the form beside the field, with the input kept, and nothing
        is saved or said to have been saved."""
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin_ = self

        class ServiceCheckedForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                if self.errors:
                    return
                values = {name: self.cleaned_data[name] for name in self.changed_data if name in self.cleaned_data}
                try:
                    with transaction.atomic():
                        admin_.save_through_service(request, obj, values)
                        raise _DryRun
                except _DryRun:
                    pass
                except ValidationError as exc:
                    self._add_service_errors(exc)
                except DomainError as exc:
                    self.add_error(None, exc.message)

            def _add_service_errors(self, exc):
                if not hasattr(exc, "error_dict"):
                    self.add_error(None, exc.messages)
                    return
                for field, messages_ in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, messages_)

        ServiceCheckedForm.__name__ = form_class.__name__
        return ServiceCheckedForm

    def save_model(self, request, obj, form, change):
        """Write through the service, with only the fields the form changed (the form's
        clean step already asked it, so a refusal here is a race: said, not hidden)."""
        values = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        try:
            row = self.save_through_service(request, obj if change else None, values)
        except (DomainError, ValidationError) as exc:
            messages.error(request, getattr(exc, "message", None) or "; ".join(exc.messages))
            return
        if row is not None and not change:
            obj.pk = row.pk  # the admin links to what was added

    def save_through_service(self, request, obj, values):
        """Call the service that writes `values` (`obj` None: a new row); return the row."""
        raise NotImplementedError


class _DryRun(Exception):
    """Rolls back the form's trial of the service."""
