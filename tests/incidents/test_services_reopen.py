"""Reopening gives the incident to the person who reopens it only as assign would (issue 7,
item 14): allowed to allocate to a person, active staff, in the incident's team."""

import pytest

from incidents import services
from incidents.models import Incident, Status, TimelineEvent

pytestmark = pytest.mark.django_db


def _resolved_unassigned(world):
    incident = world.incident()
    services.incident_assign(actor=world.people[2], incident=incident, assignee=world.people[2])
    services.incident_start(actor=world.people[2], incident=incident)
    services.incident_resolve(
        actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Rebooted"
    )
    Incident.objects.filter(pk=incident.pk).update(assignee=None)
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and incident.team == world.infra
    return incident


def test_a_member_of_its_team_who_reopens_it_takes_it(world):
    incident = services.incident_reopen(actor=world.people[4], incident=_resolved_unassigned(world), reason="Back")
    assert incident.status == Status.IN_PROGRESS and incident.assignee == world.people[4]
    event = TimelineEvent.objects.filter(incident=incident, kind="reopened").get()
    assert event.data["assignee"] == "l4"


def test_someone_outside_its_team_reopens_it_into_the_teams_queue(world):
    outsider = world.person(4, team=world.apps, username="l4-apps")
    incident = services.incident_reopen(actor=outsider, incident=_resolved_unassigned(world), reason="Back")
    incident.refresh_from_db()
    assert incident.assignee is None and incident.status == Status.NEW
    assert "assignee" not in TimelineEvent.objects.get(incident=incident, kind="reopened").data


def test_a_procedure_that_keeps_allocation_above_the_reopener_leaves_it_unassigned(world):
    incident = _resolved_unassigned(world)
    version = incident.procedure_version
    version.action_levels = {"allocate_person": 5}
    version.save()
    incident.refresh_from_db()
    incident = services.incident_reopen(actor=world.people[4], incident=incident, reason="Back")
    incident.refresh_from_db()
    assert incident.assignee is None and incident.status == Status.NEW


def test_its_assignee_keeps_it(world):
    incident = world.incident()
    services.incident_assign(actor=world.people[2], incident=incident, assignee=world.people[2])
    services.incident_start(actor=world.people[2], incident=incident)
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="x")
    outsider = world.person(4, team=world.apps, username="l4-apps")
    incident = services.incident_reopen(actor=outsider, incident=incident, reason="Back")
    assert incident.status == Status.IN_PROGRESS and incident.assignee == world.people[2]
