"""Every timer kind, travelling in time: SLA warnings and breaches, escalation steps,
major-incident update reminders and named deadlines. Each effect happens once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from incidents import fanout, services
from incidents.delivery import deliver_due
from incidents.engine import sweep_deadlines, sweep_timers
from incidents.models import EscalationStepRun, FanOut, Incident, OutboundMessage, TimelineEvent
from procedures.models import ProcedureVersion

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def sweep(minutes):
    """Sweep at a moment, then let a worker turn the sweep's notices into messages."""
    with time_machine.travel(at(minutes), tick=False):
        swept = sweep_timers(), sweep_deadlines()
        fanout.expand_due()
        return swept


def kinds(incident):
    return list(TimelineEvent.objects.filter(incident=incident).order_by("at", "id").values_list("kind", flat=True))


def mailed(incident, subject_part):
    return sorted(OutboundMessage.objects.filter(incident=incident, subject__contains=subject_part).values_list("to", flat=True))


@pytest.fixture
def version(world):
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.escalation = [
        {"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
        {"anchor": "resolve_due", "after": 0, "action": "raise_level", "targets": {}},
        {"anchor": "resolve_due", "after": 600, "action": "handover", "targets": {"team": "applications"}},
    ]
    version.save()
    return version


@pytest.fixture
def incident(world, version):
    # P3 with the test targets: response 45 min, resolution 3 h; warnings at 75 %.
    with time_machine.travel(T0, tick=False):
        return world.incident()


def test_response_warning_then_breach_then_escalation(world, incident):
    assert incident.next_timer_at == at(33.75)
    assert sweep(30) == (0, 0)
    sweep(34)
    incident.refresh_from_db()
    assert incident.response_warned and not incident.response_breached
    assert mailed(incident, "due soon") == ["colleague@example.com", "l1@example.com", "l2@example.com", "l3@example.com", "l4@example.com"]
    sweep(45)
    incident.refresh_from_db()
    assert incident.response_breached
    assert kinds(incident)[-3:] == ["warning", "breached", "escalated"]
    assert mailed(incident, "Escalation") == ["l4@example.com", "l5@example.com"]
    assert incident.next_timer_at == at(135)  # the resolution warning


def test_each_effect_happens_once_however_often_the_sweep_runs(world, incident):
    for _ in range(3):
        sweep(45)
        sweep(46)
    assert kinds(incident).count("breached") == 1
    assert EscalationStepRun.objects.filter(incident=incident).count() == 1
    assert OutboundMessage.objects.filter(incident=incident, subject__contains="Escalation").count() == 2


def test_resolution_breach_raises_the_level_then_hands_over(world, incident):
    sweep(180)
    incident.refresh_from_db()
    assert incident.resolution_breached and incident.escalation_level == 1
    assert incident.team.slug == "infrastructure"
    sweep(190)
    incident.refresh_from_db()
    assert incident.team.slug == "applications" and incident.next_timer_at is None
    steps = [e.data for e in TimelineEvent.objects.filter(incident=incident, kind="escalated").order_by("id")]
    assert [s["action"] for s in steps] == ["notify", "raise_level", "handover"]


def test_acknowledged_in_time_skips_the_response_step(world, incident):
    with time_machine.travel(at(10), tick=False):
        services.incident_acknowledge(actor=world.people[2], incident=incident)
    sweep(60)
    incident.refresh_from_db()
    assert not incident.response_breached and not incident.response_warned
    assert "escalated" not in kinds(incident)


def test_nothing_fires_on_hold_and_the_clock_moves_on(world, incident):
    with time_machine.travel(at(5), tick=False):
        services.incident_start(actor=world.people[3], incident=incident)
        services.incident_hold(actor=world.people[3], incident=incident, reason="parts")
    incident.refresh_from_db()
    assert incident.next_timer_at is None
    sweep(500)
    assert "breached" not in kinds(incident)
    with time_machine.travel(at(65), tick=False):
        incident = services.incident_resume(actor=world.people[3], incident=incident)
    assert incident.resolve_due_at == at(240) and incident.next_timer_at == at(195)


def test_resolved_incident_never_fires(world, incident):
    with time_machine.travel(at(5), tick=False):
        services.incident_start(actor=world.people[3], incident=incident)
        services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="f", resolution_notes="n")
    incident.refresh_from_db()
    assert incident.next_timer_at is None
    assert sweep(1000) == (0, 0)


def test_major_incident_update_cadence_reminds_the_comms_lead(world, incident):
    lead = world.people[5]
    with time_machine.travel(at(1), tick=False):
        incident = services.incident_declare_major(actor=lead, incident=incident, reason="All printers down")
    # Declaring raises it to P1: an update every 30 minutes.
    assert incident.comms_lead == lead and incident.next_update_due_at == at(31)
    with time_machine.travel(at(20), tick=False):
        services.incident_add_public_update(actor=world.people[2], incident=incident, body="Engineers on site")
    incident.refresh_from_db()
    assert incident.next_update_due_at == at(50)
    sweep(51)
    incident.refresh_from_db()
    assert "update_due" in kinds(incident)
    assert mailed(incident, "Stakeholder update due") == ["l5@example.com"]
    assert incident.next_update_due_at == at(81)


def test_comms_lead_must_be_level_5(world, incident):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.incident_declare_major(actor=world.people[5], incident=incident, reason="x", comms_lead=world.people[4])
    assert "comms_lead" in error.value.message_dict
    assert not Incident.objects.get(pk=incident.pk).is_major


def test_security_notification_deadline(world):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.deadlines = [{"name": "Notify the regulator (72 hours)", "after": 72 * 3600}]
    version.save()
    responder = world.person(3, team=world.security, username="csirt")
    with time_machine.travel(T0, tick=False):
        breach = world.incident(category=world.security_category)
    sweep(53 * 60)
    assert kinds(breach).count("warning") == 0
    sweep(54 * 60)
    assert TimelineEvent.objects.filter(incident=breach, kind="warning", data__deadline__startswith="Notify").count() == 1
    assert mailed(breach, "Deadline approaching") == ["csirt@example.com", "l5@example.com"]
    sweep(72 * 60)
    sweep(73 * 60)
    assert kinds(breach).count("deadline_missed") == 1
    assert "l4@example.com" not in mailed(breach, "Deadline missed")  # outside the response team
    assert responder.email in mailed(breach, "Deadline missed")


def test_met_deadline_is_not_reminded(world):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.deadlines = [{"name": "Regulator", "after": 3600}]
    version.save()
    with time_machine.travel(T0, tick=False):
        breach = world.incident(category=world.security_category)
    responder = world.person(3, team=world.security)
    with time_machine.travel(at(10), tick=False):
        services.incident_meet_deadline(actor=responder, incident=breach, deadline_id=breach.deadlines.get().pk)
    assert sweep(120)[1] == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_double_an_effect(world, version):
    import threading

    from django.db import connection

    with time_machine.travel(T0, tick=False):
        incidents = [world.incident(title=f"n{n}") for n in range(60)]
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait()
            with time_machine.travel(at(50), tick=False):
                sweep_timers(batch=7)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert TimelineEvent.objects.filter(kind="breached").count() == 60
    assert EscalationStepRun.objects.count() == 60
    assert FanOut.objects.filter(key__startswith="step:").count() == 60
    fanout.expand_due()
    assert OutboundMessage.objects.filter(subject__contains="Escalation").count() == 120
    assert Incident.objects.filter(pk__in=[i.pk for i in incidents], response_breached=True).count() == 60
    mail.outbox.clear()
    assert deliver_due() == 120


def test_a_sweep_writes_its_batch_with_one_update(world, version):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.engine import update_rows

    first, second = world.incident(), world.incident()
    first.escalation_level, first.team, first.next_timer_at, first.response_breached = 2, world.infra, None, True
    second.escalation_level, second.team, second.status = 1, None, "new"
    with CaptureQueriesContext(connection) as queries:
        update_rows([first, second], ["escalation_level", "next_timer_at", "response_breached", "status", "team"])
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.escalation_level, first.team_id, first.next_timer_at, first.response_breached) == (2, world.infra.pk, None, True)
    assert (second.escalation_level, second.team_id, second.status) == (1, None, "new")


def test_the_sweep_marks_the_breach_and_leaves_the_mail_to_a_worker(world, incident):
    with time_machine.travel(at(45), tick=False):
        assert sweep_timers() == 1
    incident.refresh_from_db()
    assert incident.response_breached
    escalated = TimelineEvent.objects.get(incident=incident, kind="escalated")
    assert escalated.at == at(45) and escalated.data["targets"] == ["l4@example.com", "l5@example.com"]
    # Nothing rendered, no message yet: one compact notice, pointing at the event it tells of.
    assert not OutboundMessage.objects.filter(incident=incident).exists()
    notice = FanOut.objects.get(incident=incident, key=f"step:{incident.pk}:0")
    assert notice.event == escalated and notice.expanded_at is None and notice.body == notice.html == ""
    assert notice.direct == [["l4@example.com", None], ["l5@example.com", None]]
    assert notice.facts["title"] == "Printer on fire"
    # Renamed and started before a worker gets to it: the mail still says what was true when
    # the sweep decided, and was queued then; it is due from the moment it was written.
    with time_machine.travel(at(46), tick=False):
        services.incident_update(actor=world.people[3], incident=incident, title="Printer melted")
        services.incident_start(actor=world.people[3], incident=Incident.objects.get(pk=incident.pk))
        assert fanout.expand_due() == 2
    assert Incident.objects.get(pk=incident.pk).status == "in_progress"
    messages = OutboundMessage.objects.filter(fanout=notice).order_by("to")
    assert [m.to for m in messages] == ["l4@example.com", "l5@example.com"]
    for message in messages:
        assert message.subject == f"[{incident.reference}] Escalation (the response target): Printer on fire"
        assert "Printer melted" not in message.body and "Status: New" in message.body
        assert "Printer on fire" in message.html and "Step 1 of the escalation policy" in message.body
        assert (message.created_at, message.next_attempt_at) == (at(45), at(46))
    notice.refresh_from_db()
    assert notice.expanded_at == at(46)


def test_a_sweep_costs_the_same_statements_for_3_or_30_incidents(world, version, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def due(count):
        with time_machine.travel(T0, tick=False):
            created = [world.incident(title=f"n{n}") for n in range(count)]
        with CaptureQueriesContext(connection) as queries, time_machine.travel(at(50), tick=False):
            assert sweep_timers() == count
        assert Incident.objects.filter(pk__in=[i.pk for i in created], response_breached=True).count() == count
        return [q["sql"] for q in queries]

    few, many = due(3), due(30)
    assert len(many) == len(few) <= 17
    assert not any("incidents_outboundmessage" in statement for statement in many)  # no message in the sweep
    assert FanOut.objects.filter(key__startswith="step:").count() == 33
