"""Each configuration write at the lowest level allowed, and refused one level below."""

import pytest

from procedures.models import Calendar, Category, PriorityMatrix, Service
from skills.models import Team

pytestmark = pytest.mark.django_db

WRITES = [
    # (level, method, url, body, model)
    (4, "post", "/api/v1/categories/", {"slug": "printers", "name": "Printers", "procedure": "hardware"}, Category),
    (4, "patch", "/api/v1/categories/hardware/", {"name": "Hardware faults"}, Category),
    (5, "patch", "/api/v1/categories/hardware/", {"procedure": "security"}, Category),
    (4, "post", "/api/v1/services/", {"slug": "wiki", "name": "Wiki", "owner": "svcowner", "is_critical": True}, Service),
    (4, "patch", "/api/v1/services/email/", {"is_critical": True}, Service),
    (4, "post", "/api/v1/teams/", {"slug": "network", "name": "Network"}, Team),
    (5, "patch", "/api/v1/teams/applications/", {"is_security": True}, Team),
    (5, "post", "/api/v1/calendars/", {
        "slug": "uk-office", "name": "UK office", "timezone": "Europe/London",
        "working_hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["2026-12-25"],
    }, Calendar),
    (5, "put", "/api/v1/priority-matrix/", {"matrix": {
        "1": {"1": 1, "2": 1, "3": 2}, "2": {"1": 2, "2": 3, "3": 4}, "3": {"1": 3, "2": 4, "3": 5},
    }}, PriorityMatrix),
]  # fmt: skip


def _rows(model):
    return list(model.objects.order_by("pk").values())


@pytest.mark.parametrize(("level", "method", "url", "body", "model"), WRITES, ids=[f"{w[1]} {w[2]} {list(w[3])[0]}" for w in WRITES])
def test_write_allowed_at_its_level_and_refused_below(world, api, level, method, url, body, model):
    before = _rows(model)
    refused = getattr(api(world.person(level - 1)), method)(url, body, format="json")
    assert refused.status_code == 403, refused.content
    assert _rows(model) == before
    allowed = getattr(api(world.person(level)), method)(url, body, format="json")
    assert allowed.status_code in (200, 201), allowed.content
    assert _rows(model) != before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "x", "name": "X", "timezone": "Mars/Olympus", "working_hours": {"mon": [["09:00", "17:00"]]}}, "timezone"),
        ({"slug": "x", "name": "X", "timezone": "UTC", "working_hours": {}}, "working_hours"),
        ({"slug": "x", "name": "X", "timezone": "UTC", "working_hours": {"mon": [["17:00", "09:00"]]}}, "working_hours"),
        ({"slug": "x", "name": "X", "timezone": "UTC", "working_hours": {"funday": [["09:00", "17:00"]]}}, "working_hours"),
        ({"slug": "x", "name": "X", "timezone": "UTC", "working_hours": {"mon": [["09:00", "17:00"]]}, "holidays": ["someday"]}, "holidays"),
    ],
)
def test_bad_calendars_are_400(world, api, body, field):
    response = api(world.people[5]).post("/api/v1/calendars/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Calendar.objects.filter(slug="x").exists()


def test_changed_priority_matrix_is_used_for_new_incidents(world, api):
    matrix = {"1": {"1": 1, "2": 1, "3": 1}, "2": {"1": 1, "2": 1, "3": 1}, "3": {"1": 1, "2": 1, "3": 1}}
    assert api(world.people[5]).put("/api/v1/priority-matrix/", {"matrix": matrix}, format="json").status_code == 200
    assert world.incident(impact=3, urgency=3).priority == 1
    bad = api(world.people[5]).put("/api/v1/priority-matrix/", {"matrix": {"1": {"1": 9}}}, format="json")
    assert bad.status_code == 400 and "matrix" in bad.json()


def test_unknown_slug_is_404_and_bad_reference_400(world, api):
    assert api(world.people[4]).patch("/api/v1/categories/nope/", {"name": "x"}, format="json").status_code == 404
    response = api(world.people[4]).post("/api/v1/categories/", {"slug": "y", "name": "Y", "procedure": "nope"}, format="json")
    assert response.status_code == 400 and "procedure" in response.json()
