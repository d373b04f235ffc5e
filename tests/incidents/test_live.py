"""Live pages: a poll with the last ETag is answered 304 (one query, nothing rendered)
until something the page shows changes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.services import incident_add_note, incident_start
from tests.incidents.helpers import login

pytestmark = pytest.mark.django_db

LIVE = {"HTTP_X_FIREBREAK_LIVE": "1", "HTTP_HX_REQUEST": "true"}


def _poll(client, url, etag=None):
    headers = dict(LIVE)
    if etag:
        headers["HTTP_IF_NONE_MATCH"] = etag
    return client.get(url, **headers)


def test_queue_poll_is_304_until_an_incident_changes(world, client):
    incident = world.incident()
    login(client, world.people[2])
    first = _poll(client, "/?sort=due")
    assert first.status_code == 200 and first["ETag"] and "no-cache" in first["Cache-Control"]
    assert 'data-live-region="queue"' in first.content.decode()
    with CaptureQueriesContext(connection) as queries:
        again = _poll(client, "/?sort=due", first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert len(queries) <= 3  # the session, the person, the newest change

    world.incident(title="A new one")
    changed = _poll(client, "/?sort=due", first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    incident_start(actor=world.people[2], incident=incident)
    assert _poll(client, "/?sort=due", changed["ETag"]).status_code == 200


def test_the_etag_is_per_person_and_per_filter(world, client):
    world.incident()
    login(client, world.people[2])
    mine = _poll(client, "/")["ETag"]
    assert _poll(client, "/?sort=due", mine).status_code == 200
    login(client, world.people[3])
    assert _poll(client, "/", mine).status_code == 200


def test_incident_page_poll_follows_the_incident_and_its_timeline(world, client):
    incident = world.incident()
    url = f"/incidents/{incident.reference}/"
    login(client, world.people[2])
    first = _poll(client, url)
    assert first.status_code == 200
    body = first.content.decode()
    for region in ("incident-head", "incident-sla", "incident-timeline", "incident-facts"):
        assert f'data-live-region="{region}"' in body
    assert _poll(client, url, first["ETag"]).status_code == 304
    incident_add_note(actor=world.people[2], incident=incident, body="Looking")  # timeline only
    second = _poll(client, url, first["ETag"])
    assert second.status_code == 200 and "Looking" in second.content.decode()
    assert _poll(client, url, second["ETag"]).status_code == 304


def test_incident_poll_answers_404_for_what_the_person_may_not_see(world, client):
    secret = world.incident(category=world.security_category)
    login(client, world.people[2])
    assert _poll(client, f"/incidents/{secret.reference}/").status_code == 404
    assert _poll(client, "/incidents/INC-999999/").status_code == 404


def test_a_plain_request_is_never_304(world, client):
    world.incident()
    login(client, world.people[2])
    etag = _poll(client, "/")["ETag"]
    assert client.get("/", HTTP_IF_NONE_MATCH=etag).status_code == 200
