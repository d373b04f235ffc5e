from django.core.exceptions import ValidationError

from procedures.models import ProcedureVersion

NO_PUBLISHED_PROCEDURE = "Category {slug!r} has no published procedure, so it cannot take incidents."


def procedure_version_in_force(category):
    """The published version of the category's procedure, for a new incident."""
    version = (
        ProcedureVersion.objects.select_related("procedure", "team", "calendar")
        .filter(procedure_id=category.procedure_id, state=ProcedureVersion.State.PUBLISHED)
        .first()
    )
    if version is None:
        raise ValidationError({"category": [NO_PUBLISHED_PROCEDURE.format(slug=category.slug)]})
    return version
