"""Registering a call: the channel, the caller looked up by name or email, the priority
preview, similar open incidents (within what the person may see), linking to one or
adding the caller as affected, and one incident however often the form is sent."""

import uuid

import pytest

from incidents import services
from incidents.models import AffectedPerson, Incident, IncidentLink, Status, TimelineEvent, Watcher
from skills.errors import Forbidden
from tests.incidents.helpers import force_state, login

pytestmark = pytest.mark.django_db
REGISTER = "/incidents/new/"
SIMILAR = "/incidents/new/similar/"
CALLERS = "/incidents/new/callers/"


def _form(world, **overrides):
    return {"title": "Laptop will not boot", "description": "Black screen", "category": world.hardware.pk,
            "service": world.service.pk, "impact": 2, "urgency": 1, **overrides}  # fmt: skip


def test_staff_choose_the_channel_and_name_the_caller_by_email(world, client):
    login(client, world.people[1])
    page = client.get(REGISTER)
    assert [value for value, _ in page.context["form"].fields["channel"].choices] == [
        "phone", "email", "walk_in", "web", "chat",
    ]  # fmt: skip
    response = client.post(REGISTER, _form(world, channel="walk_in", reporter="RITA@example.com"))
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert (incident.channel, incident.reporter, incident.created_by) == ("walk_in", world.reporter, world.people[1])


def test_a_bad_channel_is_a_form_error(world, client):
    response = login(client, world.people[1]).post(REGISTER, _form(world, channel="pigeon"))
    assert response.status_code == 400 and "channel" in response.context["form"].errors
    assert not Incident.objects.exists()


def test_reporters_have_no_channel_and_register_on_the_web(world, client):
    login(client, world.reporter)
    assert "channel" not in client.get(REGISTER).context["form"].fields
    client.post(REGISTER, _form(world, channel="phone"))
    assert Incident.objects.get().channel == "web"


def test_caller_lookup_by_name_or_email(world, client):
    world.reporter.first_name = "Rita"
    world.reporter.save()
    login(client, world.people[1])
    assert "rita" in client.get(CALLERS, {"reporter": "Ri"}).content.decode()
    assert "rita" in client.get(CALLERS, {"reporter": "rita@ex"}).content.decode()
    assert "rita" not in client.get(CALLERS, {"reporter": "zzz"}).content.decode()


def test_caller_lookup_is_for_staff(world, client):
    assert login(client, world.reporter).get(CALLERS, {"reporter": "l"}).status_code == 403


def test_the_priority_preview_reads_the_matrix_in_force(world, client):
    body = login(client, world.people[1]).get(REGISTER).content.decode()
    assert 'data-priority-matrix="' in body and "11:1" in body and "33:5" in body
    assert 'id="priority-preview"' in body


# --- similar open incidents ----------------------------------------------------------------


def _hints(client, title):
    return [hint.reference for hint in client.get(SIMILAR, {"title": title}).context["hints"]]


def test_similar_open_incidents_are_hinted(world, client):
    printer = world.incident(title="Printer jammed on floor 3")
    world.incident(title="VPN drops every five minutes")
    closed = force_state(world.incident(title="Printer toner empty"), Status.CLOSED, world.people[3])
    login(client, world.people[1])
    assert _hints(client, "printer paper jam") == [printer.reference]
    assert closed.reference not in _hints(client, "printer toner")
    assert _hints(client, "pr") == []


def test_hints_respect_visibility(world, client):
    breach = world.incident(title="Phishing mail with printer invoice", category=world.security_category)
    own = world.incident(title="Printer smells of burning", reporter=world.reporter)
    other = world.incident(title="Printer offline", reporter=world.owner)
    assert breach.reference not in _hints(login(client, world.people[4]), "printer invoice")
    assert breach.reference in _hints(login(client, world.people[5]), "printer invoice")
    reporter_sees = _hints(login(client, world.reporter), "printer")
    assert own.reference in reporter_sees and other.reference not in reporter_sees


def test_the_register_page_keeps_hints_after_a_form_error(world, client):
    printer = world.incident(title="Printer jammed")
    response = login(client, world.people[2]).post(REGISTER, _form(world, title="Printer again", impact=9))
    assert response.status_code == 400 and [h.reference for h in response.context["hints"]] == [printer.reference]


# --- link to it, add me as affected ----------------------------------------------------------


def test_link_the_new_incident_to_a_hinted_one(world, client):
    first = world.incident(title="Printer jammed")
    response = login(client, world.people[2]).post(REGISTER, _form(world, link_to=first.reference))
    assert response.status_code == 302
    new = Incident.objects.latest("pk")
    assert IncidentLink.objects.filter(incident=new, other=first).exists()
    assert TimelineEvent.objects.get(incident=first, kind="linked").data["other"] == new.reference
    assert TimelineEvent.objects.get(incident=new, kind="linked").data["other"] == first.reference


def test_linking_is_refused_at_level_1_and_nothing_is_registered(world, client):
    first = world.incident(title="Printer jammed")
    login(client, world.people[1])
    assert client.get(REGISTER).context["may_link"] is False
    count = Incident.objects.count()
    response = client.post(REGISTER, _form(world, link_to=first.reference))
    assert response.status_code == 403 and Incident.objects.count() == count
    assert not IncidentLink.objects.exists()


def test_linking_to_an_invisible_incident_is_a_form_error(world, client):
    breach = world.incident(category=world.security_category)
    response = login(client, world.people[2]).post(REGISTER, _form(world, link_to=breach.reference))
    assert response.status_code == 400 and Incident.objects.count() == 1


def test_this_is_the_same_adds_the_caller_as_affected(world, client):
    first = world.incident(title="Printer jammed", reporter=world.owner)
    caller = world.person(1, username="caller")
    login(client, world.people[1])
    response = client.post(f"/incidents/{first.reference}/affected/", _form(world, reporter="caller"))
    assert response.status_code == 302 and response.url == f"/incidents/{first.reference}/"
    assert Incident.objects.count() == 1  # no new incident
    assert AffectedPerson.objects.filter(incident=first, person=caller, added_by=world.people[1]).exists()
    assert Watcher.objects.filter(incident=first, person=caller).exists()
    event = TimelineEvent.objects.get(incident=first, kind="affected")
    assert event.data == {"person": "caller"} and not event.is_public
    again = client.post(f"/incidents/{first.reference}/affected/", _form(world, reporter="caller"))
    assert again.status_code == 400 and AffectedPerson.objects.count() == 1


def test_a_reporter_adds_only_themselves(world):
    mine = world.incident(title="Printer jammed", reporter=world.reporter)
    with pytest.raises(Forbidden):
        services.incident_add_affected(actor=world.reporter, incident=mine, person=world.owner)
    assert not AffectedPerson.objects.exists()


def test_add_affected_needs_an_open_incident(world, client):
    closed = force_state(world.incident(), Status.CLOSED, world.people[3])
    response = login(client, world.people[1]).post(f"/incidents/{closed.reference}/affected/", {})
    assert response.status_code == 409 and not AffectedPerson.objects.exists()


# --- double submission -------------------------------------------------------------------


def test_the_same_form_sent_twice_registers_one_incident(world, client):
    key = str(uuid.uuid4())
    login(client, world.people[1])
    first = client.post(REGISTER, _form(world, registration_key=key))
    second = client.post(REGISTER, _form(world, registration_key=key))
    assert Incident.objects.count() == 1
    assert first.url == second.url == Incident.objects.get().get_absolute_url()
    assert TimelineEvent.objects.filter(kind="registered").count() == 1


def test_the_register_page_carries_a_fresh_key(world, client):
    login(client, world.people[1])
    keys = {client.get(REGISTER).context["form"]["registration_key"].value() for _ in range(2)}
    assert len(keys) == 2 and all(keys)


def test_someone_elses_key_is_refused(world):
    key = uuid.uuid4()
    world.incident(registration_key=key)
    with pytest.raises(Exception, match="already used"):
        world.incident(actor=world.people[2], registration_key=key)
    assert Incident.objects.count() == 1
