"""Real-browser tests: Playwright drives Debian's chromium (never a downloaded browser)
against pytest-django's live server. axe-core (npm, tests/browser/node_modules) checks
pages for accessibility problems.

Fixtures: `browser` (one chromium per test session), `page` (a fresh context and page on
the live server), `sign_in(person)` (through the login form), `axe_violations(page)`."""

import json
import os

import pytest

from tests.system import need_file, need_program

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = "tests/browser/node_modules/axe-core/axe.min.js"


@pytest.fixture(scope="session")
def browser():
    executable = need_program("chromium", package="chromium", paths=["/usr/bin/chromium"])
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package (make install) is missing")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


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
