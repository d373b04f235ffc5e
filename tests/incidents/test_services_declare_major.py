"""Declaring a major incident raises it to P1 and moves its clocks onto the 24x7
calendar, and says so on the timeline."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services
from incidents.models import Incident, TimelineEvent
from procedures.models import ProcedureVersion
from skills.errors import Forbidden
from tests.factories import CalendarFactory

pytestmark = pytest.mark.django_db
# Friday 27 November 2026, 16:00 in London (GMT: UTC+0).
FRIDAY_1600 = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


@pytest.fixture
def incident(world):
    office = CalendarFactory(
        slug="office-hours", name="Office hours", timezone="Europe/London", around_the_clock=False,
        working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    )  # fmt: skip
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.calendar = office
    version.save()
    with time_machine.travel(FRIDAY_1600, tick=False):
        incident = world.incident(impact=3, urgency=3)  # P5 with the test targets
    assert incident.priority == 5
    # Response 75 min of office time: 1 h on Friday, then Monday 09:15.
    assert incident.response_due_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    return incident


def test_declaring_raises_to_p1_on_the_24x7_calendar(world, incident):
    declared = FRIDAY_1600 + timedelta(minutes=10)
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Everyone", now=declared)
    incident.refresh_from_db()
    assert (incident.is_major, incident.priority, incident.priority_overridden) == (True, 1, True)
    assert incident.around_the_clock and incident.calendar.is_24x7
    # P1 targets (15 min / 1 h) counted around the clock from registration.
    assert incident.response_due_at == FRIDAY_1600 + timedelta(minutes=15)
    assert incident.resolve_due_at == FRIDAY_1600 + timedelta(hours=1)
    assert incident.next_timer_at <= incident.response_due_at
    event = TimelineEvent.objects.get(incident=incident, kind="declared_major")
    assert event.is_public
    assert event.data["priority"] == {"before": 5, "after": 1}
    assert event.data["calendar"] == {"before": "office-hours", "after": "24x7"}
    assert event.data["resolve_due_at"] == incident.resolve_due_at.isoformat()


def test_hold_on_a_major_incident_counts_around_the_clock(world, incident):
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Everyone", now=FRIDAY_1600)
    services.incident_start(actor=world.people[4], incident=incident, now=FRIDAY_1600)
    services.incident_hold(actor=world.people[4], incident=incident, reason="Supplier", now=FRIDAY_1600)
    # Saturday is not working time in the office, but a major incident's clock runs.
    services.incident_resume(actor=world.people[4], incident=incident, now=FRIDAY_1600 + timedelta(hours=20))
    incident.refresh_from_db()
    assert incident.held_seconds == 20 * 3600
    assert incident.resolve_due_at == FRIDAY_1600 + timedelta(hours=21)


def test_refused_below_level_5_and_nothing_changes(world, incident):
    before = Incident.objects.values().get(pk=incident.pk)
    with pytest.raises(Forbidden), time_machine.travel(FRIDAY_1600, tick=False):
        services.incident_declare_major(actor=world.people[4], incident=incident, reason="Everyone")
    assert Incident.objects.values().get(pk=incident.pk) == before
    assert not TimelineEvent.objects.filter(incident=incident, kind="declared_major").exists()
