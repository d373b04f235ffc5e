"""The one way configuration rows are written (categories, services, teams, calendars,
subscriptions, webhooks): the services ask the policy, then call `config_save`."""

from django.db import transaction


@transaction.atomic
def config_save(model, *, instance=None, values, defaults=None, check=None):
    """Create (`instance` None, from `defaults`) or change one row: lock it, let `check`
    look at it as it stands (and refuse), set `values`, validate the whole row
    (ValidationError names the field), save it, return it."""
    if instance is None:
        row = model(**(defaults or {}))
    else:
        row = model.objects.select_for_update().get(pk=instance.pk)
    if check is not None:
        check(row)
    for field, value in values.items():
        setattr(row, field, value)
    row.full_clean()
    row.save()
    return row
