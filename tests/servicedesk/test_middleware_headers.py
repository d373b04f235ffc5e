"""Headers on every answer: a Content-Security-Policy with no inline script or style, and
`Cache-Control: no-store` on whatever is not public (incident pages, the API); the public
status pages stay cacheable."""

import re
from pathlib import Path

import pytest
from django.utils.cache import get_max_age

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _directives(response):
    return {part.strip().split("=", 1)[0] for part in response.get("Cache-Control", "").split(",") if part.strip()}


def _policy(response):
    return dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))


@pytest.fixture
def staff(world, client):
    client.force_login(world.people[2])
    return client


def test_incident_pages_are_never_stored(world, staff):
    incident = world.incident()
    for url in ["/", f"/incidents/{incident.reference}/", "/incidents/new/", "/dashboard/", "/procedures/", "/account/tokens/"]:
        response = staff.get(url)
        assert response.status_code in (200, 403), url
        assert {"no-store", "private"} <= _directives(response), url


def test_a_live_poll_keeps_its_validator_and_is_not_stored(world, staff):
    first = staff.get("/", HTTP_X_FIREBREAK_LIVE="1")
    assert first["ETag"] and {"no-store", "no-cache", "private"} <= _directives(first)
    again = staff.get("/", HTTP_X_FIREBREAK_LIVE="1", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_requesters_pages_are_never_stored(world, client):
    incident = world.incident()
    client.force_login(world.reporter)
    for url in ["/my/", f"/my/{incident.reference}/"]:
        assert "no-store" in _directives(client.get(url)), url


def test_api_answers_are_never_stored(world, api):
    incident = world.incident()
    client = api(world.people[2])
    for url in ["/api/v1/incidents/", f"/api/v1/incidents/{incident.reference}/", "/api/v1/incidents/INC-999999/"]:
        response = client.get(url)
        assert "no-store" in _directives(response), url
    assert "no-store" in _directives(api(None).get("/api/v1/incidents/"))  # the 401 too


def test_the_public_status_pages_stay_cacheable(world, client):
    for url in ["/status/", "/status/summary.json", "/status/feed.atom"]:
        response = client.get(url)
        assert "public" in _directives(response) and get_max_age(response) == 30, url
        assert "no-store" not in _directives(response), url


def test_every_answer_has_a_policy_without_inline_script_style_or_eval(world, staff, client):
    incident = world.incident()
    for response in [staff.get("/"), staff.get(f"/incidents/{incident.reference}/"), client.get("/status/"), client.get("/login/"), client.get("/api/v1/incidents/")]:
        policy = _policy(response)
        for directive in ("script-src", "style-src", "default-src"):
            assert policy[directive] == "'self'"
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert "unsafe" not in response["Content-Security-Policy"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"\sstyle=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "an inline event handler"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler (evaluated script)"),
]


def test_no_template_served_to_a_browser_has_inline_script_or_style():
    """The policy would block them; emails (templates/email/) are not pages and keep the
    inline styles mail clients need."""
    found = []
    for template in sorted(ROOT.glob("*/templates/**/*.html")) + sorted((ROOT / "templates").glob("**/*.html")):
        if "email" in template.relative_to(ROOT).parts:
            continue
        text = template.read_text()
        found += [f"{template.relative_to(ROOT)}: {what}" for pattern, what in INLINE if pattern.search(text)]
    assert found == []
