"""The main pages under the Content-Security-Policy: chromium refuses nothing on them
(every other browser test checks the pages it walks through the same way, in `page`)."""

import pytest

from incidents import services

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _visit(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page


def test_the_listener_hears_what_the_policy_refuses(world, page):
    _visit(page, "/login/")
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s); }")
    page.evaluate("() => document.body.setAttribute('style', 'color: red')")
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") is None  # the inline script never ran
    refused, page.csp_violations[:] = list(page.csp_violations), []
    assert any("script" in text for text in refused) and any("style" in text for text in refused), refused


def test_staff_pages_admin_and_api_docs(world, page, sign_in):
    incident = world.incident(title="Printer jammed")
    services.incident_add_public_update(actor=world.people[5], incident=incident, body="Paper ordered")
    sign_in(world.people[5])
    for url in ["/", f"/incidents/{incident.reference}/", "/incidents/new/", "/dashboard/", "/reports/",
                "/reports/process/", "/reports/reviews/", "/procedures/", "/procedures/hardware/", "/account/tokens/",
                "/admin/", "/admin/incidents/incident/", "/api/docs/"]:  # fmt: skip
        _visit(page, url)
    assert page.locator(".swagger-ui").first.is_visible()  # the API docs drew themselves
    # htmx at work: a note sent from the composer is swapped into the timeline.
    _visit(page, f"/incidents/{incident.reference}/")
    page.get_by_label("Message").fill("Checked the tray")
    page.get_by_label("Message").press("Tab")  # the Add button
    page.keyboard.press("Enter")
    page.get_by_text("Internal note added.").wait_for()
    assert page.csp_violations == []


def test_requester_and_public_pages(world, page, sign_in):
    incident = world.incident(title="VPN slow")
    _visit(page, "/status/")
    sign_in(world.reporter)
    for url in ["/my/", f"/my/{incident.reference}/", "/my/new/"]:
        _visit(page, url)
    assert page.csp_violations == []
