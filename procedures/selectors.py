from django.core.exceptions import ValidationError

from procedures import config_cache

NO_PUBLISHED_PROCEDURE = "Category {slug!r} has no published procedure, so it cannot take incidents."


def procedure_version_in_force(category):
    """The published version of the category's procedure, for a new incident."""
    version = config_cache.published_version(category.procedure_id)
    if version is None:
        raise ValidationError({"category": [NO_PUBLISHED_PROCEDURE.format(slug=category.slug)]})
    return version


def priority_matrix():
    """The matrix in force as {(impact, urgency): priority}: the configured one, else ITIL's."""
    from procedures.priority import DEFAULT_MATRIX

    matrix = config_cache.priority_matrix()
    return DEFAULT_MATRIX if matrix is None else matrix


def label_rules():
    """Every label rule in the order they are read, with what they set (one query)."""
    from procedures.models import LabelRule

    return list(LabelRule.objects.select_related("category", "service").order_by("position", "slug"))
