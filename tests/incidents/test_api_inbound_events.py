"""The generic events API: trigger, acknowledge, resolve by dedup key."""

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, Status, TimelineEvent
from tests.incidents.inbound_helpers import bearer, integration

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"


@pytest.fixture
def client(world):
    return bearer(APIClient(), integration())


def send(client, action, key="disk-full-db1", **fields):
    return client.post(URL, {"dedup_key": key, "action": action, **fields}, format="json")


def test_trigger_registers_and_answers_the_reference(world, client):
    answer = send(client, "trigger", summary="Disk full on db1", source="zabbix", severity="warning",
                  service="email", details={"host": "db1", "free": 0})  # fmt: skip
    assert answer.status_code == 202, answer.content
    incident = Incident.objects.get()
    assert answer.json() == {"outcome": "created", "reference": incident.reference}
    assert (incident.title, incident.channel, incident.service) == ("Disk full on db1", "alert", world.service)
    assert (incident.impact, incident.urgency) == (2, 2)
    assert '"host": "db1"' in incident.description


def test_repeats_count_and_resolve_resolves(world, client):
    send(client, "trigger", summary="Disk full")
    answer = send(client, "trigger", summary="Disk full")
    assert answer.json()["outcome"] == "repeated"
    assert Incident.objects.get().repeat_count == 1
    answer = send(client, "resolve", source="zabbix")
    assert answer.json()["outcome"] == "resolved"
    assert Incident.objects.get().status == Status.RESOLVED


def test_acknowledge_stops_the_response_clock_and_resolve_still_resolves(world, client):
    send(client, "trigger", summary="Disk full")
    answer = send(client, "acknowledge")
    assert answer.json()["outcome"] == "acknowledged"
    incident = Incident.objects.get()
    assert incident.acknowledged_at is not None
    assert incident.events.filter(kind=TimelineEvent.Kind.ACKNOWLEDGED).count() == 1
    send(client, "acknowledge")
    assert incident.events.filter(kind=TimelineEvent.Kind.ACKNOWLEDGED).count() == 1
    assert send(client, "resolve").json()["outcome"] == "resolved"


def test_resolve_leaves_an_incident_a_person_has(world, client):
    send(client, "trigger", summary="Disk full")
    incident = Incident.objects.get()
    services.incident_assign(actor=world.people[2], incident=incident, assignee=world.people[3])
    assert send(client, "resolve").json()["outcome"] == "noted"
    incident.refresh_from_db()
    assert incident.status == Status.ASSIGNED


def test_unknown_keys_answer_no_open_incident(world, client):
    for action in ("acknowledge", "resolve"):
        answer = send(client, action, key="never-seen")
        assert answer.status_code == 202
        assert answer.json() == {"outcome": "no_open_incident", "reference": None}
    assert not Incident.objects.exists()


def test_an_unknown_service_falls_back_to_none(world, client):
    send(client, "trigger", summary="Disk full", service="nope")
    assert Incident.objects.get().service is None


def test_keys_are_per_integration_account(world, client):
    send(client, "trigger", summary="Disk full")
    other = bearer(APIClient(), integration("grafana"))
    assert send(other, "trigger", summary="Disk full").json()["outcome"] == "created"
    assert send(other, "resolve").json()["outcome"] == "resolved"
    assert Incident.objects.filter(status=Status.NEW).count() == 1
