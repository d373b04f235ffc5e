"""Alertmanager's webhook: one incident per fingerprint while open, repeats count,
resolved resolves what nobody took over, a new firing after closure links to the old."""

import pytest
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, Status, TimelineEvent
from procedures.models import LabelRule
from tests.incidents.inbound_helpers import bearer, fixture, group, integration

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/alertmanager/"


@pytest.fixture
def monitor(world):
    return integration()


@pytest.fixture
def client(monitor):
    return bearer(APIClient(), monitor)


def post(client, body):
    return client.post(URL, body, format="json")


def test_firing_registers_one_alert_incident(world, client, monitor):
    answer = post(client, fixture("firing"))
    assert answer.status_code == 202, answer.content
    [outcome] = answer.json()["alerts"]
    assert outcome["outcome"] == "created"
    incident = Incident.objects.get()
    assert outcome["reference"] == incident.reference
    assert incident.channel == "alert" and incident.reporter == monitor and incident.status == Status.NEW
    assert incident.title == "HighErrorRate: 5xx rate above 5% for 5m (web-1:9100)"
    assert "severity=critical" in incident.description
    # severity critical, no rules: impact and urgency high; unknown service: the default category
    assert (incident.impact, incident.urgency, incident.category, incident.service) == (1, 1, world.hardware, None)


def test_repeats_and_resends_count_on_the_same_incident(world, client):
    for _ in range(3):
        assert post(client, fixture("firing")).status_code == 202
    incident = Incident.objects.get()
    assert incident.repeat_count == 2
    assert incident.events.filter(kind=TimelineEvent.Kind.SOURCE_REPEATED).count() == 2


def test_resolved_resolves_an_incident_nobody_took_over(world, client):
    post(client, fixture("firing"))
    answer = post(client, fixture("resolved"))
    assert answer.status_code == 202
    assert answer.json()["alerts"][0]["outcome"] == "resolved"
    incident = Incident.objects.get()
    assert incident.status == Status.RESOLVED
    assert incident.resolution_code == services.AUTO_RESOLVED
    assert "resolved" in incident.resolution_notes


def test_resolved_only_notes_an_incident_a_person_took_over(world, client):
    post(client, fixture("firing"))
    incident = Incident.objects.get()
    services.incident_start(actor=world.people[2], incident=incident)
    answer = post(client, fixture("resolved"))
    assert answer.json()["alerts"][0]["outcome"] == "noted"
    incident.refresh_from_db()
    assert incident.status == Status.IN_PROGRESS
    assert incident.events.filter(kind=TimelineEvent.Kind.SOURCE_RESOLVED).count() == 1


def test_resolved_without_an_open_incident_changes_nothing(world, client):
    answer = post(client, fixture("resolved"))
    assert answer.status_code == 202
    assert answer.json()["alerts"][0] == {
        "fingerprint": "ac36b8d065d4a922", "status": "resolved", "outcome": "no_open_incident", "reference": None,
    }  # fmt: skip
    assert not Incident.objects.exists()


def test_a_new_firing_after_closure_opens_a_new_linked_incident(world, client):
    post(client, fixture("firing"))
    post(client, fixture("resolved"))
    first = Incident.objects.get()
    services.incident_close(actor=world.people[3], incident=first)
    answer = post(client, fixture("firing"))
    assert answer.json()["alerts"][0]["outcome"] == "created"
    second = Incident.objects.exclude(pk=first.pk).get()
    assert second.follows == first and second.status == Status.NEW


def test_label_rules_set_category_service_impact_and_urgency(world, client):
    from tests.factories import CategoryFactory, ServiceFactory

    checkout = ServiceFactory(slug="checkout")
    LabelRule.objects.create(slug="sev-warning", position=1, label="severity", value="critical", impact=2, urgency=1)
    LabelRule.objects.create(slug="any-service", position=2, label="service", value="*", category=world.hardware)
    LabelRule.objects.create(slug="team-web", position=3, label="team", value="web", service=world.service)
    CategoryFactory(slug="network", procedure=world.hardware.procedure)
    post(client, group(1, labels={"category": "network"}))
    incident = Incident.objects.get()
    # rules win over the category label; the service label names a service; severity by rule
    assert (incident.category, incident.service, incident.impact, incident.urgency) == (world.hardware, checkout, 2, 1)


def test_a_category_label_naming_a_category_is_used(world, client):
    from tests.factories import CategoryFactory

    network = CategoryFactory(slug="network", procedure=world.hardware.procedure)
    post(client, group(1, labels={"category": "network", "severity": "info"}))
    incident = Incident.objects.get()
    assert (incident.category, incident.impact, incident.urgency) == (network, 3, 3)


def test_a_group_of_many_alerts_registers_each_once(world, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(20 * 50):
        answer = post(client, group(50))
    assert answer.status_code == 202
    assert Incident.objects.count() == 50
    answer = post(client, group(50))
    assert {a["outcome"] for a in answer.json()["alerts"]} == {"repeated"}
    answer = post(client, group(50, status="resolved"))
    assert {a["outcome"] for a in answer.json()["alerts"]} == {"resolved"}
    assert Incident.objects.filter(status=Status.RESOLVED).count() == 50
