"""Real-browser tests: Playwright drives Debian's chromium (never a downloaded browser)
against pytest-django's live server. axe-core (npm, tests/browser/node_modules) checks
pages for accessibility problems.

Fixtures: `browser` (one chromium per test session), `page` (a fresh context and page on
the live server; any Content-Security-Policy violation on it fails the test),
`sign_in(person)` (through the login form), `axe_violations(page)`."""

import json

import pytest
from django.db import connections

from tests.system import need_file, need_program

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = "tests/browser/node_modules/axe-core/axe.min.js"


@pytest.fixture
def browser(monkeypatch):
    """A chromium of the test's own. Playwright's sync API runs an event loop in this
    thread while it lives; the test's ORM calls are still synchronous and safe, so Django
    is told so for this test only (never for the processes other tests start)."""
    executable = need_program("chromium", package="chromium", paths=["/usr/bin/chromium"])
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package (make install) is missing")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While Playwright's loop runs, Django's per-thread connections are per context:
        # the ones the test opened live there. Close them before the loop goes away.
        connections.close_all()


def watch_csp(page):
    """Collect what chromium reports on the console as refused by the page's
    Content-Security-Policy (an inline script or style, eval, another origin) in
    `page.csp_violations`."""
    page.csp_violations = []

    def heard(message):
        if "Content Security Policy" in message.text:
            page.csp_violations.append(f"{page.url}: {message.text}")

    page.on("console", heard)
    return page


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = watch_csp(context.new_page())
    yield page
    context.close()
    assert page.csp_violations == [], "the Content-Security-Policy refused something"


@pytest.fixture
def sign_in(page):
    """Sign `person` in through the login form (factories give everyone the password "pw")."""

    def sign_in(person, password="pw"):
        page.goto("/login/")
        page.get_by_label("Username").fill(person.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()
        return page

    return sign_in


@pytest.fixture
def axe_violations():
    """axe-core's serious and critical violations on the page, as (rule id, help, targets)."""
    source = need_file(AXE, what="axe-core (npm ci --prefix tests/browser)").read_text()

    def violations(page, impacts=("serious", "critical")):
        # Evaluated through the DevTools protocol, so the page's CSP does not apply to it.
        page.evaluate(source)
        result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
        found = json.loads(result)["violations"]
        return [
            (v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in found if v["impact"] in impacts
        ]

    return violations
