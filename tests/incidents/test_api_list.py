import base64

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident
from procedures import config_cache

pytestmark = pytest.mark.django_db


def _queries(api, person, **params):
    from skills.models import Person

    client = api(Person.objects.get(pk=person.pk))  # a fresh user object, as in a real request
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/incidents/", params)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()


def test_query_count_does_not_grow_with_page_size(world, api):
    for n in range(30):
        world.incident(title=f"Incident {n}", service=world.service if n % 2 else None)
    config_cache.snapshot()  # the configuration as the test made it, read once
    small, small_page = _queries(api, world.people[3], page_size=2)
    large, large_page = _queries(api, world.people[3], page_size=30)
    assert len(small_page["results"]) == 2 and len(large_page["results"]) == 30
    assert small == large
    # the configuration stamp, the security-team check and the page (people joined); the
    # categories, services, teams and procedure versions come from the configuration cache
    assert large == 3


def test_cursor_pagination_walks_every_incident_once_both_ways(world, api):
    created = [world.incident(title=f"n{n}", impact=1 + n % 3, urgency=1 + n % 2).reference for n in range(12)]
    client = api(world.people[3])
    for ordering in ("-created_at", "created_at", "priority", "-priority", "resolve_due_at"):
        seen, url, pages = [], "/api/v1/incidents/", []
        params = {"page_size": 5, "ordering": ordering}
        while url:
            body = client.get(url, params).json()
            params = None
            pages.append(body)
            seen += [i["reference"] for i in body["results"]]
            url = body["next"]
        assert sorted(seen) == sorted(created), ordering
        assert len(pages) == 3
        back = client.get(pages[-1]["previous"]).json()
        assert [i["reference"] for i in back["results"]] == [i["reference"] for i in pages[1]["results"]]


def test_filters(world, api):
    a = world.incident(title="Mail server down", impact=1, urgency=1)
    b = world.incident(title="Keyboard sticky", impact=3, urgency=3, service=None)
    api(world.people[3]).post(f"/api/v1/incidents/{b.reference}/start/")
    client = api(world.people[3])

    def refs(**params):
        response = client.get("/api/v1/incidents/", params)
        assert response.status_code == 200, response.content
        return {i["reference"] for i in response.json()["results"]}

    assert refs(status="new") == {a.reference}
    assert refs(status=["new", "in_progress"]) == {a.reference, b.reference}
    assert refs(priority=1) == {a.reference}
    assert refs(team="infrastructure") == {a.reference, b.reference}
    assert refs(team="applications") == set()
    assert client.get("/api/v1/incidents/", {"team": "no-such-team"}).status_code == 400
    assert refs(assignee=world.people[3].username) == {b.reference}
    assert refs(service="email") == {a.reference}
    assert refs(category="hardware") == {a.reference, b.reference}
    assert refs(is_major="false") == {a.reference, b.reference}
    assert refs(breached="true") == set()
    assert refs(q="mail server") == {a.reference}
    Incident.objects.filter(pk=a.pk).update(resolution_breached=True)
    assert refs(breached="true") == {a.reference}
    assert refs(created_after="2000-01-01T00:00:00Z") == {a.reference, b.reference}
    assert refs(created_before="2000-01-01T00:00:00Z") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"ordering": "title"}, "ordering"),
        ({"page_size": "1000"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
def test_bad_list_parameters_are_400(world, api, params, field):
    response = api(world.people[1]).get("/api/v1/incidents/", params)
    assert response.status_code == 400
    assert field in response.json()


def _cursor(**payload):
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(f="priority", v={}, id=1, b=False),
        _cursor(f="priority", v=[], id=1, b=False),
        _cursor(f="priority", v=None, id=1, b=False),
        _cursor(f="priority", v="three", id=1, b=False),
        _cursor(f="priority", v="3", id=1, b=False),
        _cursor(f="priority", v=True, id=1, b=False),
        _cursor(f="priority", v=2.5, id=1, b=False),
        _cursor(f="priority", v=10**30, id=1, b=False),
        _cursor(f="priority", v=2, id=None, b=False),
        _cursor(f="priority", v=2, id="1", b=False),
        _cursor(f="priority", v=2, id=1e400, b=False),
        _cursor(f="priority", v=2, id=1, b="yes"),
        _cursor(f="created_at", v={}, id=1, b=False),
        _cursor(f="created_at", v=None, id=1, b=False),
        _cursor(f="created_at", v=12, id=1, b=False),
        _cursor(f="created_at", v="2026-01-01T10:00:00", id=1, b=False),
        _cursor(f="created_at", v="2026-13-45T10:00:00+00:00", id=1, b=False),
        base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).decode(),
        base64.urlsafe_b64encode(b'{"f": "priority", "v": ' + b"[" * 5000 + b"]" * 5000 + b', "id": 1, "b": false}').decode(),
        base64.urlsafe_b64encode(b'["priority", 2, 1, false]').decode(),
    ],
)
def test_crafted_cursors_are_400_naming_the_cursor(world, api, cursor):
    world.incident()
    ordering = "priority" if b"priority" in base64.urlsafe_b64decode(cursor) else "-created_at"
    response = api(world.people[3]).get("/api/v1/incidents/", {"cursor": cursor, "ordering": ordering})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_crafted_cursors_start_the_queue_page_afresh(world, client):
    world.incident(title="Still listed")
    client.force_login(world.people[3])
    for sort, cursor in (("-created", _cursor(f="created_at", v={}, id=1, b=False)),
                         ("priority", _cursor(f="priority", v=None, id=1, b=False))):
        response = client.get("/", {"cursor": cursor, "sort": sort})
        assert response.status_code == 200
        assert b"Still listed" in response.content
