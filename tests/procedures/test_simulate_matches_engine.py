"""The dry run predicts exactly what the engine then sends: the same procedure, the same
sample at the same moment, left alone; the dry run's messages (when, to whom, about what)
against the engine's outbox after sweeping each due moment."""

from datetime import UTC, datetime

import pytest
import time_machine

from incidents import fanout, services
from incidents.engine import sweep_deadlines, sweep_timers
from incidents.models import OutboundMessage
from procedures.models import Calendar, Procedure, ProcedureVersion
from procedures.simulate import procedure_simulate

pytestmark = pytest.mark.django_db
FRIDAY_1555 = datetime(2026, 11, 27, 15, 55, tzinfo=UTC)


@pytest.fixture(params=["24x7", "office-hours"])
def procedure(world, request):
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    if request.param == "office-hours":
        version.calendar = Calendar.objects.create(
            slug="office-hours", name="Office hours", timezone="Europe/London",
            working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        )  # fmt: skip
    world.person(2, team=world.apps, username="appdev")
    version.escalation = [
        {"anchor": "created", "after": 600, "action": "notify", "targets": {"team": "infrastructure"}},
        {"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
        {"anchor": "response_due", "after": 300, "action": "raise_level", "targets": {}},
        {"anchor": "resolve_due", "after": 0, "action": "handover", "targets": {"team": "applications"}},
        {"anchor": "resolve_due", "after": 1800, "action": "notify", "targets": {"person": "l5", "team": "applications"}},
    ]
    version.deadlines = [{"name": "Tell the customer", "after": 5 * 3600}]
    version.save()
    return Procedure.objects.get(slug="hardware")


def test_the_engine_sends_what_the_dry_run_predicted(world, procedure):
    sample = {"title": "Printer on fire", "description": "Smoke", "impact": 2, "urgency": 2, "category": world.hardware}
    predicted = procedure_simulate(actor=world.people[4], procedure=procedure, sample=sample, at=FRIDAY_1555)
    expected = sorted((m["at"], m["to"], m["subject"]) for m in predicted["messages"])
    assert {s for _, _, s in expected} >= {
        "Escalation (on arrival): Printer on fire",
        "Escalation (the response target): Printer on fire",
        "Handed to Applications: Printer on fire",
        "Escalation (the resolution target): Printer on fire",
        "Response target due soon: Printer on fire",
        "Deadline approaching: Tell the customer",
        "Deadline missed: Tell the customer",
    }

    with time_machine.travel(FRIDAY_1555, tick=False):
        incident = services.incident_register(actor=world.people[1], reporter=world.reporter, **sample)
    for moment in sorted({at for at, _, _ in expected}):
        sweep_timers(moment)
        sweep_deadlines(moment)
    fanout.expand_due()  # the sweeps' notices become messages, each queued when its sweep decided

    prefix = f"[{incident.reference}] "
    sent = sorted(
        (m.created_at, m.to, m.subject.removeprefix(prefix))
        for m in OutboundMessage.objects.filter(incident=incident)
    )
    assert sent == expected
    assert [e["action"] for e in predicted["escalation"]] == ["notify", "notify", "raise_level", "handover", "notify"]
