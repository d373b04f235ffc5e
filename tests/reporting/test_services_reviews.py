"""Reporting opens the review of every resolved major incident, from what the incidents
layer recorded, once however often it runs."""

from django.utils import timezone

from incidents import services
from incidents.models import TimelineEvent
from reporting.models import Review
from reporting.services import REVIEW_WITHIN, reviews_open_for_resolved_majors


def _resolved(world, *, major):
    incident = world.incident()
    if major:
        services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down for everyone")
    services.incident_start(actor=world.people[3], incident=incident)
    return services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Back")


def test_a_resolved_major_incident_gets_one_review_led_by_its_comms_lead(world):
    major = _resolved(world, major=True)
    _resolved(world, major=False)
    now = timezone.now()
    assert reviews_open_for_resolved_majors(now=now) == 1
    assert reviews_open_for_resolved_majors(now=now) == 0
    review = Review.objects.get()
    assert review.incident_id == major.pk
    assert review.lead == world.people[5]
    assert review.due_at == now + REVIEW_WITHIN
    # On the incident's timeline, once, as when a review is opened on demand.
    [opened] = TimelineEvent.objects.filter(kind=TimelineEvent.Kind.REVIEW_OPENED)
    assert (opened.incident_id, opened.data, opened.at, opened.actor) == (major.pk, {"review": review.pk}, now, None)


def test_an_open_major_incident_has_no_review_yet(world):
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Down")
    assert reviews_open_for_resolved_majors(now=timezone.now()) == 0
    assert not Review.objects.exists()
