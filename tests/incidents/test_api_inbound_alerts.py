"""Alertmanager's webhook: one incident per fingerprint while open, repeats count,
resolved resolves what nobody took over, a new firing after closure links to the old."""

import threading

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from incidents import services
from incidents.inbound import alerts
from incidents.models import InboundAlert, Incident, Status, TimelineEvent
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


class Delivered:
    """A webhook call, then a worker's run: the answer and the alerts' outcomes."""

    def __init__(self, answer):
        self.status_code = answer.status_code
        self.answer = answer.json()
        last = InboundAlert.objects.order_by("-id").values_list("id", flat=True).first() or 0
        alerts.apply_pending()
        rows = InboundAlert.objects.filter(id__gt=last - len(self.answer.get("alerts", []))).order_by("id")
        self.outcomes = [
            {"fingerprint": r.payload["fingerprint"], "status": r.status, "outcome": r.outcome,
             "reference": r.incident.reference if r.incident else None}
            for r in rows.select_related("incident")
        ]  # fmt: skip

    def json(self):
        return {"alerts": self.outcomes}


def post(client, body):
    return Delivered(client.post(URL, body, format="json"))


def test_firing_registers_one_alert_incident(world, client, monitor):
    answer = post(client, fixture("firing"))
    assert answer.status_code == 202
    assert answer.answer == {"accepted": 1, "alerts": [{"fingerprint": "ac36b8d065d4a922", "status": "firing"}]}
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


def test_the_webhook_answers_after_a_few_queries_however_large_the_group(world, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        answer = client.post(URL, group(100), format="json")
    assert answer.status_code == 202 and answer.json()["accepted"] == 100
    assert InboundAlert.objects.filter(state="pending").count() == 100
    assert not Incident.objects.exists()


def test_a_group_of_many_alerts_registers_each_once(world, client):
    answer = post(client, group(50))
    assert answer.status_code == 202
    assert Incident.objects.count() == 50
    answer = post(client, group(50))
    assert {a["outcome"] for a in answer.json()["alerts"]} == {"repeated"}
    answer = post(client, group(50, status="resolved"))
    assert {a["outcome"] for a in answer.json()["alerts"]} == {"resolved"}
    assert Incident.objects.filter(status=Status.RESOLVED).count() == 50


def test_alerts_of_one_key_apply_in_arrival_order(world, client):
    client.post(URL, fixture("firing"), format="json")
    client.post(URL, fixture("resolved"), format="json")
    client.post(URL, fixture("firing"), format="json")
    assert alerts.apply_pending(limit=1) == 3
    first, second = Incident.objects.order_by("id")
    assert first.status == Status.RESOLVED and second.status == Status.NEW and second.follows == first


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_skips_a_key_whose_older_alert_is_being_applied(world, client):
    client.post(URL, fixture("firing"), format="json")
    client.post(URL, fixture("resolved"), format="json")
    client.post(URL, group(1), format="json")
    older, newer, other = InboundAlert.objects.order_by("id")
    held, release = threading.Event(), threading.Event()

    def other_worker():  # claims the oldest alert and holds it
        try:
            with transaction.atomic():
                assert [row.pk for row in alerts._claim(1)] == [older.pk]
                held.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(timeout=10)
        with transaction.atomic():
            claimed = alerts._claim(10)
    finally:
        release.set()
        thread.join(timeout=10)
    # neither the held alert nor the resolution behind it (it would apply before its firing)
    assert [row.pk for row in claimed] == [other.pk]


def test_an_alert_that_cannot_be_applied_is_marked_failed_and_the_rest_go_on(world, client, settings):
    client.post(URL, group(2), format="json")
    settings.INBOUND_DEFAULT_CATEGORY = "nope"
    client.post(URL, group(1, prefix="other"), format="json")
    LabelRule.objects.create(slug="fp", label="instance", value="web-0:9100", category=world.hardware)
    alerts.apply_pending()
    # the rule gives web-0 a category; web-1 has none and the default is gone
    failed = InboundAlert.objects.filter(state="failed")
    assert [row.payload["labels"]["instance"] for row in failed] == ["web-1:9100"]
    assert "INBOUND_DEFAULT_CATEGORY" in failed.get().error
    assert Incident.objects.count() == 2
