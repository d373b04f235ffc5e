"""The incident page's procedure features: the checklist, named deadlines, closing with
an override, watching, the major-incident communications lead, the escalation policy and
the SLA clock badges (the same words as the API)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import errors, services
from incidents.models import (
    Incident,
    IncidentDeadline,
    IncidentTask,
    Status,
    TimelineEvent,
    Watcher,
)
from procedures.models import ProcedureVersion
from tests.factories import PersonFactory, ReporterFactory
from tests.incidents.helpers import act_url, detail_url, force_state, login, snapshot

pytestmark = pytest.mark.django_db

QUEUE = "/"
SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


_as, _detail, _act = login, detail_url, act_url


def _task(incident, position):
    return f"/incidents/{incident.reference}/tasks/{position}/done/"


def _deadline(incident, deadline):
    pk = deadline if isinstance(deadline, int) else deadline.pk
    return f"/incidents/{incident.reference}/deadlines/{pk}/met/"


def _watch(incident):
    return f"/incidents/{incident.reference}/watch/"


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _panel(response, name):
    return next(p for p in response.context["buttons"] + response.context["panels"] if p["action"].name == name)


@pytest.fixture
def hardware(world):
    return ProcedureVersion.objects.get(procedure__slug="hardware")


@pytest.fixture
def checklist(hardware):
    hardware.checklist = [{"title": "Back up the disk", "mandatory": True}, {"title": "Tidy up", "mandatory": False}]
    hardware.save()
    return hardware


@pytest.fixture
def deadlines(world):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.deadlines = [{"name": "Notify the regulator", "after": 3600}]
    version.save()
    return version


@pytest.fixture
def responder(world):
    return world.person(3, team=world.security, username="responder")


# --- the checklist -----------------------------------------------------------------------------


def test_checklist_card_lists_tasks_with_done_buttons(world, client, checklist):
    incident = world.incident()
    response = _as(client, world.people[2]).get(_detail(incident))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Checklist" in body and "Back up the disk" in body and "Tidy up" in body and "Mandatory" in body
    assert _task(incident, 1) in body and _task(incident, 2) in body


def test_task_done_via_the_page(world, client, checklist):
    incident = world.incident()
    response = _as(client, world.people[2]).post(_task(incident, 1))
    assert response.status_code == 302 and response.url == _detail(incident)
    task = IncidentTask.objects.get(incident=incident, position=1)
    assert task.done_at is not None and task.done_by == world.people[2]
    event = TimelineEvent.objects.get(incident=incident, kind="task_done")
    assert event.data == {"task": "Back up the disk", "position": 1} and event.actor == world.people[2]

    body = client.get(_detail(incident)).content.decode()
    assert _task(incident, 1) not in body and _task(incident, 2) in body
    assert "done by l2" in body


def test_task_done_with_htmx_answers_with_the_panel(world, client, checklist):
    incident = world.incident()
    response = _as(client, world.people[2]).post(_task(incident, 2), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<article id="incident"') and "<html" not in body
    assert "Task 2: done." in body and _task(incident, 2) not in body


@pytest.mark.parametrize("who", ["reporter", "level 1"])
def test_task_done_is_refused_below_level_2(world, client, checklist, who):
    incident = world.incident()
    person = world.reporter if who == "reporter" else world.people[1]
    page = _as(client, person).get(_detail(incident))
    assert page.status_code == 200  # the reporter sees their own incident and its checklist
    assert "Back up the disk" in page.content.decode() and _task(incident, 1) not in page.content.decode()
    before = snapshot(incident)
    response = client.post(_task(incident, 1))
    assert response.status_code == 403
    assert any("complete task" in m and "level 2" in m for m in _messages(response))
    assert snapshot(incident) == before
    assert not IncidentTask.objects.filter(incident=incident, done_at__isnull=False).exists()


def test_task_done_twice_is_409_and_unknown_task_400(world, client, checklist):
    incident = world.incident()
    assert _as(client, world.people[2]).post(_task(incident, 1), follow=True).status_code == 200
    before = snapshot(incident)
    response = client.post(_task(incident, 1))
    assert response.status_code == 409
    assert _messages(response) == [errors.TASK_DONE.format(title="Back up the disk")]
    response = client.post(_task(incident, 9))
    assert response.status_code == 400
    assert any(errors.NO_SUCH_TASK.format(position=9) in m for m in _messages(response))
    assert snapshot(incident) == before


def test_task_done_is_409_on_a_closed_incident(world, client, checklist):
    incident = force_state(world.incident(), Status.CLOSED, world.people[3])
    page = _as(client, world.people[3]).get(_detail(incident)).content.decode()
    assert _task(incident, 1) not in page  # not offered in that state
    before = snapshot(incident)
    response = client.post(_task(incident, 1))
    assert response.status_code == 409 and "closed" in _messages(response)[0]
    assert snapshot(incident) == before


def test_task_done_needs_post_and_a_sane_position(world, client, checklist):
    incident = world.incident()
    assert _as(client, world.people[2]).get(_task(incident, 1)).status_code == 405
    before = snapshot(incident)
    assert client.post(_task(incident, 10**20)).status_code == 400
    assert _as(client, world.people[3]).post(_deadline(incident, 10**30)).status_code == 400
    assert snapshot(incident) == before


# --- closing with mandatory tasks open --------------------------------------------------------


def test_close_blocked_by_an_open_mandatory_task_shows_the_409_message(world, client, checklist):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    page = _as(client, world.people[3]).get(_detail(incident))
    body = page.content.decode()
    assert _act(incident, "close") in body and "Closing needs the mandatory tasks done" in body
    assert "override_reason" not in _panel(page, "close")["form"].fields
    before = snapshot(incident)
    # Level 3 has no override field: a reason sent anyway is ignored, and the service says why.
    response = client.post(_act(incident, "close"), {"override_reason": "trust me"})
    assert response.status_code == 409
    assert _messages(response) == [errors.TASKS_OPEN.format(tasks="Back up the disk")]
    assert errors.TASKS_OPEN.format(tasks="Back up the disk") in response.content.decode()
    assert snapshot(incident) == before


def test_override_field_is_offered_only_to_level_4_and_only_with_mandatory_tasks_open(world, client, checklist):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    level4 = _as(client, world.people[4]).get(_detail(incident))
    assert "override_reason" in _panel(level4, "close")["form"].fields
    assert 'name="override_reason"' in level4.content.decode()
    level3 = _as(client, world.people[3]).get(_detail(incident))
    assert 'name="override_reason"' not in level3.content.decode()

    services.incident_complete_task(actor=world.people[2], incident=incident, position=1)
    level4 = _as(client, world.people[4]).get(_detail(incident))
    assert 'name="override_reason"' not in level4.content.decode()
    assert "Closing needs the mandatory tasks done" not in level4.content.decode()


def test_level_4_overrides_the_checklist_with_a_reason(world, client, checklist):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    _as(client, world.people[4])
    before = snapshot(incident)
    response = client.post(_act(incident, "close"), {"override_reason": ""})
    assert response.status_code == 409 and snapshot(incident) == before
    response = client.post(_act(incident, "close"), {"override_reason": "The disk was replaced"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED
    closed = TimelineEvent.objects.get(incident=incident, kind="closed")
    assert closed.data == {"override_reason": "The disk was replaced", "open_tasks": ["Back up the disk"]}


def test_close_with_the_tasks_done_is_a_plain_button(world, client, checklist):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    services.incident_complete_task(actor=world.people[2], incident=incident, position=1)
    page = _as(client, world.people[3]).get(_detail(incident))
    assert "close" in [p["action"].name for p in page.context["buttons"]]
    assert client.post(_act(incident, "close")).status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.CLOSED


# --- named deadlines ----------------------------------------------------------------------------


def test_deadlines_card_shows_name_due_and_state(world, client, deadlines, responder):
    incident = world.incident(category=world.security_category)
    deadline = IncidentDeadline.objects.get(incident=incident)
    response = _as(client, responder).get(_detail(incident))
    body = response.content.decode()
    assert "Deadlines" in body and "Notify the regulator" in body
    assert [row["state"] for row in response.context["deadlines"]] == ["running"]
    assert _deadline(incident, deadline) in body and 'name="note"' in body

    IncidentDeadline.objects.filter(pk=deadline.pk).update(remind_at=timezone.now() - timedelta(minutes=1))
    assert [row["state"] for row in client.get(_detail(incident)).context["deadlines"]] == ["warning"]
    IncidentDeadline.objects.filter(pk=deadline.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    response = client.get(_detail(incident))
    assert [row["state"] for row in response.context["deadlines"]] == ["breached"]
    assert "Breached" in response.content.decode()


def test_deadline_marked_met_by_a_security_level_3(world, client, deadlines, responder):
    incident = world.incident(category=world.security_category)
    deadline = IncidentDeadline.objects.get(incident=incident)
    response = _as(client, responder).post(_deadline(incident, deadline), {"note": "Case 42 opened"})
    assert response.status_code == 302 and response.url == _detail(incident)
    deadline.refresh_from_db()
    assert deadline.met_at is not None and deadline.met_by == responder
    event = TimelineEvent.objects.get(incident=incident, kind="deadline_met")
    assert event.data == {"deadline": "Notify the regulator", "late": False, "note": "Case 42 opened"}

    page = client.get(_detail(incident))
    body = page.content.decode()
    assert [row["state"] for row in page.context["deadlines"]] == ["met"]
    assert "Met" in body and "by responder" in body and _deadline(incident, deadline) not in body

    before = snapshot(incident)
    response = client.post(_deadline(incident, deadline))
    assert response.status_code == 409
    assert _messages(response) == [errors.DEADLINE_MET.format(name="Notify the regulator")]
    assert snapshot(incident) == before


def test_deadline_refusals_and_bad_input_change_nothing(world, client, deadlines, responder):
    incident = world.incident(category=world.security_category)
    deadline = IncidentDeadline.objects.get(incident=incident)
    before = snapshot(incident)

    # Level 2 in the security team sees the incident but may not record the deadline.
    junior = world.person(2, team=world.security, username="junior")
    page = _as(client, junior).get(_detail(incident)).content.decode()
    assert "Notify the regulator" in page and _deadline(incident, deadline) not in page
    response = client.post(_deadline(incident, deadline))
    assert response.status_code == 403 and any("record deadline" in m for m in _messages(response))
    # Outside the security team the incident does not exist.
    assert _as(client, world.people[4]).post(_deadline(incident, deadline)).status_code == 404

    _as(client, responder)
    response = client.post(_deadline(incident, deadline), {"note": "x" * 2001})
    assert response.status_code == 400
    assert [row["open"] for row in response.context["deadlines"]] == [True]
    assert response.context["deadlines"][0]["form"].errors["note"]
    other = IncidentDeadline.objects.get(incident=world.incident(category=world.security_category))
    response = client.post(_deadline(incident, other))  # another incident's deadline
    assert response.status_code == 400 and any(errors.NO_SUCH_DEADLINE in m for m in _messages(response))
    assert IncidentDeadline.objects.get(pk=other.pk).met_at is None
    response = client.post(_deadline(incident, 999999))
    assert response.status_code == 400 and any(errors.NO_SUCH_DEADLINE in m for m in _messages(response))
    assert snapshot(incident) == before
    assert IncidentDeadline.objects.get(pk=deadline.pk).met_at is None


# --- watching ------------------------------------------------------------------------------------


def test_reporter_watches_and_stops_watching(world, client):
    incident = world.incident()
    _as(client, world.reporter)
    body = client.get(_detail(incident)).content.decode()
    assert _watch(incident) in body and ">Watch</button>" in body and 'value="1"' in body

    response = client.post(_watch(incident), {"watching": "1"})
    assert response.status_code == 302 and response.url == _detail(incident)
    assert Watcher.objects.filter(incident=incident, person=world.reporter).exists()
    page = client.get(_detail(incident))
    assert page.context["watching"] and "Stop watching" in page.content.decode()
    assert page.context["watchers"] is None  # a reporter is not shown who else watches

    response = client.post(_watch(incident), {"watching": "0"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "You stopped watching" in response.content.decode()
    assert not Watcher.objects.filter(incident=incident).exists()
    kinds = list(TimelineEvent.objects.filter(incident=incident, kind="watching").values_list("data", flat=True))
    assert kinds == [{"watching": True}, {"watching": False}]


def test_staff_see_who_watches(world, client):
    incident = world.incident()
    services.incident_watch(actor=world.reporter, incident=incident)
    page = _as(client, world.people[1]).get(_detail(incident))
    assert [w.person for w in page.context["watchers"]] == [world.reporter]
    assert "1 watching: rita" in page.content.decode()


def test_watch_bad_input_is_400_and_others_get_404(world, client):
    incident = world.incident()
    before = snapshot(incident)
    response = _as(client, world.reporter).post(_watch(incident), {"watching": "maybe"})
    assert response.status_code == 400 and snapshot(incident) == before
    stranger = ReporterFactory(username="stranger")
    assert _as(client, stranger).post(_watch(incident), {"watching": "1"}).status_code == 404
    assert not Watcher.objects.exists()


# --- declaring a major incident -------------------------------------------------------------------


def test_comms_lead_select_lists_only_level_5_staff(world, client):
    PersonFactory(username="l5-apps", sfia_level=5, teams=[world.apps])
    PersonFactory(username="l5-gone", sfia_level=5, teams=[world.apps], is_active=False)
    incident = world.incident()
    page = _as(client, world.people[5]).get(_detail(incident))
    field = _panel(page, "declare-major")["form"].fields["comms_lead"]
    assert [p.username for p in field.queryset] == ["l5", "l5-apps"]
    select = re.search(r'<select name="comms_lead".*?</select>', page.content.decode(), re.S).group()
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "l5", "l5-apps"]


def test_comms_lead_select_follows_the_procedures_level(world, client, hardware):
    hardware.action_levels = {"declare_major": 4}
    hardware.save()
    incident = world.incident()
    page = _as(client, world.people[4]).get(_detail(incident))
    field = _panel(page, "declare-major")["form"].fields["comms_lead"]
    assert [p.username for p in field.queryset] == ["l4", "l5"]


def test_declare_major_with_a_comms_lead(world, client):
    lead = PersonFactory(username="l5-apps", sfia_level=5, teams=[world.apps])
    incident = world.incident()
    _as(client, world.people[5])
    before = snapshot(incident)
    response = client.post(_act(incident, "declare-major"), {"reason": "Whole floor down", "comms_lead": "l4"})
    assert response.status_code == 400
    assert _panel(response, "declare-major")["open"]
    assert response.context["messages"] and "comms_lead" in _panel(response, "declare-major")["form"].errors
    assert snapshot(incident) == before

    response = client.post(_act(incident, "declare-major"), {"reason": "Whole floor down", "comms_lead": "l5-apps"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.is_major and incident.comms_lead == lead and incident.next_update_due_at is not None
    body = client.get(_detail(incident)).content.decode()
    assert "Major incident" in body and "Comms lead" in body and "(l5-apps)" in body
    assert "Next update due" in body and "Escalation level" in body


def test_declare_major_without_a_lead_names_the_declarer(world, client):
    incident = world.incident()
    response = _as(client, world.people[5]).post(_act(incident, "declare-major"), {"reason": "Floor down"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.comms_lead == world.people[5]


# --- the escalation policy -------------------------------------------------------------------------


def test_escalation_policy_table(world, client, hardware):
    hardware.escalation = [
        {"anchor": "created", "after": 0, "action": "raise_level", "targets": {}},
        {"anchor": "response_due", "after": 1800, "action": "notify", "targets": {"min_level": 4}},
        {"anchor": "resolve_due", "after": 5400, "action": "handover", "targets": {"team": "applications"}},
    ]
    hardware.save()
    incident = world.incident()
    page = _as(client, world.people[1]).get(_detail(incident))
    rows = page.context["escalation"]
    assert [(r["when"], r["action"], r["targets"]) for r in rows] == [
        ("At registration", "Raise the escalation level", ""),
        ("30 min after the response target", "Notify", "staff at level 4 and up"),
        ("1 h 30 min after the resolution target", "Hand over", "team applications"),
    ]
    assert all(r["due_at"] is not None and r["ran_at"] is None for r in rows)
    body = page.content.decode()
    assert "Escalation policy" in body and "30 min after the response target" in body
    assert "Escalation policy" not in _as(client, world.reporter).get(_detail(incident)).content.decode()


# --- SLA clock badges ------------------------------------------------------------------------------


def _api_clocks(api, person, incident):
    data = api(person).get(f"/api/v1/incidents/{incident.reference}/").json()
    return {"response": data["response_clock"], "resolution": data["resolution_clock"]}


def test_badges_show_the_clock_states_the_api_gives(world, client, api):
    incident = world.incident()
    person = world.people[2]
    _as(client, person)
    past = timezone.now() - timedelta(minutes=1)

    def check(expected, words):
        page = client.get(_detail(incident))
        assert page.context["marks"] == expected == _api_clocks(api, person, incident)
        body = page.content.decode()
        for word in words:
            assert word in body
        return body

    check({"response": "running", "resolution": "running"}, ["Running"])
    Incident.objects.filter(pk=incident.pk).update(response_warn_at=past)
    check({"response": "warning", "resolution": "running"}, ["Warning", "Running"])
    Incident.objects.filter(pk=incident.pk).update(response_due_at=past)
    check({"response": "breached", "resolution": "running"}, ["Breached"])
    services.incident_start(actor=person, incident=incident)  # acknowledged late
    services.incident_hold(actor=person, incident=incident, reason="Waiting for a part")
    check({"response": "breached", "resolution": "paused"}, ["Breached", "Paused"])
    Incident.objects.filter(pk=incident.pk).update(response_due_at=timezone.now() + timedelta(hours=1))
    Incident.objects.filter(pk=incident.pk).update(response_breached=False)
    check({"response": "met", "resolution": "paused"}, ["Met", "Paused"])


def test_queue_badges_use_the_clock_states(world, client):
    running = world.incident(title="Running one")
    warned = world.incident(title="Warned one")
    Incident.objects.filter(pk=warned.pk).update(response_warn_at=timezone.now() - timedelta(minutes=1))
    response = _as(client, world.people[1]).get(QUEUE)
    marks = {i.pk: i.marks for i in response.context["incidents"]}
    assert marks[running.pk] == {"response": "running", "resolution": "running"}
    assert marks[warned.pk] == {"response": "warning", "resolution": "running"}
    body = response.content.decode()
    assert "Warning" in body and "Running" in body and "row-warning" in body and "row-breached" not in body


# --- escaping ----------------------------------------------------------------------------------------


def test_procedure_and_user_text_is_escaped(world, client, responder):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.checklist = [{"title": f"Task {SCRIPT}", "mandatory": True}]
    version.deadlines = [{"name": f"Deadline {SCRIPT}", "after": 3600}]
    version.escalation = [{"anchor": "created", "after": 0, "action": "notify", "targets": {"person": SCRIPT}}]
    version.save()
    incident = world.incident(category=world.security_category)
    deadline = IncidentDeadline.objects.get(incident=incident)
    services.incident_meet_deadline(actor=responder, incident=incident, deadline_id=deadline.pk, note=SCRIPT)
    body = _as(client, responder).get(_detail(incident)).content.decode()
    assert SCRIPT not in body
    assert body.count(ESCAPED) >= 4  # task, deadline, escalation target, the note on the timeline
