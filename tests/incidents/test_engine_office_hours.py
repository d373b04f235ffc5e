"""Escalation steps on an office-hours procedure: a step with no delay fires at its
anchor, even when the anchor falls at the end of the working day."""

from datetime import UTC, datetime

import pytest
import time_machine

from incidents.engine import sweep_timers
from incidents.models import EscalationStepRun, TimelineEvent
from procedures import escalation
from procedures.models import ProcedureVersion
from tests.factories import CalendarFactory

pytestmark = pytest.mark.django_db
# Friday 27 November 2026, 14:00 in London (GMT: UTC+0).
FRIDAY_1400 = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)


@pytest.fixture
def incident(world):
    office = CalendarFactory(
        slug="office-hours", timezone="Europe/London", around_the_clock=False,
        working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    )  # fmt: skip
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.calendar = office
    version.escalation = [{"anchor": "resolve_due", "after": 0, "action": "raise_level", "targets": {}}]
    version.save()
    # P3 with the test targets: resolution 3 h of office time, so due at 17:00 on Friday.
    with time_machine.travel(FRIDAY_1400, tick=False):
        return world.incident()


def test_the_target_is_at_the_end_of_the_working_day(incident):
    assert incident.resolve_due_at == datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


def test_a_step_with_no_delay_is_due_at_the_resolution_target(incident):
    step = escalation.steps(incident.escalation_policy)[0]
    anchors = {"created": incident.created_at, "resolve_due": incident.resolve_due_at}
    assert step.due_at(incident.procedure_version.calendar, anchors) == incident.resolve_due_at
    assert incident.next_timer_at <= incident.resolve_due_at


def test_it_fires_at_the_target_not_the_next_working_morning(incident):
    with time_machine.travel(datetime(2026, 11, 27, 16, 59, tzinfo=UTC), tick=False):
        sweep_timers()
    assert not EscalationStepRun.objects.filter(incident=incident).exists()
    with time_machine.travel(datetime(2026, 11, 27, 17, 0, 30, tzinfo=UTC), tick=False):
        sweep_timers()
    incident.refresh_from_db()
    assert incident.escalation_level == 1
    run = EscalationStepRun.objects.get(incident=incident)
    assert run.at < datetime(2026, 11, 28, tzinfo=UTC)  # Friday evening, not Monday 09:00
    assert TimelineEvent.objects.filter(incident=incident, kind="escalated").exists()
