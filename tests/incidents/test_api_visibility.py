"""Security incidents do not exist for anyone outside the security team and level 5;
reporters see only their own incidents."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def breach(world):
    return world.incident(category=world.security_category, title="Phishing wave", description="credential harvest")


def _seen(client, breach):
    detail = client.get(f"/api/v1/incidents/{breach.reference}/")
    listed = [i["reference"] for i in client.get("/api/v1/incidents/").json()["results"]]
    searched = [i["reference"] for i in client.get("/api/v1/incidents/", {"q": "phishing"}).json()["results"]]
    by_ref = [i["reference"] for i in client.get("/api/v1/incidents/", {"q": breach.reference}).json()["results"]]
    timeline = client.get(f"/api/v1/incidents/{breach.reference}/timeline/")
    return detail.status_code, breach.reference in listed, breach.reference in searched, breach.reference in by_ref, timeline.status_code


def test_security_incident_is_routed_and_flagged(breach):
    assert breach.is_security
    assert breach.team.slug == "security"


@pytest.mark.parametrize("who", ["level 4 outside security", "level 1", "reporter"])
def test_security_incident_does_not_exist_for_outsiders(world, api, breach, who):
    person = {"level 4 outside security": world.people[4], "level 1": world.people[1], "reporter": world.reporter}[who]
    assert _seen(api(person), breach) == (404, False, False, False, 404)
    # Acting on it is a 404 too, never a 403 that would give it away.
    assert api(person).post(f"/api/v1/incidents/{breach.reference}/start/").status_code == 404


@pytest.mark.parametrize("who", ["security team member", "level 5"])
def test_security_incident_visible_to_responders(world, api, breach, who):
    person = world.person(3, team=world.security) if who == "security team member" else world.people[5]
    assert _seen(api(person), breach) == (200, True, True, True, 200)


def test_reporter_sees_only_their_own(world, api):
    mine = world.incident(title="My laptop")
    theirs = world.incident(title="Their laptop", reporter=world.people[1])
    client = api(world.reporter)
    listed = [i["reference"] for i in client.get("/api/v1/incidents/").json()["results"]]
    assert listed == [mine.reference]
    assert client.get(f"/api/v1/incidents/{theirs.reference}/").status_code == 404
    assert client.get(f"/api/v1/incidents/{mine.reference}/").status_code == 200


def test_reporter_timeline_hides_internal_events(world, api):
    incident = world.incident()
    api(world.people[2]).post(f"/api/v1/incidents/{incident.reference}/notes/", {"body": "internal"}, format="json")
    api(world.people[2]).post(f"/api/v1/incidents/{incident.reference}/updates/", {"body": "public"}, format="json")
    kinds = [e["kind"] for e in api(world.reporter).get(f"/api/v1/incidents/{incident.reference}/timeline/").json()]
    assert "note" not in kinds and "routed" not in kinds
    assert "public_update" in kinds


def test_service_owner_sees_incidents_on_their_service(world, api):
    on_service = world.incident()
    elsewhere = world.incident(service=None)
    listed = [i["reference"] for i in api(world.owner).get("/api/v1/incidents/").json()["results"]]
    assert listed == [on_service.reference]
    assert api(world.owner).get(f"/api/v1/incidents/{elsewhere.reference}/").status_code == 404


def test_reporter_may_register_but_only_for_themselves(world, api):
    client = api(world.reporter)
    body = {"title": "VPN down", "category": "hardware", "impact": 2, "urgency": 2}
    created = client.post("/api/v1/incidents/", body, format="json")
    assert created.status_code == 201
    assert created.json()["reporter"] == world.reporter.username
    refused = client.post("/api/v1/incidents/", {**body, "reporter": world.people[1].username}, format="json")
    assert refused.status_code == 403
