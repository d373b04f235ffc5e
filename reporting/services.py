from datetime import timedelta

from reporting.models import Review

REVIEW_WITHIN = timedelta(days=5)


def review_open(*, incident, now):
    """Open the mandatory review of a major incident (once, however often it is resolved)."""
    review, _ = Review.objects.get_or_create(
        incident=incident,
        defaults={"lead": incident.comms_lead, "opened_at": now, "due_at": now + REVIEW_WITHIN},
    )
    return review
