"""Journeys through the desk in a real browser (issue 9, part B): registering a call with
a similar-incident hint, working an incident to resolved from the keyboard, editing,
publishing and dry-running a procedure, and a reporter replying and confirming. Each
main page is checked with axe-core. With FIREBREAK_SCREENSHOTS=1 the README's
screenshots are taken on the way."""

import os
from pathlib import Path

import pytest

from incidents import services
from incidents.models import IncidentLink, Status, TimelineEvent
from procedures.models import ProcedureVersion
from tests.incidents.helpers import force_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(page, name):
    if os.environ.get("FIREBREAK_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / name), full_page=False)


def test_register_a_call_with_a_similar_incident_hint(world, page, sign_in, axe_violations):
    first = world.incident(title="Printer jammed on floor 3")
    sign_in(world.people[2])
    page.goto("/incidents/new/")
    page.get_by_label("Channel").select_option("phone")
    page.get_by_label("Caller").fill("rita")
    page.get_by_label("Title").fill("printer jam again")
    hint = page.locator("#similar")
    hint.get_by_text("Printer jammed on floor 3").wait_for()
    page.get_by_label("Impact").select_option("1")
    page.get_by_label("Urgency").select_option("1")
    assert page.locator("#priority-preview").inner_text() == "P1"
    page.get_by_label("Category").select_option(label=world.hardware.name)
    assert axe_violations(page) == []
    hint.get_by_label("Link to it").check()
    page.get_by_role("button", name="Register incident").click()
    page.get_by_text("registered.").wait_for()
    link = IncidentLink.objects.get(other=first)
    assert (link.incident.channel, link.incident.reporter, link.incident.priority) == ("phone", world.reporter, 1)


def test_work_an_incident_to_resolved_with_the_keyboard(world, page, sign_in, axe_violations):
    incident = world.incident(title="Projector smells of smoke")
    sign_in(world.people[3])
    page.goto(f"/incidents/{incident.reference}/")
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("Escape")
    # Inside a text field the shortcuts stay letters.
    composer = page.get_by_label("Message")
    composer.focus()
    page.keyboard.type("a first look")
    assert composer.input_value() == "a first look"
    page.keyboard.press("Tab")  # the Add button
    page.keyboard.press("Enter")
    page.get_by_text("Internal note added.").wait_for()
    # Focus comes back for the next one once htmx has settled the swap (a tick after the text shows).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'id_compose_body'", timeout=5000)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("a")  # assign to me
    page.get_by_text("Assign: done.").wait_for()
    incident.refresh_from_db()
    assert incident.assignee == world.people[3]
    page.get_by_role("button", name="Start work").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Start work: done.").wait_for()
    page.locator("summary", has_text="Resolve").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Resolution code").focus()
    page.keyboard.type("fixed")
    page.keyboard.press("Tab")
    page.keyboard.type("Replaced the lamp")
    page.get_by_role("button", name="Resolve", exact=True).focus()
    page.keyboard.press("Enter")
    page.get_by_text("Resolve: done.").wait_for()
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert TimelineEvent.objects.filter(incident=incident, kind="note").exists()
    _shot(page, "incident.png")
    assert axe_violations(page) == []


def test_the_incident_page_fits_a_phone(world, browser, live_server):
    incident = world.incident(title="A rather long title about the projector in meeting room 4 that smells of smoke")
    services.incident_add_note(actor=world.people[2], incident=incident, body="x" * 300)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill("l2")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/incidents/{incident.reference}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_edit_publish_and_dry_run_a_procedure(world, page, sign_in, axe_violations):
    sign_in(world.people[5])
    page.goto("/procedures/hardware/")
    page.get_by_role("link", name="Start a draft").click()
    page.get_by_label("P1 response hours").fill("0")
    page.get_by_label("P1 response minutes").fill("20")
    page.locator("#id_rules-0-name").fill("Printers")
    page.locator("#id_rules-0-words").fill("printer, toner")
    page.locator("#id_rules-0-team").select_option("applications")
    _shot(page, "procedure-editor.png")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Save the draft").click()
    page.get_by_text("Draft saved.").wait_for()
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_text("Published:").wait_for()
    published = ProcedureVersion.objects.get(procedure__slug="hardware", state="published")
    assert published.number == 2 and published.sla_targets["1"]["response"] == 1200
    page.get_by_role("link", name="Dry run").click()
    page.get_by_label("Title").fill("Printer on fire")
    page.get_by_label("Arriving at").fill("2026-11-27T17:55")
    page.get_by_role("button", name="Run").click()
    page.get_by_text("routed to applications (Printers)").wait_for()
    assert page.locator(".dry-run li").count() >= 5


def test_a_reporter_replies_and_confirms(world, page, sign_in, axe_violations):
    incident = force_state(world.incident(title="Cannot print", reporter=world.reporter), Status.IN_PROGRESS, world.people[3])
    services.incident_add_public_update(actor=world.people[3], incident=incident, body="Engineer on the way")
    sign_in(world.reporter)
    assert page.get_by_role("heading", name="My incidents").is_visible()
    page.get_by_role("link", name="Cannot print").click()
    page.get_by_text("Engineer on the way").wait_for()
    page.get_by_label("Your reply").fill("It is on the second floor")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Your reply was added.").wait_for()
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed",
                              resolution_notes="New drum")  # fmt: skip
    page.reload()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Yes, it is fixed").click()
    page.get_by_text("we have noted that it is fixed").wait_for()
    assert TimelineEvent.objects.filter(incident=incident, kind="comment", actor=world.reporter).exists()
    assert TimelineEvent.objects.filter(incident=incident, kind="confirmed").exists()
