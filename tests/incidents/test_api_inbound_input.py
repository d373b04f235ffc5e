"""Bad alert and event bodies: a clear 4xx naming the field, nothing created; only
integration accounts may send (401 without a token, 403 for people of any level)."""

import pytest
from rest_framework.test import APIClient

from incidents.inbound import alerts
from incidents.models import InboundAlert, Incident
from tests.incidents.inbound_helpers import bearer, fixture, group, integration

pytestmark = pytest.mark.django_db
URL = "/api/v1/integrations/alertmanager/"
EVENTS = "/api/v1/events/"


@pytest.fixture
def client(world):
    return bearer(APIClient(), integration())


def _with(body, **changes):
    return {**body, **changes}


def _alert(**changes):
    body = fixture("firing")
    body["alerts"][0] = {**body["alerts"][0], **changes}
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "non_field_errors"),
        (_with(fixture("firing"), alerts=[]), "alerts"),
        (_with(fixture("firing"), alerts="x"), "alerts"),
        (_with(fixture("firing"), version="3"), "version"),
        (_with(fixture("firing"), status="burning"), "status"),
        (_with(fixture("firing"), surprise=1), "surprise"),
        (_alert(surprise=1), "alerts[0].surprise"),
        (_alert(fingerprint=""), "alerts[0].fingerprint"),
        (_alert(fingerprint="x" * 65), "alerts[0].fingerprint"),
        (_alert(labels={"a": 1}), "alerts[0].labels"),
        (_alert(labels=None), "alerts[0].labels"),
        (_alert(startsAt="yesterday"), "alerts[0].startsAt"),
        (_alert(status="maybe"), "alerts[0].status"),
    ],
)
def test_malformed_alert_bodies_are_400_and_create_nothing(client, body, field):
    answer = client.post(URL, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not InboundAlert.objects.exists()


def test_a_bad_alert_late_in_a_group_creates_nothing_from_the_group(client):
    body = group(5)
    body["alerts"][4]["labels"] = {"alertname": 3}
    assert client.post(URL, body, format="json").status_code == 400
    assert not InboundAlert.objects.exists()


def test_too_many_alerts_in_one_call(client, settings):
    settings.INBOUND_MAX_ALERTS = 3
    answer = client.post(URL, group(4), format="json")
    assert answer.status_code == 400 and "alerts" in answer.json()


def test_malformed_json_is_400(client):
    answer = client.post(URL, "{not json", content_type="application/json")
    assert answer.status_code == 400
    assert not Incident.objects.exists()


def test_a_missing_default_category_is_a_clear_400_for_an_event(client, settings):
    settings.INBOUND_DEFAULT_CATEGORY = "nope"
    answer = client.post(EVENTS, {"dedup_key": "k", "action": "trigger", "summary": "x"}, format="json")
    assert answer.status_code == 400
    assert "INBOUND_DEFAULT_CATEGORY" in answer.json()["category"][0]
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "trigger", "summary": "x"}, "dedup_key"),
        ({"dedup_key": "k", "action": "explode", "summary": "x"}, "action"),
        ({"dedup_key": "k", "action": "trigger"}, "summary"),
        ({"dedup_key": "k", "action": "trigger", "summary": "x", "colour": "red"}, "colour"),
        ({"dedup_key": "k", "action": "trigger", "summary": "x", "details": [1]}, "details"),
        ({"dedup_key": "k" * 201, "action": "trigger", "summary": "x"}, "dedup_key"),
    ],
)
def test_malformed_events_are_400_and_create_nothing(client, body, field):
    answer = client.post(EVENTS, body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize("url", [URL, EVENTS])
def test_without_a_token_is_401(world, url):
    answer = APIClient().post(url, fixture("firing"), format="json")
    assert answer.status_code == 401


@pytest.mark.parametrize("url", [URL, EVENTS])
def test_people_of_any_level_are_refused(world, url):
    for person in [world.reporter, world.people[1], world.people[5]]:
        answer = bearer(APIClient(), person).post(url, fixture("firing"), format="json")
        assert answer.status_code == 403
        assert "ingest" in answer.json()["detail"]
    assert not Incident.objects.exists() and not InboundAlert.objects.exists()


def test_a_read_only_integration_token_is_refused(world):
    from skills.services import token_issue

    _, raw = token_issue(person=integration(), scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.post(URL, fixture("firing"), format="json").status_code == 403
    alerts.apply_pending()
    assert not Incident.objects.exists() and not InboundAlert.objects.exists()
