"""Bulk actions from the queue: each incident through its own service and policy, one
transaction each, and a report per reference of what was done and what was refused."""

import pytest

from incidents.models import Incident, Status
from tests.incidents.helpers import force_state, login, snapshot

pytestmark = pytest.mark.django_db

BULK = "/queue/bulk/"


def _messages(response):
    return [str(m) for m in response.wsgi_request._messages]


def test_bulk_assign_to_a_person(world, client):
    a, b = world.incident(title="A"), world.incident(title="B")
    agent = world.people[2]
    login(client, agent)
    response = client.post(BULK, {
        "incidents": [a.reference, b.reference], "action": "assign", "assignee": world.people[3].username,
        "next": "/?sort=due",
    })  # fmt: skip
    assert response.status_code == 302 and response.url == "/?sort=due"
    for incident in (a, b):
        incident.refresh_from_db()
        assert incident.assignee == world.people[3] and incident.status == Status.ASSIGNED
        assert incident.events.filter(kind="assigned", actor=agent).count() == 1
    assert any(a.reference in m and b.reference in m and "done" in m for m in _messages(response))


def test_bulk_reports_each_refusal_and_changes_nothing_there(world, client):
    ready = force_state(world.incident(title="Ready"), Status.IN_PROGRESS, world.people[3])
    new = world.incident(title="New")
    secret = world.incident(title="Secret", category=world.security_category)
    before_new, before_secret = snapshot(new), snapshot(secret)
    login(client, world.people[3])
    response = client.post(BULK, {
        "incidents": [ready.reference, new.reference, secret.reference], "action": "resolve",
        "resolution_code": "fixed", "resolution_notes": "Rebooted",
    }, follow=True)  # fmt: skip
    assert response.status_code == 200
    ready.refresh_from_db()
    assert ready.status == Status.RESOLVED
    assert snapshot(new) == before_new and snapshot(secret) == before_secret
    body = response.content.decode()
    assert f"{new.reference} refused: Cannot resolve an incident that is new." in body
    assert f"{secret.reference} refused: No such incident, or not one you may see." in body
    assert "Secret" not in body


def test_bulk_refuses_below_the_level_per_incident(world, client):
    incidents = [force_state(world.incident(title=f"I{n}"), Status.IN_PROGRESS, world.people[2]) for n in range(2)]
    before = [snapshot(i) for i in incidents]
    login(client, world.people[2])  # level 2 may not prioritise
    response = client.post(BULK, {
        "incidents": [i.reference for i in incidents], "action": "prioritise", "priority": "1", "reason": "Loud",
    }, follow=True)  # fmt: skip
    body = response.content.decode()
    assert [snapshot(i) for i in incidents] == before
    assert all(f"{i.reference} refused:" in body for i in incidents)
    assert "prioritise" in body.lower()


def test_bulk_close_through_the_same_service(world, client):
    done = force_state(world.incident(title="Done"), Status.RESOLVED, world.people[3])
    open_one = world.incident(title="Open")
    login(client, world.people[3])
    response = client.post(BULK, {"incidents": [done.reference, open_one.reference], "action": "close"}, follow=True)
    done.refresh_from_db()
    assert done.status == Status.CLOSED
    assert f"{open_one.reference} refused:" in response.content.decode()


@pytest.mark.parametrize(("body", "message"), [
    ({"action": "close"}, "Select at least one incident."),
    ({"incidents": ["INC-1"], "action": "close"}, "Not an incident reference: INC-1."),
    ({"incidents": ["INC-000001"], "action": "explode"}, "Select a valid choice."),
    ({"incidents": ["INC-000001"], "action": "prioritise", "priority": "9", "reason": "x"}, "Select a valid choice."),
    ({"incidents": ["INC-000001"], "action": "resolve", "resolution_notes": "x"}, "This field is required."),
    ({"incidents": [f"INC-{n:06d}" for n in range(1, 102)], "action": "close"}, "at most 100"),
])  # fmt: skip
def test_bad_bulk_input_is_named_and_changes_nothing(world, client, body, message):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    before = snapshot(incident)
    login(client, world.people[3])
    response = client.post(BULK, body)
    assert response.status_code == 302
    assert any(message in m for m in _messages(response)), _messages(response)
    assert snapshot(incident) == before


def test_bulk_needs_a_login_and_a_post(world, client):
    assert client.post(BULK, {"incidents": ["INC-000001"], "action": "close"}).url.startswith("/login/")
    login(client, world.people[3])
    assert client.get(BULK).status_code == 405


def test_bulk_is_offered_to_staff_only(world, client):
    incident = world.incident()
    body = login(client, world.people[1]).get("/").content.decode()
    assert f'name="incidents" value="{incident.reference}"' in body and 'id="bulk"' in body
    body = login(client, world.reporter).get("/").content.decode()
    assert 'id="bulk"' not in body and 'name="incidents"' not in body
    # A reporter posting anyway is refused per incident, and nothing changes.
    before = snapshot(incident)
    response = client.post(BULK, {"incidents": [incident.reference], "action": "assign", "team": "applications"})
    assert snapshot(incident) == before
    assert any("refused" in m for m in _messages(response))


def test_an_incident_listed_twice_is_done_once(world, client):
    incident = world.incident()
    login(client, world.people[2])
    client.post(BULK, {"incidents": [incident.reference, incident.reference.lower()], "action": "assign",
                       "assignee": world.people[2].username})
    assert Incident.objects.get(pk=incident.pk).events.filter(kind="assigned").count() == 1
