"""Create answers from what the service wrote, not by reading it all back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db

BODY = {"title": "Mail is down", "description": "All of it", "category": "hardware", "service": "email",
        "impact": 1, "urgency": 2}  # fmt: skip


def _create(client):
    with CaptureQueriesContext(connection) as ctx:
        response = client.post("/api/v1/incidents/", BODY, format="json")
    assert response.status_code == 201, response.content
    return response.json(), [q["sql"] for q in ctx.captured_queries]


def test_create_answers_what_a_read_returns(world, api):
    client = api(world.people[3])
    created, _ = _create(client)
    read = client.get(f"/api/v1/incidents/{created['reference']}/").json()
    assert created == read


def test_create_answers_checklist_and_deadlines_as_a_read_does(world, api):
    version = world.hardware.procedure.versions.get()
    version.checklist = [{"title": "Check cabling", "mandatory": True}, {"title": "Tell the owner"}]
    version.deadlines = [{"name": "Regulator", "after": 3600}]
    version.save()
    client = api(world.people[3])
    created, _ = _create(client)
    assert [t["title"] for t in created["tasks"]] == ["Check cabling", "Tell the owner"]
    assert [d["name"] for d in created["deadlines"]] == ["Regulator"]
    assert created == client.get(f"/api/v1/incidents/{created['reference']}/").json()


def _rereads(statements):
    """SELECTs after the transaction that registered the incident."""
    released = max(n for n, sql in enumerate(statements) if sql.startswith("RELEASE SAVEPOINT"))
    return [sql for sql in statements[released + 1 :] if sql.startswith("SELECT")]


def test_create_reads_nothing_back(world, api):
    _, statements = _create(api(world.people[3]))
    assert _rereads(statements) == []


def test_create_with_a_checklist_reads_only_the_checklist_and_deadlines(world, api):
    version = world.hardware.procedure.versions.get()
    version.checklist = [{"title": "Check cabling"}]
    version.save()
    _, statements = _create(api(world.people[3]))
    tables = [sql.split(" FROM ")[1].split()[0] for sql in _rereads(statements)]
    assert tables == ['"incidents_incidenttask"', '"incidents_incidentdeadline"']
