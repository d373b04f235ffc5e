"""Journeys through the queue and the dashboard in a real browser: triage with sort and
filters, bulk assign, the queue updating itself, the dashboard's figures against incidents
made for the test, a phone-sized queue, and no serious accessibility problem.

With FIREBREAK_SCREENSHOTS=1 the queue and the dashboard are saved to docs/screenshots/."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.utils import timezone

from incidents.models import Incident, Status
from reporting import services as review_services
from tests.incidents.helpers import force_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _screenshot(page, name):
    if os.environ.get("FIREBREAK_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _row_refs(page):
    return page.locator("#queue-results tbody td.ref a").all_inner_texts()


def test_triage_with_sort_and_filters(world, page, sign_in, axe_violations):
    now = timezone.now()
    soon, overdue, later = (world.incident(title=t) for t in ("Mail slow", "VPN down", "Printer jam"))
    Incident.objects.filter(pk=later.pk).update(resolve_due_at=now + timedelta(hours=6), priority=4)
    Incident.objects.filter(pk=soon.pk).update(resolve_due_at=now + timedelta(minutes=25), priority=2)
    Incident.objects.filter(pk=overdue.pk).update(
        resolve_due_at=now - timedelta(minutes=65), resolution_breached=True, priority=1
    )
    sign_in(world.people[2])
    assert _row_refs(page) == [later.reference, overdue.reference, soon.reference]  # newest first

    page.get_by_label("Sort").select_option("due")
    page.wait_for_url(re.compile(r"sort=due"))
    first_ref = "document.querySelector('#queue-results td.ref a').textContent.trim()"
    page.wait_for_function(f"{first_ref} === '{overdue.reference}'")
    assert _row_refs(page) == [overdue.reference, soon.reference, later.reference]
    # Countdowns tick in the browser, with the absolute time and zone on hover.
    countdown = page.locator(f"tr:has(a:text('{overdue.reference}')) td[data-label='Resolution due'] time")
    # They tick on htmx's settle, a moment after the rows are swapped in.
    page.wait_for_function(
        """(ref) => [...document.querySelectorAll('#queue-results tbody tr')].some((tr) =>
            tr.textContent.includes(ref)
            && /^overdue 1 h/.test(tr.querySelector("td[data-label='Resolution due'] time")?.textContent || ""))""",
        arg=overdue.reference,
    )
    assert countdown.inner_text().startswith("overdue 1 h")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d \w+", countdown.get_attribute("title"))

    page.get_by_label("Breached").select_option("true")
    page.wait_for_url(re.compile(r"breached=true"))
    page.wait_for_function("document.querySelectorAll('#queue-results tbody tr').length === 1")
    assert _row_refs(page) == [overdue.reference]
    # The counts follow the filters.
    assert page.locator(".queue-side").get_by_text("Infrastructure").is_visible()
    assert axe_violations(page) == []


def test_bulk_assign(world, page, sign_in):
    a, b, c = (world.incident(title=t) for t in ("Disk full", "Fan noisy", "Screen dead"))
    sign_in(world.people[2])
    page.get_by_label(f"Select {a.reference}").check()
    page.get_by_label(f"Select {c.reference}").check()
    assert page.locator("#bulk-count").inner_text() == "2 incidents selected."
    page.locator("#bulk summary", has_text="Assign").click()
    page.locator("#id_bulk_assign_assignee").select_option(world.people[3].username)
    page.get_by_role("button", name="Assign selected").click()
    page.wait_for_load_state()
    message = page.locator(".message-success").inner_text()
    assert a.reference in message and c.reference in message
    assert Incident.objects.get(pk=a.pk).assignee == world.people[3]
    assert Incident.objects.get(pk=c.pk).assignee == world.people[3]
    assert Incident.objects.get(pk=b.pk).assignee is None


def test_the_queue_updates_itself(world, page, sign_in):
    first = world.incident(title="Already here")
    sign_in(world.people[2])
    page.get_by_label(f"Select {first.reference}").check()
    page.get_by_text("Save these filters as a view").click()
    name = page.locator("#id_view_name")
    name.fill("still typing")  # typed text survives the update
    arrived = world.incident(title="Arrived while watching")
    page.get_by_role("link", name="Arrived while watching").wait_for(timeout=10_000)
    assert arrived.reference in _row_refs(page)
    assert name.input_value() == "still typing"
    assert page.evaluate("document.activeElement.id") == "id_view_name"
    assert page.get_by_label(f"Select {first.reference}").is_checked()


def test_dashboard_figures_against_incidents_made_for_the_test(world, page, sign_in, axe_violations):
    now = timezone.now()
    p1 = world.incident(title="Core switch down")
    Incident.objects.filter(pk=p1.pk).update(priority=1, resolution_breached=True)
    p3 = force_state(world.incident(title="Slow share"), Status.IN_PROGRESS, world.people[3])
    Incident.objects.filter(pk=p3.pk).update(priority=3, resolve_warn_at=now - timedelta(minutes=2))
    secret = world.incident(title="Secret", category=world.security_category)
    # A review of each, with an action two days overdue: level 4 sees only the ordinary one's.
    due = timezone.localdate(now) - timedelta(days=2)
    with time_machine.travel(now - timedelta(days=3), tick=False):
        review = review_services.review_request(actor=world.people[5], incident=p1)
        review_services.review_add_action(actor=world.people[5], review=review, title="Replace the core switch",
                                          owner=world.people[3], due_on=due)  # fmt: skip
        hidden = review_services.review_request(actor=world.people[5], incident=secret)
        review_services.review_add_action(actor=world.people[5], review=hidden, title="Rotate the keys",
                                          owner=world.people[5], due_on=due)  # fmt: skip
    sign_in(world.people[4])
    page.get_by_role("link", name="Dashboard").click()
    assert page.get_by_role("heading", name="Incident manager's dashboard").is_visible()
    row = page.locator(".dash-table tbody tr", has_text="Infrastructure")
    assert row.locator("td").all_inner_texts() == ["1", "0", "1", "0", "0", "2", "1", "1", "1"]
    assert page.locator(".dash-table tbody tr").count() == 1  # the security incident is not counted
    overdue = page.locator(".dash-overdue tbody tr")
    assert overdue.count() == 1
    assert overdue.locator("td").all_inner_texts()[1:] == ["Replace the core switch", "l3", due.strftime("%a %d %b %Y")]
    assert axe_violations(page) == []
    _screenshot(page, "dashboard")
    row.get_by_role("link", name="Infrastructure P1: 1").click()
    page.wait_for_url(re.compile(r"team=infrastructure&priority=1"))
    assert _row_refs(page) == [p1.reference]
    page.go_back()
    page.get_by_role("link", name=f"Review of {p1.reference}").click()
    page.wait_for_url(re.compile(rf"/reports/reviews/{review.pk}/$"))
    assert page.get_by_text("Replace the core switch").is_visible()


def test_queue_on_a_phone(world, browser, live_server, axe_violations):
    for n in range(3):
        world.incident(title=f"Phone check {n}")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Username").fill(world.people[2].username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    cell = page.locator("#queue-results tbody tr").first.locator("td[data-label='Assignee']")
    assert cell.is_visible() and cell.bounding_box()["x"] + cell.bounding_box()["width"] <= 390
    context.close()


def test_screenshot_of_the_queue(world, page, sign_in):
    if not os.environ.get("FIREBREAK_SCREENSHOTS"):
        pytest.skip("set FIREBREAK_SCREENSHOTS=1 to refresh docs/screenshots/")
    now = timezone.now()
    for title, priority, due in (("VPN drops every 5 minutes", 2, 25), ("Payroll run fails", 1, -30),
                                 ("Printer on floor 3 jams", 4, 300), ("Outlook crashes on start", 3, 90)):
        incident = world.incident(title=title)
        Incident.objects.filter(pk=incident.pk).update(
            priority=priority, resolve_due_at=now + timedelta(minutes=due), resolution_breached=due < 0
        )
    sign_in(world.people[2])
    page.goto("/?sort=due")
    _screenshot(page, "queue")
