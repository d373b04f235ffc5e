"""The services write the metric facts at each milestone (incidents.durations)."""

from datetime import UTC, datetime, timedelta

from incidents import services
from incidents.models import Incident

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_a_hand_over_to_another_team_is_a_team_change_and_an_escalation(world):
    incident = world.incident(now=T0)
    services.incident_start(actor=world.people[3], incident=incident, now=_at(5))
    services.incident_escalate(actor=world.people[3], incident=incident, reason="Theirs", team=world.apps, now=_at(10))
    row = Incident.objects.get(pk=incident.pk)
    assert (row.escalation_count, row.team_changes) == (1, 1)
    assert (row.ack_seconds, row.ack_working_seconds) == (300, 300)


def test_reallocating_a_new_incident_to_another_team_counts_as_a_team_change(world):
    incident = world.incident(now=T0)
    services.incident_assign(actor=world.people[1], incident=incident, team=world.desk, now=_at(1))
    assert Incident.objects.get(pk=incident.pk).team_changes == 1


def test_resolved_after_a_team_change_at_level_2_is_not_first_line(world):
    incident = world.incident(now=T0)
    services.incident_assign(actor=world.people[1], incident=incident, team=world.desk, now=_at(1))
    desk3 = world.person(3, world.desk)
    services.incident_start(actor=desk3, incident=incident, now=_at(2))
    services.incident_resolve(actor=desk3, incident=incident, resolution_code="x", resolution_notes="x", now=_at(62))
    row = Incident.objects.get(pk=incident.pk)
    assert (row.resolve_seconds, row.resolved_level, row.resolved_by_id) == (3720, 3, desk3.pk)
    assert row.resolved_first_line is False


def test_reopening_forgets_the_resolution_and_closing_records_its_wait(world):
    incident = world.incident(now=T0)
    services.incident_start(actor=world.people[3], incident=incident, now=_at(1))
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="x", resolution_notes="x", now=_at(30))
    services.incident_reopen(actor=world.people[4], incident=incident, reason="Back", now=_at(40))
    row = Incident.objects.get(pk=incident.pk)
    assert (row.reopen_count, row.resolve_seconds, row.resolved_level) == (1, None, None)
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="x", resolution_notes="x", now=_at(60))
    services.incident_close(actor=world.people[3], incident=incident, now=_at(120))
    row = Incident.objects.get(pk=incident.pk)
    assert (row.reopen_count, row.resolve_seconds, row.close_seconds) == (1, 3600, 3600)
