"""Procedures in the browser: readable versions, the draft edited through forms at level
4, published at level 5, the history as a diff, and the dry run as a timeline."""

import pytest

from procedures.models import ProcedureChange, ProcedureVersion
from tests.factories import CalendarFactory

pytestmark = pytest.mark.django_db
URL = "/procedures/"


def _state():
    return (
        list(ProcedureVersion.objects.order_by("pk").values()),
        ProcedureChange.objects.count(),
    )


def _edit_data(client, slug="hardware", **changes):
    """The edit form as the page fills it in, with `changes` on top."""
    page = client.get(f"{URL}{slug}/edit/")
    data = {}
    for form in [page.context["form"], *page.context["rules"].forms, *page.context["steps"].forms]:
        for field in form:
            value = field.value()
            if value is not None and value is not False:
                data[field.html_name] = value
    for formset in (page.context["rules"], page.context["steps"]):
        for field in formset.management_form:
            data[field.html_name] = field.value()
    data.update(changes)
    return data


def test_the_list_and_a_procedure_read_in_words(world, client):
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.routing_rules = [{"name": "VPN", "words": ["vpn"], "team": "applications", "impact": 1}]
    version.escalation = [{"anchor": "resolve_due", "after": 1800, "action": "notify", "targets": {"min_level": 4}}]
    version.checklist = [{"title": "Check the cabling", "mandatory": True}]
    version.save()
    client.force_login(world.people[1])
    assert "hardware" in client.get(URL).content.decode().lower()
    body = client.get(f"{URL}hardware/").content.decode()
    assert "15 min" in body and "1 h" in body  # P1 with the test targets
    assert "If the title or description mentions vpn: route to applications and raise the impact to 1." in body
    assert "30 min after the resolution target: Notify (staff at level 4 and up)" in body
    assert "Check the cabling" in body and "mandatory" in body
    assert "Edit the draft" not in body and "Start a draft" not in body  # level 1 only reads


def test_requesters_may_not_see_procedures(world, client):
    client.force_login(world.reporter)
    assert client.get(URL).status_code == 403


def test_level_4_saves_a_draft_through_the_forms(world, client):
    client.force_login(world.people[4])
    data = _edit_data(
        client, p1_response_h=0, p1_response_m=20, checklist="!Check the cabling\nPhone the user",
        **{"rules-0-name": "Printers", "rules-0-words": "printer, toner", "rules-0-team": "applications",
           "steps-0-after_h": 0, "steps-0-after_m": 0, "steps-0-anchor": "resolve_due", "steps-0-action": "raise_level"},
    )  # fmt: skip
    response = client.post(f"{URL}hardware/edit/", data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    draft = ProcedureVersion.objects.get(procedure__slug="hardware", state="draft")
    assert draft.sla_targets["1"] == {"response": 1200, "resolution": 3600}
    assert draft.routing_rules == [{"name": "Printers", "words": ["printer", "toner"], "team": "applications"}]
    assert draft.escalation == [{"anchor": "resolve_due", "after": 0, "action": "raise_level", "targets": {}}]
    assert draft.checklist == [{"title": "Check the cabling", "mandatory": True}, {"title": "Phone the user", "mandatory": False}]
    published = ProcedureVersion.objects.get(procedure__slug="hardware", state="published")
    assert published.sla_targets["1"]["response"] == 900  # in force until published
    body = client.get(f"{URL}hardware/").content.decode()
    assert "P1: respond in 20 min, resolve in 1 h" in body  # the history's diff, in words
    assert "P1: respond in 15 min, resolve in 1 h" in body


def test_level_3_may_not_edit_and_nothing_changes(world, client):
    client.force_login(world.people[4])
    data = _edit_data(client, p1_response_m=20, p1_response_h=0)
    before = _state()
    client.force_login(world.people[3])
    assert client.get(f"{URL}hardware/edit/").status_code == 403
    assert client.post(f"{URL}hardware/edit/", data).status_code == 403
    assert _state() == before


@pytest.mark.parametrize("changes, message", [
    ({"p2_resolution_m": 75}, "p2_resolution_m"),
    ({"p3_response_h": 0, "p3_response_m": 0}, "p3_response_m"),
    ({"rules-0-name": "Nothing", "rules-0-words": "x"}, "Routing rules"),
    ({"steps-0-after_h": 1, "steps-0-after_m": 0, "steps-0-anchor": "created", "steps-0-action": "notify"}, "Escalation steps"),
])  # fmt: skip
def test_bad_input_is_400_with_a_clear_error_and_changes_nothing(world, client, changes, message):
    client.force_login(world.people[4])
    data = _edit_data(client, **changes)
    before = _state()
    response = client.post(f"{URL}hardware/edit/", data)
    assert response.status_code == 400
    form = response.context["form"]
    assert message in form.errors or any(message in e for e in form.non_field_errors())
    assert _state() == before


def test_level_5_publishes_level_4_may_not(world, client):
    client.force_login(world.people[4])
    client.post(f"{URL}hardware/edit/", _edit_data(client, warning_percent=50))
    before = _state()
    response = client.post(f"{URL}hardware/publish/")
    assert response.status_code == 403 and _state() == before
    client.force_login(world.people[5])
    assert "Publish version 2" in client.get(f"{URL}hardware/").content.decode()
    assert client.post(f"{URL}hardware/publish/").status_code == 302
    assert ProcedureVersion.objects.get(procedure__slug="hardware", state="published").number == 2
    assert client.post(f"{URL}hardware/publish/").status_code == 409  # no draft left


def test_get_on_publish_explains_itself(world, client):
    client.force_login(world.people[5])
    response = client.get(f"{URL}hardware/publish/")
    assert response.status_code == 405 and f'href="{URL}hardware/"' in response.content.decode()


def test_the_dry_run_is_a_timeline(world, client):
    office = CalendarFactory(
        slug="office-hours", name="Office hours", timezone="Europe/London", around_the_clock=False,
        working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    )  # fmt: skip
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.calendar = office
    version.escalation = [{"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}}]
    version.save()
    client.force_login(world.people[4])
    before = _state()
    response = client.get(f"{URL}hardware/dry-run/", {
        "title": "Laptop dead", "channel": "web", "impact": 2, "urgency": 2, "at": "2026-11-27T17:55",
    })  # fmt: skip
    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    assert timeline[0]["kind"] == "arrive" and "routed to infrastructure" in timeline[0]["text"]
    due = next(e for e in timeline if e["kind"] == "due")
    assert due["at"].isoformat() == "2026-11-30T09:45:00+00:00"  # Monday morning, over the weekend
    assert any(e["kind"] == "step" and "l4" in e["text"] for e in timeline)
    assert _state() == before


def test_the_dry_run_needs_level_4_and_valid_input(world, client):
    client.force_login(world.people[3])
    assert client.get(f"{URL}hardware/dry-run/").status_code == 403
    client.force_login(world.people[4])
    response = client.get(f"{URL}hardware/dry-run/", {"impact": 9, "urgency": 2, "at": "soon"})
    assert response.status_code == 400 and {"impact", "at"} <= set(response.context["form"].errors)
