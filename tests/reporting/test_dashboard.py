"""The incident manager's dashboard (/dashboard/ and GET /api/v1/dashboard/): level 4 and
up, figures from the incidents the person may see, each linking to the queue that lists
exactly those incidents, in a bounded number of queries."""

from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, Status
from reporting import services
from skills.models import Person
from tests.incidents.helpers import force_state, login, snapshot

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/"
API = "/api/v1/dashboard/"


def _queue_refs(client, url):
    parts = urlsplit(url)
    assert parts.path == "/"
    response = client.get(url)
    assert response.status_code == 200
    refs, query = [], None
    while True:
        refs += [i.reference for i in response.context["incidents"]]
        if not response.context["next_cursor"]:
            return set(refs)
        query = f"{parts.query}&cursor={response.context['next_cursor']}"
        response = client.get(f"/?{query}")


@pytest.fixture
def scene(world):
    """Incidents for the figures: infra and applications, priorities, breached, at risk,
    unassigned, a major one, a closed one and a security one."""
    now = timezone.now()
    infra_p2 = world.incident(title="Infra P2")
    Incident.objects.filter(pk=infra_p2.pk).update(priority=2)
    infra_breached = world.incident(title="Infra breached")
    Incident.objects.filter(pk=infra_breached.pk).update(priority=1, resolution_breached=True)
    infra_risk = force_state(world.incident(title="Infra at risk"), Status.IN_PROGRESS, world.people[3])
    Incident.objects.filter(pk=infra_risk.pk).update(priority=3, resolve_warn_at=now - timedelta(minutes=1))
    apps_major = world.incident(title="Apps major")
    Incident.objects.filter(pk=apps_major.pk).update(
        team=world.apps, priority=1, is_major=True, comms_lead=world.people[5],
        next_update_due_at=now + timedelta(minutes=30), created_at=now - timedelta(days=3),
        response_warn_at=now - timedelta(minutes=1),  # nobody has responded: at risk
    )
    closed = force_state(world.incident(title="Long done"), Status.CLOSED, world.people[3])
    secret = world.incident(title="Secret", category=world.security_category)
    return {
        "infra_p2": infra_p2, "infra_breached": infra_breached, "infra_risk": infra_risk, "apps_major": apps_major,
        "closed": closed, "secret": secret,
    }  # fmt: skip


def test_below_level_4_the_dashboard_is_refused(world, client, api):
    for level in (1, 2, 3):
        person = world.people[level]
        response = login(client, person).get(PAGE)
        assert response.status_code == 403 and "monitor queues here: it needs SFIA level 4" in response.content.decode()
        answer = api(person).get(API)
        assert answer.status_code == 403 and "monitor queues" in answer.json()["detail"]
    assert login(client, world.reporter).get(PAGE).status_code == 403
    assert api(None).get(API).status_code in (401, 403)


def test_figures_count_the_incidents_made_for_the_test(scene, world, api):
    figures = api(world.people[4]).get(API).json()
    teams = {row["team"]: row for row in figures["teams"]}
    assert set(teams) == {"infrastructure", "applications"}  # the security incident is not counted at level 4
    infra = teams["infrastructure"]
    assert infra["open"] == 3 and infra["breached"] == 1 and infra["at_risk"] == 1 and infra["unassigned"] == 2
    assert infra["by_priority"] == {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0}
    assert teams["applications"]["by_priority"]["1"] == 1
    assert teams["applications"]["at_risk"] == 1 and teams["applications"]["breached"] == 0
    assert figures["totals"]["open"] == 4 and figures["totals"]["unassigned"] == 3
    assert figures["oldest_open"]["reference"] == scene["apps_major"].reference
    [major] = figures["major_incidents"]
    assert major["reference"] == scene["apps_major"].reference and major["comms_lead"] == "l5"
    assert major["next_update_due_at"]
    assert len(figures["days"]) == 14
    # Today: all but the major one (moved three days back) and the security one (not seen).
    assert figures["days"][-1]["created"] == 4
    assert figures["days"][-1]["resolved"] == 1
    assert figures["days"][-4]["created"] == 1


def test_security_incidents_count_for_those_who_may_see_them(scene, world, api):
    teams = {row["team"]: row for row in api(world.people[5]).get(API).json()["teams"]}
    assert teams["security"]["open"] == 1


def test_every_figure_links_to_the_queue_of_exactly_those_incidents(scene, world, client):
    login(client, world.people[4])
    response = client.get(PAGE)
    assert response.status_code == 200
    figures = response.context["figures"]
    s = scene
    infra = next(row for row in figures["teams"] if row["team"] == "infrastructure")
    assert _queue_refs(client, infra["links"]["open"]) == {
        s["infra_p2"].reference, s["infra_breached"].reference, s["infra_risk"].reference,
    }
    assert _queue_refs(client, infra["links"]["breached"]) == {s["infra_breached"].reference}
    assert _queue_refs(client, infra["links"]["at_risk"]) == {s["infra_risk"].reference}
    assert _queue_refs(client, infra["links"]["unassigned"]) == {s["infra_p2"].reference, s["infra_breached"].reference}
    assert _queue_refs(client, infra["links"]["by_priority"]["2"]) == {s["infra_p2"].reference}
    assert _queue_refs(client, figures["majors_link"]) == {s["apps_major"].reference}
    assert _queue_refs(client, figures["total_links"]["at_risk"]) == {s["infra_risk"].reference, s["apps_major"].reference}
    assert _queue_refs(client, figures["total_links"]["unassigned"]) == {
        s["infra_p2"].reference, s["infra_breached"].reference, s["apps_major"].reference,
    }
    today = figures["days"][-1]
    assert len(_queue_refs(client, today["links"]["created"])) == today["created"]
    assert _queue_refs(client, today["links"]["resolved"]) == {s["closed"].reference}
    body = response.content.decode()
    assert infra["links"]["breached"].replace("&", "&amp;") in body and "<svg" in body


def test_the_days_follow_the_clock(world, api):
    with time_machine.travel(timezone.now() - timedelta(days=20)):
        world.incident(title="Long ago")
    figures = api(world.people[4]).get(API).json()
    assert sum(day["created"] for day in figures["days"]) == 0


def test_dashboard_queries_are_bounded(world, client, django_assert_max_num_queries):
    login(client, world.people[4])
    world.incident()
    with CaptureQueriesContext(connection) as few:
        assert client.get(PAGE).status_code == 200
    for n in range(15):
        incident = world.incident(title=f"More {n}")
        Incident.objects.filter(pk=incident.pk).update(is_major=n % 3 == 0, priority=1 + n % 5)
    with django_assert_max_num_queries(len(few)):
        assert client.get(PAGE).status_code == 200


def test_the_dashboard_changes_nothing(scene, world, client):
    before = [snapshot(i) for i in scene.values()]
    login(client, world.people[5]).get(PAGE)
    assert [snapshot(i) for i in scene.values()] == before


def test_dashboard_poll_is_304_until_something_changes(world, client):
    world.incident()
    login(client, world.people[4])
    live = {"HTTP_X_FIREBREAK_LIVE": "1", "HTTP_HX_REQUEST": "true"}
    # The stamp holds the minute (at-risk counts move with the clock): start early in one.
    with time_machine.travel(timezone.now().replace(second=1) + timedelta(minutes=1), tick=True):
        first = client.get(PAGE, **live)
        assert client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"], **live).status_code == 304
        world.incident(title="Another")
        assert client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"], **live).status_code == 200


def test_dashboard_poll_changes_with_the_minute(world, client):
    world.incident()
    login(client, world.people[4])
    live = {"HTTP_X_FIREBREAK_LIVE": "1", "HTTP_HX_REQUEST": "true"}
    start = timezone.now().replace(second=1) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False):
        first = client.get(PAGE, **live)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"], **live).status_code == 200


# --- overdue review actions ------------------------------------------------------------------


def _action(world, review, title, *, owner, due_on, done=False):
    """A review action made through the service on a day it could be made (no past date)."""
    with time_machine.travel(services.due_moment(due_on) + timedelta(hours=9), tick=False):
        action = services.review_add_action(actor=world.people[5], review=review, title=title, owner=owner, due_on=due_on)
        if done:
            services.review_action_done(actor=owner, action=action)
    return action


@pytest.fixture
def overdue(world):
    """Reviews of an ordinary and a security incident with actions overdue, due today (not
    yet overdue), due later and done."""
    today = timezone.localdate()
    responder = world.person(4, world.security, username="sec4")
    plain = services.review_request(actor=world.people[5], incident=world.incident(title="Mail down"))
    secret = services.review_request(
        actor=world.people[5], incident=world.incident(title="Breach", category=world.security_category)
    )
    return {
        "responder": responder,
        "plain": plain,
        "secret": secret,
        "late": _action(world, plain, "Add disk alerts", owner=world.people[3], due_on=today - timedelta(days=3)),
        "later": _action(world, plain, "Write runbook", owner=world.people[4], due_on=today - timedelta(days=1)),
        "today": _action(world, plain, "Due today", owner=world.people[3], due_on=today),
        "future": _action(world, plain, "Due later", owner=world.people[3], due_on=today + timedelta(days=5)),
        "done": _action(world, plain, "Done already", owner=world.people[3], due_on=today - timedelta(days=4), done=True),
        "secret_late": _action(world, secret, "Rotate keys", owner=responder, due_on=today - timedelta(days=2)),
    }


def test_overdue_actions_are_listed_oldest_first_with_owner_due_date_and_review(overdue, world, api):
    body = api(world.people[4]).get(API).json()
    late, later = overdue["late"], overdue["later"]
    review = overdue["plain"]
    # Only open actions past their date; none of the security incident's for level 4 outside its team.
    assert body["overdue_actions"] == [
        {
            "id": late.pk, "title": "Add disk alerts", "owner": "l3", "due_on": late.due_on.isoformat(),
            "review": review.pk, "incident": review.incident.reference, "incident_title": "Mail down",
            "url": f"http://testserver/reports/reviews/{review.pk}/",
        },
        {
            "id": later.pk, "title": "Write runbook", "owner": "l4", "due_on": later.due_on.isoformat(),
            "review": review.pk, "incident": review.incident.reference, "incident_title": "Mail down",
            "url": f"http://testserver/reports/reviews/{review.pk}/",
        },
    ]  # fmt: skip
    assert body["overdue_actions_link"] == "http://testserver/reports/reviews/"


def test_security_reviews_overdue_actions_only_for_the_security_team_and_level_5(overdue, world, api, client):
    secret = overdue["secret_late"]
    for person in (world.people[5], overdue["responder"]):
        titles = [a["title"] for a in api(person).get(API).json()["overdue_actions"]]
        assert titles == ["Add disk alerts", "Rotate keys", "Write runbook"]
        assert "Rotate keys" in login(client, person).get(PAGE).content.decode()
    assert secret.pk not in [a["id"] for a in api(world.people[4]).get(API).json()["overdue_actions"]]
    page = login(client, world.people[4]).get(PAGE).content.decode()
    assert "Rotate keys" not in page and overdue["secret"].incident.reference not in page


def test_below_level_4_the_overdue_list_is_refused_even_to_an_actions_owner(overdue, world, api, client):
    owner = world.people[3]  # owns "Add disk alerts"
    response = login(client, owner).get(PAGE)
    assert response.status_code == 403 and "Add disk alerts" not in response.content.decode()
    answer = api(owner).get(API)
    assert answer.status_code == 403 and "Add disk alerts" not in answer.content.decode()


def test_each_overdue_action_links_to_its_review(overdue, world, client):
    login(client, world.people[4])
    response = client.get(PAGE)
    html = response.content.decode()
    [first, *_] = response.context["figures"]["overdue_actions"]
    assert first["url"] == f"/reports/reviews/{overdue['plain'].pk}/"
    assert f'<a href="{first["url"]}">Review of {overdue["plain"].incident.reference}</a>' in html
    assert "Add disk alerts" in html and "Due today" not in html and "Done already" not in html
    assert f'href="{response.context["figures"]["overdue_actions_link"]}"' in html
    review_page = client.get(first["url"])
    assert review_page.status_code == 200 and "Add disk alerts" in review_page.content.decode()


def test_an_action_is_overdue_from_the_day_after_its_date(world, api):
    review = services.review_request(actor=world.people[5], incident=world.incident())
    with time_machine.travel("2026-06-01 10:00Z", tick=False):
        _action(world, review, "Fix", owner=world.people[3], due_on=date(2026, 6, 3))
    with time_machine.travel("2026-06-03 23:59Z", tick=False):
        assert api(world.people[4]).get(API).json()["overdue_actions"] == []
    with time_machine.travel("2026-06-04 00:00Z", tick=False):
        assert [a["title"] for a in api(world.people[4]).get(API).json()["overdue_actions"]] == ["Fix"]


def test_the_overdue_list_costs_one_query_however_many_actions(world, client, api):
    login(client, world.people[4])
    world.incident()
    # Before the overdue list the page read 9 (the session, the person with their clearance,
    # the stamp, five figures, the saved views) and the API 6 (the clearance, five figures).
    with CaptureQueriesContext(connection) as page:
        assert client.get(PAGE).status_code == 200
    manager = api(Person.objects.get(pk=world.people[4].pk))  # a fresh person: nothing known of them yet
    with CaptureQueriesContext(connection) as answer:
        assert manager.get(API).status_code == 200
    assert (len(page), len(answer)) == (10, 7)
    today = timezone.localdate()
    for n in range(6):
        review = services.review_request(actor=world.people[5], incident=world.incident(title=f"Major {n}"))
        for days in (1, 2):
            _action(world, review, f"Action {n}.{days}", owner=world.people[n % 2 + 3], due_on=today - timedelta(days=days))
    with CaptureQueriesContext(connection) as many:
        response = client.get(PAGE)
    assert len(response.context["figures"]["overdue_actions"]) == 12 and len(many) == len(page)
    manager = api(Person.objects.get(pk=world.people[4].pk))
    with CaptureQueriesContext(connection) as many:
        assert len(manager.get(API).json()["overdue_actions"]) == 12
    assert len(many) == len(answer)


def test_dashboard_poll_changes_when_an_overdue_action_is_done(overdue, world, client):
    login(client, world.people[4])
    live = {"HTTP_X_FIREBREAK_LIVE": "1", "HTTP_HX_REQUEST": "true"}
    with time_machine.travel(timezone.now().replace(second=1) + timedelta(minutes=1), tick=True):
        first = client.get(PAGE, **live)
        with CaptureQueriesContext(connection) as poll:
            assert client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"], **live).status_code == 304
        assert len(poll) <= 3  # the session, the person, the stamp (incidents and overdue actions in one)
        services.review_action_done(actor=world.people[3], action=overdue["late"])
        changed = client.get(PAGE, HTTP_IF_NONE_MATCH=first["ETag"], **live)
        assert changed.status_code == 200 and "Add disk alerts" not in changed.content.decode()
