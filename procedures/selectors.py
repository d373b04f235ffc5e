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


def priority_matrix():
    """The matrix in force as {(impact, urgency): priority}: the configured one, else ITIL's."""
    from procedures.models import PriorityMatrix
    from procedures.priority import DEFAULT_MATRIX

    row = PriorityMatrix.objects.order_by("-pk").values_list("matrix", flat=True).first()
    if row is None:
        return DEFAULT_MATRIX
    return {(int(i), int(u)): p for i, columns in row.items() for u, p in columns.items()}


def label_rules():
    """Every label rule in the order they are read, with what they set (one query)."""
    from procedures.models import LabelRule

    return list(LabelRule.objects.select_related("category", "service").order_by("position", "slug"))
