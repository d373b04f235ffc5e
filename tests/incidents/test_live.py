"""Live pages: a poll with the last ETag is answered 304 (one query, nothing rendered)
until something the page shows changes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
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


def test_an_unchanged_incident_poll_is_three_queries(world, client):
    incident = world.incident()
    url = f"/incidents/{incident.reference}/"
    login(client, world.people[2])
    etag = _poll(client, url)["ETag"]
    with CaptureQueriesContext(connection) as queries:
        assert _poll(client, url, etag).status_code == 304
    assert len(queries) == 3, [q["sql"] for q in queries]  # the session, the person, the incident


def test_the_poll_and_the_policy_agree_on_who_sees_which_incident(world):
    """incident_version reads the columns the visibility rule looks at and asks the rule:
    for every kind of person and incident it decides exactly as can_see_incident."""
    from django.http import Http404

    from incidents.selectors import incident_version
    from skills.policy import can_see_incident
    from tests.factories import PersonFactory, ReporterFactory, ServiceFactory

    other_owner = ReporterFactory(username="otherowner", role="stakeholder")
    other_service = ServiceFactory(slug="vpn", owner=other_owner)
    integration = ReporterFactory(username="monitor", role="integration")
    incidents = [
        world.incident(),
        world.incident(service=other_service),
        world.incident(service=None),
        world.incident(category=world.security_category),
        world.incident(reporter=other_owner),
        world.incident(actor=integration, reporter=None),
    ]
    people = [
        *world.people.values(),
        PersonFactory(username="responder", sfia_level=2, teams=[world.security]),
        world.reporter, world.owner, other_owner, integration,
        ReporterFactory(username="nobody"), PersonFactory(username="gone", sfia_level=3, is_active=False),
    ]  # fmt: skip
    for person in people:
        for incident in incidents:
            try:
                incident_version(person, incident.reference)
                seen = True
            except Http404:
                seen = False
            assert seen == can_see_incident(person, incident), (person.username, incident.reference)


def test_a_person_taken_out_of_the_security_team_stops_seeing_its_incidents_at_once(world, client):
    from tests.factories import PersonFactory

    secret = world.incident(category=world.security_category)
    responder = PersonFactory(username="responder", sfia_level=2, teams=[world.security])
    login(client, responder)
    assert _poll(client, f"/incidents/{secret.reference}/").status_code == 200
    responder.teams.remove(world.security)
    assert _poll(client, f"/incidents/{secret.reference}/").status_code == 404


# --- the version an htmx answer draws (X-Firebreak-Live-ETag) --------------------------------

DRAWN = "X-Firebreak-Live-ETag"


def _act(client, incident, action, data, page):
    """An htmx action sent from `page` (an address on the test server), as the browser sends it."""
    return client.post(
        f"/incidents/{incident.reference}/{action}/", data,
        HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{page}#timeline",
    )  # fmt: skip


def test_an_action_names_the_version_it_drew_so_the_next_poll_is_304(world, client):
    incident = world.incident()
    page = f"/incidents/{incident.reference}/?timeline=notes"
    login(client, world.people[3])
    answer = _act(client, incident, "compose", {"kind": "note", "body": "Looking"}, page)
    assert answer.status_code == 200 and "Looking" in answer.content.decode()
    drawn = answer[DRAWN]
    assert _poll(client, page, drawn).status_code == 304  # the page already shows it
    assert _poll(client, f"/incidents/{incident.reference}/", drawn).status_code == 200  # another address
    incident_add_note(actor=world.people[2], incident=incident, body="From the other desk")
    changed = _poll(client, page, drawn)
    assert changed.status_code == 200 and "From the other desk" in changed.content.decode()


def test_an_action_refused_or_sent_without_the_page_names_no_version(world, client):
    incident = world.incident()
    page = f"/incidents/{incident.reference}/"
    login(client, world.people[3])
    refused = _act(client, incident, "resolve", {"resolution_code": "fixed", "resolution_notes": "done"}, page)
    assert refused.status_code == 409 and DRAWN not in refused  # a new incident cannot be resolved
    incident.refresh_from_db()
    assert incident.status == "new"
    invalid = _act(client, incident, "compose", {"kind": "note", "body": ""}, page)
    assert invalid.status_code == 400 and DRAWN not in invalid
    unknown_page = client.post(f"/incidents/{incident.reference}/compose/", {"kind": "note", "body": "x"}, HTTP_HX_REQUEST="true")
    assert unknown_page.status_code == 200 and DRAWN not in unknown_page
    plain = client.post(f"/incidents/{incident.reference}/compose/", {"kind": "note", "body": "y"})
    assert plain.status_code == 302 and DRAWN not in plain


def test_the_version_is_read_before_the_incident_it_draws(world, client, monkeypatch):
    """A change landing while the answer is drawn from the incident as it was read must
    make the next poll a 200, never a 304 that leaves the page without it."""
    from incidents import views

    incident = world.incident(title="As it was")
    page = f"/incidents/{incident.reference}/"
    login(client, world.people[3])
    draw = views._render_detail

    def draw_while_it_changes(request, shown, **kwargs):
        fresh = views.access_incident(world.people[4], shown.reference)
        services.incident_update(actor=world.people[4], incident=fresh, title="Renamed meanwhile")
        return draw(request, shown, **kwargs)  # the incident as read before the change

    monkeypatch.setattr(views, "_render_detail", draw_while_it_changes)
    answer = _act(client, incident, "compose", {"kind": "note", "body": "Mine"}, page)
    monkeypatch.undo()
    assert "As it was" in answer.content.decode()
    after = _poll(client, page, answer[DRAWN])
    assert after.status_code == 200 and "Renamed meanwhile" in after.content.decode()


def test_a_queue_filter_answer_names_the_version_of_its_own_address(world, client):
    world.incident()
    login(client, world.people[2])
    answer = client.get("/?sort=due&status=new", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/")
    assert answer[DRAWN] == answer["ETag"]
    assert _poll(client, "/?sort=due&status=new", answer[DRAWN]).status_code == 304
