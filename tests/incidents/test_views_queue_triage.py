"""The queue page: sorts on one keyset, the API's filters under the same names, counts per
status and team, and a bounded number of queries whatever the sort and filter."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Incident, Status
from tests.incidents.helpers import force_state, login

pytestmark = pytest.mark.django_db

QUEUE = "/"


def _refs(response):
    return [incident.reference for incident in response.context["incidents"]]


def _walk(client, params):
    """Every page of the queue, following its own Next links."""
    seen, query = [], dict(params)
    for _ in range(20):
        response = client.get(QUEUE, query)
        assert response.status_code == 200
        seen += _refs(response)
        if response.context["next_cursor"] is None:
            return seen
        query = {**params, "cursor": response.context["next_cursor"]}
    raise AssertionError("the pages never end")


def test_sort_due_puts_breached_first_then_soonest_due(world, client):
    now = timezone.now()
    soon, overdue, later = (world.incident(title=t) for t in ("Soon", "Overdue", "Later"))
    Incident.objects.filter(pk=later.pk).update(resolve_due_at=now + timedelta(hours=5))
    Incident.objects.filter(pk=soon.pk).update(resolve_due_at=now + timedelta(minutes=20))
    Incident.objects.filter(pk=overdue.pk).update(resolve_due_at=now - timedelta(minutes=5), resolution_breached=True)
    login(client, world.people[2])
    assert _refs(client.get(QUEUE, {"sort": "due"})) == [overdue.reference, soon.reference, later.reference]
    # The default stays newest first.
    assert _refs(client.get(QUEUE)) == [later.reference, overdue.reference, soon.reference]


def test_sort_priority_puts_p1_first(world, client):
    low, high, mid = (world.incident(title=t) for t in ("Low", "High", "Mid"))
    for incident, priority in ((low, 5), (high, 1), (mid, 3)):
        Incident.objects.filter(pk=incident.pk).update(priority=priority)
    login(client, world.people[2])
    assert _refs(client.get(QUEUE, {"sort": "priority"})) == [high.reference, mid.reference, low.reference]


@pytest.mark.parametrize("sort", ["-created", "due", "priority"])
def test_every_sort_pages_through_everything_once(world, client, settings, sort, monkeypatch):
    monkeypatch.setattr("incidents.views.PAGE_SIZE", 4)
    made = [world.incident(title=f"Incident {n}") for n in range(10)]
    for n, incident in enumerate(made):  # ties on purpose: the id breaks them
        Incident.objects.filter(pk=incident.pk).update(priority=1 + n % 2)
    login(client, world.people[2])
    seen = _walk(client, {"sort": sort})
    assert sorted(seen) == sorted(i.reference for i in made) and len(seen) == len(set(seen))
    rows = {i.reference: i for i in Incident.objects.all()}
    keys = {
        "-created": lambda r: (-rows[r].created_at.timestamp(), -rows[r].pk),
        "due": lambda r: (rows[r].resolve_due_at, rows[r].pk),
        "priority": lambda r: (rows[r].priority, rows[r].pk),
    }
    assert seen == sorted(seen, key=keys[sort])


def test_filters_have_the_apis_names(world, client):
    me = world.people[2]
    mine = force_state(world.incident(title="Mine"), Status.ASSIGNED, me)
    theirs = force_state(world.incident(title="Theirs"), Status.ASSIGNED, world.people[3])
    nobody = world.incident(title="Nobody's")
    breached = world.incident(title="Breached")
    Incident.objects.filter(pk=breached.pk).update(response_breached=True)
    major = world.incident(title="Major")
    Incident.objects.filter(pk=major.pk).update(is_major=True)
    other_service = world.incident(title="Elsewhere", service=None)
    login(client, me)

    assert _refs(client.get(QUEUE, {"assignee": "me"})) == [mine.reference]
    assert set(_refs(client.get(QUEUE, {"assignee": "none"}))) == {
        nobody.reference, breached.reference, major.reference, other_service.reference,
    }
    assert _refs(client.get(QUEUE, {"assignee": world.people[3].username})) == [theirs.reference]
    assert _refs(client.get(QUEUE, {"breached": "true"})) == [breached.reference]
    assert _refs(client.get(QUEUE, {"major": "true"})) == [major.reference]
    assert other_service.reference not in _refs(client.get(QUEUE, {"service": "email"}))
    assert len(_refs(client.get(QUEUE, {"service": "email"}))) == 5
    assert len(_refs(client.get(QUEUE, {"category": "hardware", "team": "infrastructure"}))) == 6
    assert _refs(client.get(QUEUE, {"category": "security"})) == []
    assert _refs(client.get(QUEUE, {"q": "Elsewhere"})) == [other_service.reference]
    assert _refs(client.get(QUEUE, {"priority": "5"})) == []


def test_at_risk_filter_lists_open_incidents_past_their_warning_point(world, client):
    now = timezone.now()
    risky, calm, breached = (world.incident(title=t) for t in ("Risky", "Calm", "Breached"))
    Incident.objects.filter(pk=risky.pk).update(resolve_warn_at=now - timedelta(minutes=1))
    Incident.objects.filter(pk=calm.pk).update(
        resolve_warn_at=now + timedelta(hours=1), response_warn_at=now + timedelta(hours=1)
    )
    Incident.objects.filter(pk=breached.pk).update(resolve_warn_at=now - timedelta(hours=1), resolution_breached=True)
    login(client, world.people[2])
    assert _refs(client.get(QUEUE, {"warning": "true"})) == [risky.reference]


def test_bad_filters_are_named_and_left_out(world, client):
    incident = world.incident()
    login(client, world.people[2])
    response = client.get(QUEUE, {"assignee": "ghost", "team": "nope", "sort": "sideways"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "There is nobody with that username." in body and "Team:" in body
    assert _refs(response) == [incident.reference]
    # A cursor that does not decode starts at the first page.
    assert _refs(client.get(QUEUE, {"cursor": "!!!"})) == [incident.reference]


def test_counts_per_status_and_team(world, client):
    world.incident(title="New one")
    force_state(world.incident(title="Held"), Status.ON_HOLD, world.people[2])
    force_state(world.incident(title="Done"), Status.CLOSED, world.people[2])
    world.incident(title="Secret", category=world.security_category)
    login(client, world.people[2])
    counts = client.get(QUEUE).context["counts"]
    assert dict((value, n) for value, _, n in counts["statuses"]) == {
        "new": 1, "assigned": 0, "in_progress": 0, "on_hold": 1,
    }
    # The security incident counts only for those who may see it.
    assert [(slug, n) for slug, _, n in counts["teams"]] == [("infrastructure", 2)]
    counts = client.get(QUEUE, {"status": "on_hold"}).context["counts"]
    assert [(slug, n) for slug, _, n in counts["teams"]] == [("infrastructure", 1)]
    assert dict((value, n) for value, _, n in counts["statuses"])["new"] == 1  # status leaves itself out


@pytest.mark.parametrize("params", [
    {}, {"sort": "due"}, {"sort": "priority"}, {"assignee": "none"}, {"assignee": "me"}, {"breached": "true"},
    {"warning": "true"}, {"major": "true"}, {"category": "hardware"}, {"service": "email"}, {"team": "infrastructure"},
    {"status": "all"}, {"priority": "3"}, {"q": "printer"},
])  # fmt: skip
def test_queue_queries_are_bounded_for_every_sort_and_filter(world, client, django_assert_max_num_queries, params):
    login(client, world.people[2])
    world.incident()
    with CaptureQueriesContext(connection) as few:
        assert client.get(QUEUE, params).status_code == 200
    for n in range(15):
        world.incident(title=f"Printer {n}", reporter=world.owner if n % 2 else world.reporter)
    with django_assert_max_num_queries(len(few)):
        assert client.get(QUEUE, params).status_code == 200


def test_team_counts_stay_on_open_incidents_under_any_status(world, client):
    world.incident(title="Open one")
    force_state(world.incident(title="Done"), Status.CLOSED, world.people[2])
    login(client, world.people[2])
    for status in ("all", "closed"):
        response = client.get(QUEUE, {"status": status})
        # The panel counts open incidents (its heading), whichever statuses the list shows.
        assert [(slug, n) for slug, _, n in response.context["counts"]["teams"]] == [("infrastructure", 1)]
    assert _refs(client.get(QUEUE, {"status": "closed"})) != []


def test_team_filter_narrows_the_status_counts_only(world, client):
    world.incident(title="Infra")
    other = world.incident(title="Apps")
    Incident.objects.filter(pk=other.pk).update(team=world.apps)
    login(client, world.people[2])
    counts = client.get(QUEUE, {"team": "infrastructure"}).context["counts"]
    assert dict((value, n) for value, _, n in counts["statuses"])["new"] == 1
    assert sorted((slug, n) for slug, _, n in counts["teams"]) == [("applications", 1), ("infrastructure", 1)]


@pytest.mark.parametrize("few", [500, 1])  # the ids path, and the common-word path
def test_search_is_visibility_correct_on_both_paths(world, client, monkeypatch, few):
    monkeypatch.setattr("incidents.selectors.SEARCH_FEW", few)
    secret = world.incident(title="Ransomware on the file server", category=world.security_category)
    seen = [world.incident(title=f"Printer jam {n}") for n in range(3)]
    login(client, world.people[4])  # level 4, outside the security wall
    assert _refs(client.get(QUEUE, {"q": "ransomware", "status": "all"})) == []
    assert sorted(_refs(client.get(QUEUE, {"q": "printer jam"}))) == sorted(i.reference for i in seen)
    counts = client.get(QUEUE, {"q": "ransomware"}).context["counts"]
    assert all(n == 0 for _, _, n in counts["statuses"]) and counts["teams"] == []
    login(client, world.people[5])  # level 5 sees security incidents
    assert _refs(client.get(QUEUE, {"q": "ransomware", "status": "all"})) == [secret.reference]
    counts = client.get(QUEUE, {"q": "ransomware"}).context["counts"]
    assert [(slug, n) for slug, _, n in counts["teams"]] == [("security", 1)]


def test_search_by_the_api_keeps_the_wall_too(world, api, monkeypatch):
    monkeypatch.setattr("incidents.selectors.SEARCH_FEW", 1)
    world.incident(title="Ransomware on the file server", category=world.security_category)
    world.incident(title="Ransomware drill, printer", description="A test")
    answer = api(world.people[4]).get("/api/v1/incidents/", {"q": "ransomware"})
    assert [row["title"] for row in answer.json()["results"]] == ["Ransomware drill, printer"]
    answer = api(world.people[5]).get("/api/v1/incidents/", {"q": "ransomware"})
    assert len(answer.json()["results"]) == 2


def test_the_filter_and_bulk_options_read_no_configuration_table(world, client):
    """Teams, categories and services in the filters and the bulk bar come from the
    configuration cache, by name; the staff list is one plain query, not a cursor."""
    from procedures.models import Category, Service
    from skills.models import Team

    Team.objects.create(slug="zeta", name="zeta ops")  # lower case: ordered as people read
    login(client, world.people[3])
    client.get(QUEUE)  # the cache reads the tables once
    with CaptureQueriesContext(connection) as queries:
        response = client.get(QUEUE)
    assert response.status_code == 200
    statements = [q["sql"] for q in queries]
    for table in ('"procedures_category"', '"procedures_service"'):
        assert not [sql for sql in statements if table in sql.split(" WHERE ")[0]], table
    assert not [sql for sql in statements if sql.startswith("DECLARE")]  # no server-side cursors
    form = response.context["form"]
    by_name = lambda rows: [(row.slug, row.name) for row in sorted(rows, key=lambda r: r.name.casefold())]  # noqa: E731
    assert [(str(v), label) for v, label in form.fields["team"].choices][1:] == by_name(Team.objects.all())
    assert [(str(v), label) for v, label in form.fields["category"].choices][1:] == by_name(Category.objects.all())
    assert [(str(v), label) for v, label in form.fields["service"].choices][1:] == by_name(Service.objects.all())
    body = response.content.decode()
    assert '<option value="zeta">zeta ops</option>' in body
    # A value chosen is still checked against the table.
    assert client.get(QUEUE, {"team": "no-such-team"}).context["form"].errors["team"]
