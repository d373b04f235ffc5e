"""Bad input: a 4xx with a clear message, nothing changed, never a 500."""

import json

import pytest

from incidents.models import Incident, TimelineEvent

pytestmark = pytest.mark.django_db

VALID = {"title": "Printer on fire", "category": "hardware", "impact": 2, "urgency": 2}


def test_create_sets_routing_priority_procedure_and_due_times(world, api):
    response = api(world.people[1]).post("/api/v1/incidents/", {**VALID, "service": "email", "impact": 1, "urgency": 2}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["reference"].startswith("INC-") and len(body["reference"]) >= 10
    assert (body["team"], body["priority"], body["procedure"], body["status"]) == ("infrastructure", 2, "hardware", "new")
    assert body["response_due_at"] and body["resolve_due_at"]
    assert body["channel"] == "api"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "impact": "high"}, "impact"),
        ({**VALID, "urgency": 7}, "urgency"),
        ({**VALID, "category": "no-such"}, "category"),
        ({**VALID, "service": "no-such"}, "service"),
        ({**VALID, "reporter": "nobody"}, "reporter"),
        ({**VALID, "channel": "pigeon"}, "channel"),
        ({**VALID, "title": ""}, "title"),
        ({**VALID, "title": "x" * 201}, "title"),
        ({"category": "hardware", "impact": 2, "urgency": 2}, "title"),
        ({**VALID, "title": ["a list"]}, "title"),
    ],
)
def test_bad_create_is_400_naming_the_field(world, api, body, field):
    response = api(world.people[1]).post("/api/v1/incidents/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Incident.objects.count() == 0


def test_category_without_published_procedure_is_400(world, api):
    from tests.factories import CategoryFactory

    CategoryFactory(slug="orphan")
    response = api(world.people[1]).post("/api/v1/incidents/", {**VALID, "category": "orphan"}, format="json")
    assert response.status_code == 400
    assert "no published procedure" in response.json()["category"][0]


@pytest.mark.parametrize("payload", [b"{", b"[1, 2]", b'"a string"', b"\xff\xfe", b"null", b"1", b"true"])
def test_malformed_json_is_400(world, api, payload):
    response = api(world.people[1]).post("/api/v1/incidents/", payload, content_type="application/json")
    assert response.status_code == 400
    assert Incident.objects.count() == 0


def test_oversized_body_is_413(world, api, settings):
    body = json.dumps({**VALID, "description": "x" * (settings.MAX_JSON_BODY_BYTES + 10)})
    response = api(world.people[1]).post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 413
    assert Incident.objects.count() == 0


def test_other_content_types_are_415(world, api):
    response = api(world.people[1]).post("/api/v1/incidents/", "title=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_unknown_reference_is_404(world, api):
    client = api(world.people[5])
    assert client.get("/api/v1/incidents/INC-999999/").status_code == 404
    assert client.post("/api/v1/incidents/INC-999999/start/").status_code == 404
    assert client.get("/api/v1/incidents/nonsense/").status_code == 404


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("assign", {}, "non_field_errors"),
        ("assign", {"team": "nope"}, "team"),
        ("assign", {"assignee": "nobody"}, "assignee"),
        ("assign", {"assignee": "rita"}, "assignee"),  # a reporter is not staff
        ("assign", {"assignee": "l5"}, "assignee"),  # not in the incident's team
        ("hold", {}, "reason"),
        ("prioritise", {"priority": 9, "reason": "x"}, "priority"),
        ("escalate", {"reason": "x", "team": "infrastructure"}, "team"),
        ("resolve", {"resolution_code": "fixed"}, "resolution_notes"),
        ("notes", {"body": ""}, "body"),
    ],
)
def test_bad_action_bodies_are_400_and_change_nothing(world, api, action, body, field):
    incident = world.incident()
    boss = world.person(5, team=world.infra, username="boss")
    if action in ("hold", "resolve"):
        api(boss).post(f"/api/v1/incidents/{incident.reference}/start/")
    before = (Incident.objects.filter(pk=incident.pk).values().get(), TimelineEvent.objects.count())
    response = api(boss).post(f"/api/v1/incidents/{incident.reference}/{action}/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert (Incident.objects.filter(pk=incident.pk).values().get(), TimelineEvent.objects.count()) == before


def test_patch_rederives_priority_and_rejects_unknown_fields(world, api):
    incident = world.incident(impact=3, urgency=3)
    client = api(world.people[1])
    url = f"/api/v1/incidents/{incident.reference}/"
    bad = client.patch(url, {"status": "closed"}, format="json")
    assert bad.status_code == 400 and "status" in bad.json()
    old_due = client.get(url).json()["resolve_due_at"]
    response = client.patch(url, {"impact": 1, "urgency": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["priority"] == 1
    assert response.json()["resolve_due_at"] < old_due


def test_text_is_stored_as_given(world, api):
    title = "<script>alert('x')</script> & \"quotes\""
    response = api(world.people[1]).post("/api/v1/incidents/", {**VALID, "title": title}, format="json")
    assert response.json()["title"] == title
