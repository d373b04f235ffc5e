from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.models import Status
from incidents.services import incident_hold, incident_resolve, incident_resume, incident_start

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_on_hold_moves_the_resolution_due_time_by_the_time_on_hold(world):
    engineer = world.people[3]
    with time_machine.travel(T0, tick=False):
        incident = world.incident()
        due = incident.resolve_due_at
        incident_start(actor=engineer, incident=incident)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        incident_hold(actor=engineer, incident=incident, reason="Waiting for the user")
    with time_machine.travel(T0 + timedelta(hours=2, minutes=30), tick=False):
        incident = incident_resume(actor=engineer, incident=incident)
    assert incident.status == Status.IN_PROGRESS
    assert incident.held_seconds == 2 * 3600
    assert incident.resolve_due_at == due + timedelta(hours=2)
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        incident_hold(actor=engineer, incident=incident, reason="Again")
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        incident = incident_resume(actor=engineer, incident=incident)
    assert incident.resolve_due_at == due + timedelta(hours=3)


def test_resolving_from_hold_counts_the_hold(world):
    engineer = world.people[3]
    with time_machine.travel(T0, tick=False):
        incident = world.incident()
        due = incident.resolve_due_at
        incident_start(actor=engineer, incident=incident)
        incident_hold(actor=engineer, incident=incident, reason="Parts")
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        incident = incident_resolve(actor=engineer, incident=incident, resolution_code="fixed", resolution_notes="ok")
    assert incident.resolve_due_at == due + timedelta(hours=1)
    assert incident.on_hold_since is None


def test_acknowledging_late_marks_the_response_breached(world):
    with time_machine.travel(T0, tick=False):
        incident = world.incident()
    with time_machine.travel(incident.response_due_at + timedelta(seconds=1), tick=False):
        incident = incident_start(actor=world.people[3], incident=incident)
    assert incident.response_breached and not incident.resolution_breached
