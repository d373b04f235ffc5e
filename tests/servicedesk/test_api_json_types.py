"""A JSON body's types are JSON's own (what the OpenAPI schema promises is what the API
accepts): DRF's form leniency (0 for false, 3 for "3", "" for null) is a 400 naming the
field, and values PostgreSQL cannot take (a NUL character, an offset past 15:59) are 400s,
never 500s. Found by schemathesis (tests/servicedesk/test_openapi_fuzz.py)."""

import pytest

from incidents.models import Incident, Status, TimelineEvent
from procedures.models import Service
from skills.api_fields import BLANK_REFERENCE
from skills.models import Team

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "body", "field", "message"),
    [
        ("/api/v1/teams/", {"slug": "net", "name": "Network", "is_security": 0}, "is_security", "Must be true or false."),
        ("/api/v1/teams/", {"slug": "net", "name": 7}, "name", "Must be a string."),
        ("/api/v1/services/", {"slug": "wiki", "name": "Wiki", "owner": ""}, "owner", BLANK_REFERENCE),
        ("/api/v1/services/", {"slug": "wiki", "name": "Wiki", "is_public": "yes"}, "is_public", "Must be true or false."),
        ("/api/v1/incidents/", {"title": "x", "category": "hardware", "impact": "2", "urgency": 2}, "impact", "Must be a whole number."),
        ("/api/v1/incidents/", {"title": "x", "category": 0, "impact": 2, "urgency": 2}, "category", "Must be a string."),
    ],
)
def test_wrong_json_types_are_400_naming_the_field(world, api, url, body, field, message):
    teams, services, incidents = Team.objects.count(), Service.objects.count(), Incident.objects.count()
    response = api(world.people[5]).post(url, body, format="json")
    assert response.status_code == 400
    assert response.json() == {field: [message]}
    assert (Team.objects.count(), Service.objects.count(), Incident.objects.count()) == (teams, services, incidents)


@pytest.mark.parametrize("body", [{"reason": 0}, {"reason": ["a list"]}, {"reason": True}])
def test_an_action_body_of_the_wrong_type_is_400_and_changes_nothing(world, api, body):
    incident = world.incident()
    events = TimelineEvent.objects.count()
    response = api(world.people[5]).post(f"/api/v1/incidents/{incident.reference}/cancel/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"reason": ["Must be a string."]}
    incident.refresh_from_db()
    assert incident.status == Status.NEW
    assert TimelineEvent.objects.count() == events


def test_json_null_still_means_none_where_it_is_allowed(world, api):
    response = api(world.people[5]).post("/api/v1/services/", {"slug": "wiki", "name": "Wiki", "owner": None}, format="json")
    assert response.status_code == 201
    assert response.json()["owner"] is None


@pytest.mark.parametrize("value", ["null", "yes", "1", "maybe"])
def test_a_boolean_filter_takes_only_true_or_false(world, api, value):
    response = api(world.people[3]).get("/api/v1/incidents/", {"warning": value})
    assert response.status_code == 400
    assert response.json() == {"warning": ["Must be true or false."]}


def test_an_empty_filter_is_no_filter(world, api):
    world.incident()
    response = api(world.people[3]).get("/api/v1/incidents/", {"warning": "", "resolved_before": "", "team": ""})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_times_with_any_iso_offset_are_compared_in_utc(world, api):
    world.incident()
    client = api(world.people[3])
    response = client.get("/api/v1/incidents/", {"created_after": "0502-06-22T22:50:45.17+20:49"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1
    assert client.get("/api/v1/incidents/", {"created_after": "0001-01-01T00:00:00+23:00"}).status_code == 400


def test_a_nul_character_in_the_address_is_a_json_400(world, api):
    client = api(world.people[5])
    for url, params in [("/api/v1/incidents/", {"assignee": "a\x00b"}), ("/api/v1/categories/a\x00b/", {})]:
        response = client.get(url, params)
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert "NUL" in response.json()["detail"]


def test_a_nul_character_in_a_page_address_is_a_400_page(world, client):
    client.force_login(world.people[1])
    response = client.get("/", {"q": "a\x00b"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("body", ['{"assignee": "l2\\u0000"}', '{"team": "infrastructure", "\\u0000": 1}'])
def test_a_nul_character_in_a_json_string_is_400(world, api, body):
    incident = world.incident()
    response = api(world.people[5]).post(f"/api/v1/incidents/{incident.reference}/assign/", body, content_type="application/json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    incident.refresh_from_db()
    assert incident.assignee is None


def test_an_unknown_metrics_format_is_400_not_404(world, api):
    response = api(world.people[5]).get("/api/v1/metrics/", {"from": "2026-03-01", "to": "2026-03-31", "format": "xml"})
    assert response.status_code == 400
    assert response.json() == {"format": ["Must be json or csv."]}
