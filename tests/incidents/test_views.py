"""The browser UI: queue, registration, the incident page and its action forms."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, Status, TimelineEvent
from incidents.services import incident_add_note
from skills.views import LoginView
from tests.incidents.helpers import act_url, detail_url, force_state, login, snapshot

pytestmark = pytest.mark.django_db

QUEUE = "/"
REGISTER = "/incidents/new/"


_as, _detail, _act = login, detail_url, act_url


def _messages(response):
    return [str(m) for m in response.context["messages"]]


# --- login -------------------------------------------------------------------------------


def test_login_page_renders_without_the_demo_hint(client, settings):
    settings.DEBUG = False
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body and "csrfmiddlewaretoken" in body
    assert "password is their username" not in body


def test_login_redirects_to_the_queue(world, client):
    response = client.post("/login/", {"username": "l1", "password": "pw"})
    assert response.status_code == 302 and response.url == QUEUE


@pytest.mark.parametrize("debug", [True, False])
def test_login_view_shows_the_demo_hint_only_in_debug(rf, settings, debug):
    settings.DEBUG = debug
    request = rf.get("/login/")
    request.user = AnonymousUser()
    response = LoginView.as_view()(request)
    response.render()
    assert ("password is their username" in response.content.decode()) is debug


def test_pages_need_a_login(client):
    for url in (QUEUE, REGISTER, "/incidents/INC-000001/", "/account/tokens/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/"), url


# --- the queue ---------------------------------------------------------------------------


def test_queue_shows_what_each_person_may_see(world, client):
    printer = world.incident(title="Printer on fire")
    breach = world.incident(title="Phishing wave", category=world.security_category)
    someone = world.incident(title="Someone else's", reporter=world.owner)

    body = _as(client, world.people[1]).get(QUEUE).content.decode()
    assert printer.reference in body and someone.reference in body
    assert breach.reference not in body and "Phishing wave" not in body

    responder = world.person(3, team=world.security)
    body = _as(client, responder).get(QUEUE).content.decode()
    assert printer.reference in body and breach.reference in body

    body = _as(client, world.reporter).get(QUEUE).content.decode()
    assert printer.reference in body
    assert someone.reference not in body and breach.reference not in body


def test_queue_defaults_to_open_incidents_and_filters(world, client):
    open_one = world.incident(title="Still broken")
    done = force_state(world.incident(title="Long fixed"), Status.CLOSED, world.people[3])
    mine = force_state(world.incident(title="On my desk"), Status.ASSIGNED, world.people[2])
    _as(client, world.people[2])

    body = client.get(QUEUE).content.decode()
    assert open_one.reference in body and mine.reference in body and done.reference not in body

    body = client.get(QUEUE, {"status": "all"}).content.decode()
    assert done.reference in body

    body = client.get(QUEUE, {"assignee": "me"}).content.decode()
    assert mine.reference in body and open_one.reference not in body

    body = client.get(QUEUE, {"q": "broken"}).content.decode()
    assert open_one.reference in body and mine.reference not in body

    body = client.get(QUEUE, {"team": "applications"}).content.decode()
    assert open_one.reference not in body

    body = client.get(QUEUE, {"priority": open_one.priority}).content.decode()
    assert open_one.reference in body
    body = client.get(QUEUE, {"priority": 5 if open_one.priority != 5 else 1}).content.decode()
    assert open_one.reference not in body

    response = client.get(QUEUE, {"team": "no-such-team"})
    assert response.status_code == 200 and response.context["form"].errors["team"]
    assert open_one.reference in response.content.decode()  # a bad filter is left out


def test_queue_answers_htmx_with_the_table_only(world, client):
    incident = world.incident()
    response = _as(client, world.people[1]).get(QUEUE, {"status": "new"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="queue-results"')
    assert incident.reference in body and "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_queue_pages_with_a_cursor(world, client, monkeypatch):
    monkeypatch.setattr("incidents.views.PAGE_SIZE", 2)
    incidents = [world.incident(title=f"Incident {n}") for n in range(5)]
    _as(client, world.people[1])
    seen = []
    params = {}
    for _ in range(3):
        response = client.get(QUEUE, params)
        page = [i.reference for i in response.context["incidents"]]
        seen += page
        if response.context["next_cursor"] is None:
            break
        params = {"cursor": response.context["next_cursor"]}
    assert seen == [i.reference for i in reversed(incidents)]


def test_queue_query_count_does_not_grow_with_incidents(world, client, django_assert_max_num_queries):
    _as(client, world.people[1])
    world.incident()
    with CaptureQueriesContext(connection) as few:
        assert client.get(QUEUE).status_code == 200
    for n in range(20):
        world.incident(title=f"More {n}", reporter=world.owner if n % 2 else world.reporter)
    with django_assert_max_num_queries(len(few)):
        response = client.get(QUEUE)
    assert len(response.context["incidents"]) == 21


def test_queue_marks_breached_targets(world, client):
    incident = world.incident()
    Incident.objects.filter(pk=incident.pk).update(response_breached=True)
    body = _as(client, world.people[1]).get(QUEUE).content.decode()
    assert "Breached" in body and "row-breached" in body


# --- registration --------------------------------------------------------------------------


def _form(world, **overrides):
    return {"title": "Laptop will not boot", "description": "Black screen", "category": world.hardware.pk,
            "service": world.service.pk, "impact": 2, "urgency": 1, **overrides}  # fmt: skip


def test_register_creates_an_incident_and_shows_it(world, client):
    response = _as(client, world.reporter).post(REGISTER, _form(world))
    incident = Incident.objects.get()
    assert response.status_code == 302 and response.url == _detail(incident)
    assert incident.reporter == world.reporter and incident.channel == "web"
    assert incident.team == world.infra and incident.title == "Laptop will not boot"
    assert client.get(response.url).status_code == 200


def test_staff_register_for_someone_else(world, client):
    response = _as(client, world.people[1]).post(REGISTER, _form(world, reporter="rita"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.reporter == world.reporter and incident.created_by == world.people[1]


def test_reporters_get_no_reporter_field(world, client):
    response = _as(client, world.reporter).get(REGISTER)
    assert "reporter" not in response.context["form"].fields
    _as(client, world.reporter).post(REGISTER, _form(world, reporter="svcowner"))
    assert Incident.objects.get().reporter == world.reporter


@pytest.mark.parametrize(
    "overrides",
    [{"title": ""}, {"category": 999999}, {"impact": 7}, {"title": "x" * 201}],
    ids=["no title", "unknown category", "impact out of range", "title too long"],
)
def test_bad_register_form_changes_nothing(world, client, overrides):
    response = _as(client, world.people[1]).post(REGISTER, _form(world, **overrides))
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not Incident.objects.exists() and not TimelineEvent.objects.exists()


def test_unknown_reporter_is_a_form_error(world, client):
    response = _as(client, world.people[1]).post(REGISTER, _form(world, reporter="nobody"))
    assert response.status_code == 400
    assert "reporter" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_reporter_registering_a_security_incident_is_sent_to_the_queue(world, client):
    response = _as(client, world.reporter).post(REGISTER, _form(world, category=world.security_category.pk))
    assert response.status_code == 302 and response.url == QUEUE
    assert Incident.objects.get().is_security


# --- the incident page ----------------------------------------------------------------------


def test_detail_shows_fields_and_timeline(world, client):
    incident = world.incident(title="Printer on fire")
    response = _as(client, world.people[2]).get(_detail(incident))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Printer on fire" in body and incident.reference in body and "Infrastructure" in body
    kinds = [row["event"].kind for row in response.context["timeline"]]
    assert kinds[-2:] == ["routed", "registered"]  # newest first


def test_detail_hides_internal_notes_from_the_reporter(world, client):
    incident = world.incident()
    incident_add_note(actor=world.people[2], incident=incident, body="Suspect the fuser")
    assert "Suspect the fuser" in _as(client, world.people[1]).get(_detail(incident)).content.decode()
    body = _as(client, world.reporter).get(_detail(incident)).content.decode()
    assert "Suspect the fuser" not in body
    assert "Actions" not in body  # a reporter may not act on the incident


def test_security_incident_page_is_404_for_outsiders(world, client):
    breach = world.incident(category=world.security_category)
    assert _as(client, world.people[4]).get(_detail(breach)).status_code == 404
    assert client.post(_act(breach, "acknowledge")).status_code == 404
    assert _as(client, world.person(3, team=world.security)).get(_detail(breach)).status_code == 200


def test_buttons_follow_the_policy(world, client):
    incident = force_state(world.incident(), Status.IN_PROGRESS, world.people[2])
    names = lambda response: {p["action"].name for p in response.context["buttons"] + response.context["panels"]}  # noqa: E731
    response = _as(client, world.people[2]).get(_detail(incident))
    level2 = names(response)
    assert {"hold", "assign"} <= level2
    # Notes and public updates are the composer's two kinds, not panels.
    assert [value for value, _ in response.context["composer"].fields["kind"].choices] == ["note", "update"]
    assert not level2 & {"resolve", "prioritise", "escalate", "cancel", "declare-major"}
    level3 = names(_as(client, world.people[3]).get(_detail(incident)))
    assert {"resolve", "prioritise", "escalate", "cancel"} <= level3 and "declare-major" not in level3
    body = _as(client, world.people[5]).get(_detail(incident)).content.decode()
    assert _act(incident, "declare-major") in body


def test_refused_action_is_403_with_a_message_and_changes_nothing(world, client):
    incident = force_state(world.incident(), Status.IN_PROGRESS, world.people[2])
    before = snapshot(incident)
    body = _as(client, world.people[2]).get(_detail(incident)).content.decode()
    assert _act(incident, "resolve") not in body
    response = client.post(_act(incident, "resolve"), {"resolution_code": "fixed", "resolution_notes": "done"})
    assert response.status_code == 403
    assert any("resolve" in m and "level 3" in m for m in _messages(response))
    assert snapshot(incident) == before


def test_action_in_the_wrong_state_is_409_and_changes_nothing(world, client):
    incident = world.incident()
    before = snapshot(incident)
    response = _as(client, world.people[3]).post(_act(incident, "resume"))
    assert response.status_code == 409
    assert _messages(response) == ["Cannot resume an incident that is new."]
    assert snapshot(incident) == before


def test_invalid_action_form_is_400_and_changes_nothing(world, client):
    incident = force_state(world.incident(), Status.IN_PROGRESS, world.people[2])
    before = snapshot(incident)
    response = _as(client, world.people[2]).post(_act(incident, "hold"), {"reason": ""})
    assert response.status_code == 400
    assert [p["action"].name for p in response.context["panels"] if p["open"]] == ["hold"]
    assert snapshot(incident) == before


def test_service_validation_error_is_shown(world, client):
    incident = world.incident()
    outsider = world.person(2, team=world.apps, username="outsider")
    before = snapshot(incident)
    response = _as(client, world.people[2]).post(_act(incident, "assign"), {"assignee": outsider.username})
    assert response.status_code == 400
    assert any("not a member of the team" in m for m in _messages(response))
    assert snapshot(incident) == before


def test_actions_run_the_services(world, client):
    incident = world.incident()
    _as(client, world.people[2])
    response = client.post(_act(incident, "start"))
    assert response.status_code == 302 and response.url == _detail(incident)
    incident.refresh_from_db()
    assert incident.status == Status.IN_PROGRESS and incident.assignee == world.people[2]
    assert client.post(_act(incident, "hold"), {"reason": "Waiting for a part"}).status_code == 302
    assert client.post(_act(incident, "notes"), {"body": "Part ordered"}).status_code == 302
    _as(client, world.people[3])
    assert client.post(_act(incident, "prioritise"), {"priority": 1, "reason": "CEO's printer"}).status_code == 302
    assert client.post(_act(incident, "resolve"), {"resolution_code": "fixed", "resolution_notes": "New fuser"}).status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.priority, incident.resolution_code) == (Status.RESOLVED, 1, "fixed")
    kinds = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", flat=True))
    assert {"started", "held", "note", "prioritised", "resolved"} <= set(kinds)


def test_htmx_action_answers_with_the_panel(world, client):
    incident = world.incident()
    response = _as(client, world.people[2]).post(_act(incident, "acknowledge"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<article id="incident"') and "<html" not in body
    assert "Acknowledge: done." in body
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None


def test_unknown_action_is_404_and_get_is_405(world, client):
    incident = world.incident()
    _as(client, world.people[5])
    assert client.post(_act(incident, "explode")).status_code == 404
    assert client.get(_act(incident, "acknowledge")).status_code == 405


def test_user_text_is_escaped(world, client):
    script = "<script>alert('x')</script>"
    incident = world.incident(title=f"Broken {script}", description=script)
    incident_add_note(actor=world.people[2], incident=incident, body=script)
    _as(client, world.people[2])
    for url in (QUEUE, _detail(incident)):
        body = client.get(url).content.decode()
        assert script not in body, url
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body, url
