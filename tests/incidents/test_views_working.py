"""Working an incident quickly on its page: assign to me, the composer, the timeline
(newest first, filtered, internal entries marked), edit in place, and the page a GET on
an action URL gets."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from incidents.models import Status, TimelineEvent
from tests.factories import CategoryFactory, ProcedureFactory, ProcedureVersionFactory
from tests.incidents.helpers import act_url, detail_url, force_state, login, snapshot

pytestmark = pytest.mark.django_db


def compose_url(incident):
    return f"/incidents/{incident.reference}/compose/"


def edit_url(incident):
    return f"/incidents/{incident.reference}/edit/"


def _messages(response):
    return [str(m) for m in response.context["messages"]]


# --- assign to me ----------------------------------------------------------------------------


def test_assign_to_me_in_one_click(world, client):
    incident = world.incident()
    login(client, world.people[2])
    page = client.get(detail_url(incident))
    assert page.context["may_take"] and 'id="assign-to-me"' in page.content.decode()
    response = client.post(act_url(incident, "assign"), {"assignee": "l2"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.assignee, incident.status) == (world.people[2], Status.ASSIGNED)
    assert not response.context["may_take"]  # it is theirs now


def test_assign_to_me_is_not_offered_at_level_1_and_is_refused(world, client):
    incident = world.incident()
    login(client, world.people[1])
    assert not client.get(detail_url(incident)).context["may_take"]
    before = snapshot(incident)
    # Level 1 has no person field on the assign form: a person alone is no allocation.
    response = client.post(act_url(incident, "assign"), {"assignee": "l1"})
    assert response.status_code == 400 and any("Assign" in m for m in _messages(response))
    assert snapshot(incident) == before
    # Through the service, the policy names the refusal.
    with pytest.raises(services.Forbidden, match="allocate person"):
        services.incident_assign(actor=world.people[1], incident=incident, assignee=world.people[1])
    assert snapshot(incident) == before


def test_assign_to_me_is_not_offered_outside_the_team(world, client):
    incident = world.incident()
    outsider = world.person(2, team=world.apps, username="appsy")
    assert not login(client, outsider).get(detail_url(incident)).context["may_take"]


# --- the composer --------------------------------------------------------------------------


def test_composer_adds_an_internal_note(world, client):
    incident = world.incident()
    login(client, world.people[2])
    response = client.post(compose_url(incident), {"kind": "note", "body": "Fuser is hot"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Internal note added." in _messages(response)
    event = TimelineEvent.objects.get(incident=incident, kind="note")
    assert (event.data["body"], event.is_public) == ("Fuser is hot", False)
    body = response.content.decode()
    assert 'id="composer-form"' in body  # still there, empty, for the next one
    assert "Fuser is hot</textarea>" not in body


def test_composer_posts_a_public_update(world, client):
    incident = world.incident()
    login(client, world.people[2])
    response = client.post(compose_url(incident), {"kind": "update", "body": "Engineer on the way"})
    assert response.status_code == 302
    event = TimelineEvent.objects.get(incident=incident, kind="public_update")
    assert (event.data["body"], event.is_public) == ("Engineer on the way", True)


def test_composer_refuses_level_1_and_changes_nothing(world, client):
    incident = world.incident()
    login(client, world.people[1])
    assert client.get(detail_url(incident)).context["composer"] is None
    before = snapshot(incident)
    response = client.post(compose_url(incident), {"kind": "note", "body": "Hello"})
    assert response.status_code == 403 and any("note" in m and "level 2" in m for m in _messages(response))
    assert snapshot(incident) == before


@pytest.mark.parametrize("data, field", [({"kind": "note", "body": "  "}, "body"), ({"kind": "shout", "body": "x"}, "kind")])
def test_composer_bad_input_is_400_naming_the_field(world, client, data, field):
    incident = world.incident()
    login(client, world.people[2])
    before = snapshot(incident)
    response = client.post(compose_url(incident), data)
    assert response.status_code == 400
    assert field in response.context["composer"].errors
    assert snapshot(incident) == before


def test_composer_keeps_the_text_when_refused_by_the_form(world, client):
    incident = world.incident()
    login(client, world.people[2])
    response = client.post(compose_url(incident), {"kind": "", "body": "Keep me"})
    assert response.status_code == 400 and "Keep me</textarea>" in response.content.decode()


# --- the timeline ----------------------------------------------------------------------------


@pytest.fixture
def busy(world):
    incident = world.incident()
    services.incident_add_note(actor=world.people[2], incident=incident, body="A note")
    services.incident_add_public_update(actor=world.people[2], incident=incident, body="An update")
    return incident


def _kinds(response):
    return [row["event"].kind for row in response.context["timeline"]]


def test_timeline_is_newest_first(world, client, busy):
    assert _kinds(login(client, world.people[2]).get(detail_url(busy))) == [
        "public_update", "note", "routed", "registered",
    ]  # fmt: skip


@pytest.mark.parametrize("shown, kinds", [
    ("public", ["public_update", "registered"]),
    ("notes", ["note"]),
    ("system", ["routed", "registered"]),
    ("all", ["public_update", "note", "routed", "registered"]),
    ("nonsense", ["public_update", "note", "routed", "registered"]),
])  # fmt: skip
def test_timeline_filter(world, client, busy, shown, kinds):
    response = login(client, world.people[2]).get(detail_url(busy), {"timeline": shown})
    assert _kinds(response) == kinds


def test_internal_entries_look_different_from_public_ones(world, client, busy):
    body = login(client, world.people[2]).get(detail_url(busy)).content.decode()
    note = body.split("event-note")[1].split("</li>")[0]
    update = body.split("event-public_update")[1].split("</li>")[0]
    assert "event-internal" in note and "badge-internal" in note and 'viewBox="0 0 16 16"' in note
    assert "event-public" in update and "badge-public" in update and 'viewBox="0 0 16 16"' in update
    assert note.count("M4 7V5") == 1 and update.count("M13 2v12") == 1  # the lock, the megaphone


def test_the_reporter_sees_neither_notes_nor_the_composer(world, client, busy):
    response = login(client, world.reporter).get(detail_url(busy))
    assert "note" not in _kinds(response) and response.context["composer"] is None


def test_routing_is_explained(world, client):
    incident = world.incident()
    response = login(client, world.people[1]).get(detail_url(incident))
    routed = next(row for row in response.context["timeline"] if row["event"].kind == "routed")
    assert routed["why"].startswith("Routed to infrastructure: the procedure's own team (no rule matched)")


def test_detail_page_queries_do_not_grow_with_the_timeline(world, client, django_assert_max_num_queries):
    incident = world.incident()
    login(client, world.people[2])
    with CaptureQueriesContext(connection) as few:
        assert client.get(detail_url(incident)).status_code == 200
    for n in range(15):
        services.incident_add_note(actor=world.people[2], incident=incident, body=f"note {n}")
        services.incident_add_public_update(actor=world.people[3], incident=incident, body=f"update {n}")
    with django_assert_max_num_queries(len(few)):
        assert client.get(detail_url(incident)).status_code == 200


# --- edit in place -------------------------------------------------------------------------


def _edit(world, incident, **changes):
    data = {"title": incident.title, "description": incident.description, "category": incident.category.slug,
            "service": incident.service.slug if incident.service_id else "", "impact": incident.impact,
            "urgency": incident.urgency}  # fmt: skip
    return {**data, **changes}


def test_edit_in_place_reroutes_and_says_why(world, client):
    software = CategoryFactory(
        slug="software", procedure=ProcedureVersionFactory(procedure=ProcedureFactory(slug="software"), team=world.apps).procedure
    )  # fmt: skip
    incident = world.incident()
    login(client, world.people[1])
    form = client.get(detail_url(incident)).context["edit_form"]
    assert form.initial["category"] == "hardware"
    response = client.post(edit_url(incident), _edit(world, incident, category="software", urgency=1), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Details saved." in _messages(response)
    incident.refresh_from_db()
    assert (incident.category, incident.team, incident.urgency, incident.priority) == (software, world.apps, 1, 2)
    edited = TimelineEvent.objects.filter(incident=incident, kind="edited").get()
    assert edited.data["after"]["category"] == "software"
    routed = next(row for row in response.context["timeline"] if row["event"].kind == "routed")
    assert "Routed to applications" in routed["why"] and "procedure software" in routed["why"]


@pytest.mark.parametrize("changes, field", [({"impact": 7}, "impact"), ({"title": ""}, "title"), ({"category": "nope"}, "category")])
def test_edit_bad_input_is_400_naming_the_field(world, client, changes, field):
    incident = world.incident()
    login(client, world.people[1])
    before = snapshot(incident)
    response = client.post(edit_url(incident), _edit(world, incident, **changes))
    assert response.status_code == 400 and field in response.context["edit_form"].errors
    assert snapshot(incident) == before


def test_edit_is_refused_to_the_reporter_and_changes_nothing(world, client):
    incident = world.incident()
    login(client, world.reporter)
    assert client.get(detail_url(incident)).context["edit_form"] is None
    before = snapshot(incident)
    response = client.post(edit_url(incident), _edit(world, incident, title="Mine now"))
    assert response.status_code == 403 and snapshot(incident) == before


def test_edit_is_not_offered_once_resolved(world, client):
    incident = force_state(world.incident(), Status.RESOLVED, world.people[3])
    login(client, world.people[3])
    assert client.get(detail_url(incident)).context["edit_form"] is None
    response = client.post(edit_url(incident), _edit(world, incident, title="Later"))
    assert response.status_code == 409


# --- a GET on an action URL --------------------------------------------------------------


@pytest.mark.parametrize("path", ["resolve/", "compose/", "edit/", "watch/", "tasks/1/done/"])
def test_get_on_an_action_url_explains_itself(world, client, path):
    incident = world.incident()
    login(client, world.people[2])
    response = client.get(f"{detail_url(incident)}{path}")
    assert response.status_code == 405 and response["Allow"] == "POST"
    body = response.content.decode()
    assert "This address does something" in body and f'href="{detail_url(incident)}"' in body
