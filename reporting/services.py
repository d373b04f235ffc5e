from datetime import timedelta

from django.db import transaction

from incidents.models import Incident
from reporting.models import Review

REVIEW_WITHIN = timedelta(days=5)
BATCH = 200


def review_open(*, incident, now):
    """Open the review of an incident (once, however often it is resolved)."""
    review, _ = Review.objects.get_or_create(
        incident=incident,
        defaults={"lead": incident.comms_lead, "opened_at": now, "due_at": now + REVIEW_WITHIN},
    )
    return review


def reviews_open_for_resolved_majors(*, now, batch=BATCH):
    """Every resolved major incident gets its mandatory review. Reporting reads what the
    incidents layer recorded (a major incident with a resolution time) rather than being
    called by it; the unique incident key makes this safe to run from any number of
    workers. Returns how many were opened."""
    with transaction.atomic():
        due = list(
            Incident.objects.filter(is_major=True, resolved_at__isnull=False, review__isnull=True)
            .only("pk", "comms_lead_id", "resolved_at")
            .order_by("resolved_at")[:batch]
        )
        created = Review.objects.bulk_create(
            [
                Review(incident=i, lead_id=i.comms_lead_id, opened_at=now, due_at=now + REVIEW_WITHIN)
                for i in due
            ],
            ignore_conflicts=True,
        )
    return len(created)
