"""Requesters' own pages: their incidents with the public updates, a reply, confirming a
resolution or saying it is not fixed (reopens within the window), and a plain report."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from incidents import services
from incidents.models import Incident, OutboundMessage, Status, TimelineEvent
from procedures import config_cache
from skills.errors import Conflict, Forbidden
from tests.incidents.helpers import force_state, login, snapshot

pytestmark = pytest.mark.django_db
MINE = "/my/"


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_login_takes_a_requester_to_their_page_and_staff_to_the_queue(world, client):
    assert client.post("/login/", {"username": "rita", "password": "pw"}).url == MINE
    client.logout()
    assert client.post("/login/", {"username": "l1", "password": "pw"}).url == "/"


def test_my_incidents_lists_only_mine_in_plain_words(world, client, django_assert_max_num_queries):
    mine = world.incident(title="My printer", reporter=world.reporter)
    other = world.incident(title="Their printer", reporter=world.owner)
    login(client, world.reporter)
    config_cache.snapshot()
    with django_assert_max_num_queries(4):  # session, person, configuration stamp, the page
        response = client.get(MINE)
    body = response.content.decode()
    assert mine.reference in body and other.reference not in body and "Received" in body
    for jargon in ("SFIA", "Queue", "/api/", "API"):
        assert jargon not in body, jargon


def test_my_incidents_query_count_does_not_grow(world, client, django_assert_max_num_queries):
    world.incident(reporter=world.reporter)
    login(client, world.reporter)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(MINE)
    for n in range(10):
        world.incident(title=f"More {n}", reporter=world.reporter)
    with django_assert_max_num_queries(len(few)):
        assert len(client.get(MINE).context["incidents"]) == 11


def test_the_incident_page_shows_public_updates_only(world, client):
    incident = world.incident(reporter=world.reporter)
    services.incident_add_note(actor=world.people[2], incident=incident, body="Secret staff note")
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="Engineer on the way")
    body = login(client, world.reporter).get(f"{MINE}{incident.reference}/").content.decode()
    assert "Engineer on the way" in body and "Secret staff note" not in body
    assert "SFIA" not in body and "/api/" not in body


def test_someone_elses_incident_is_404(world, client):
    other = world.incident(reporter=world.owner)
    assert login(client, world.reporter).get(f"{MINE}{other.reference}/").status_code == 404


# --- reply ---------------------------------------------------------------------------------


def test_a_reply_becomes_a_public_comment_and_tells_the_team(world, client):
    incident = world.incident(reporter=world.reporter)
    login(client, world.reporter)
    response = client.post(f"{MINE}{incident.reference}/reply/", {"body": "It smokes more now"})
    assert response.status_code == 302
    event = TimelineEvent.objects.get(incident=incident, kind="comment")
    assert (event.data["body"], event.is_public, event.actor) == ("It smokes more now", True, world.reporter)
    assert OutboundMessage.objects.filter(incident=incident, subject__contains="Reply from rita").exists()
    staff_page = login(client, world.people[1]).get(f"/incidents/{incident.reference}/").content.decode()
    assert "It smokes more now" in staff_page


def test_an_empty_reply_is_400_and_changes_nothing(world, client):
    incident = world.incident(reporter=world.reporter)
    before = snapshot(incident)
    response = login(client, world.reporter).post(f"{MINE}{incident.reference}/reply/", {"body": "  "})
    assert response.status_code == 400 and "body" in response.context["reply_form"].errors
    assert snapshot(incident) == before


def test_only_the_reporter_may_reply(world):
    incident = world.incident(reporter=world.reporter, service=world.service)
    before = snapshot(incident)
    with pytest.raises(Forbidden):  # the service owner sees it but did not report it
        services.incident_comment(actor=world.owner, incident=incident, body="Me too")
    assert snapshot(incident) == before


# --- confirm or not fixed --------------------------------------------------------------------


@pytest.fixture
def resolved(world):
    incident = world.incident(reporter=world.reporter)
    incident = force_state(incident, Status.IN_PROGRESS, world.people[3])
    return services.incident_resolve(
        actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="New fuser"
    )


def test_the_reporter_confirms_the_fix(world, client, resolved):
    login(client, world.reporter)
    assert client.get(f"{MINE}{resolved.reference}/").context["confirm_form"] is not None
    response = client.post(f"{MINE}{resolved.reference}/confirm/", {"fixed": "yes"})
    assert response.status_code == 302
    resolved.refresh_from_db()
    assert resolved.status == Status.RESOLVED
    assert TimelineEvent.objects.get(incident=resolved, kind="confirmed").is_public


def test_not_fixed_reopens_it_and_tells_the_assignee(world, client, resolved):
    response = login(client, world.reporter).post(
        f"{MINE}{resolved.reference}/confirm/", {"fixed": "no", "reason": "Still smoking"}
    )
    assert response.status_code == 302
    resolved.refresh_from_db()
    assert (resolved.status, resolved.resolved_at, resolved.reopen_count) == (Status.IN_PROGRESS, None, 1)
    event = TimelineEvent.objects.get(incident=resolved, kind="reopened")
    assert event.data == {"reason": "Still smoking", "by_reporter": True} and event.actor == world.reporter
    assert OutboundMessage.objects.filter(to="l3@example.com", subject__contains="Not fixed").exists()


def test_not_fixed_needs_a_reason(world, client, resolved):
    before = snapshot(resolved)
    response = login(client, world.reporter).post(f"{MINE}{resolved.reference}/confirm/", {"fixed": "no"})
    assert response.status_code == 400 and "reason" in response.context["confirm_form"].errors
    assert snapshot(resolved) == before


def test_after_the_window_it_cannot_be_reopened(world, client, resolved, settings):
    settings.REOPEN_WINDOW_DAYS = 3
    before = snapshot(resolved)
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1), tick=False):
        login(client, world.reporter)
        assert client.get(f"{MINE}{resolved.reference}/").context["confirm_form"] is None
        response = client.post(f"{MINE}{resolved.reference}/confirm/", {"fixed": "no", "reason": "Again"})
    assert response.status_code == 409 and any("more than 3 days" in m for m in _messages(response))
    assert snapshot(resolved) == before


def test_within_the_window_on_its_last_day(world, resolved, settings):
    settings.REOPEN_WINDOW_DAYS = 3
    services.incident_confirm_resolution(
        actor=world.reporter, incident=resolved, fixed=False, reason="Again",
        now=resolved.resolved_at + timedelta(days=3),
    )  # fmt: skip
    resolved.refresh_from_db()
    assert resolved.status == Status.IN_PROGRESS


def test_someone_else_may_not_reopen_it(world, resolved):
    before = snapshot(resolved)
    for person in (world.owner, world.people[3]):  # a stakeholder who sees it; staff below level 4
        with pytest.raises(Forbidden):
            services.incident_confirm_resolution(actor=person, incident=resolved, fixed=False, reason="x")
    assert snapshot(resolved) == before


def test_confirming_an_open_incident_is_409(world):
    incident = world.incident(reporter=world.reporter)
    with pytest.raises(Conflict):
        services.incident_confirm_resolution(actor=world.reporter, incident=incident, fixed=True)


# --- report a problem ------------------------------------------------------------------------


def test_report_with_how_bad_is_it(world, client):
    login(client, world.reporter)
    page = client.get("/my/new/")
    body = page.content.decode()
    assert "How bad is it?" in body and "Impact" not in body and "Urgency" not in body
    security = world.security_category
    assert security not in page.context["form"].fields["category"].queryset
    response = client.post("/my/new/", {
        "title": "Cannot print", "category": world.hardware.pk, "how_bad": "stopped",
        "registration_key": page.context["form"]["registration_key"].value(),
    })  # fmt: skip
    incident = Incident.objects.get()
    assert response.status_code == 302 and response.url == f"{MINE}{incident.reference}/"
    assert (incident.impact, incident.urgency, incident.reporter, incident.channel) == (3, 1, world.reporter, "web")


def test_report_needs_an_answer_and_changes_nothing(world, client):
    response = login(client, world.reporter).post("/my/new/", {"title": "Cannot print", "category": world.hardware.pk})
    assert response.status_code == 400 and "how_bad" in response.context["form"].errors
    assert not Incident.objects.exists()
