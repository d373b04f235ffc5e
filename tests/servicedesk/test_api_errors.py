"""Every API error answers JSON in the documented shape ({"detail": ...} or field errors),
never Django's HTML pages; hostile JSON is a 400, never a 500."""

import pytest
from django.urls import path
from rest_framework.views import APIView

from incidents.models import Incident
from servicedesk import urls as project_urls

pytestmark = pytest.mark.django_db

VALID = {"title": "Printer on fire", "category": "hardware", "impact": 2, "urgency": 2}


def _is_json_detail(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


@pytest.mark.parametrize("depth", [5000, 100_000])
def test_deeply_nested_json_is_400(world, api, depth):
    body = b"[" * depth + b"]" * depth
    response = api(world.people[1]).post("/api/v1/incidents/", body, content_type="application/json")
    detail = _is_json_detail(response, 400)
    assert "nested" in detail
    assert Incident.objects.count() == 0


def test_nesting_inside_a_field_is_400_too(world, api, settings):
    deep = "[" * (settings.MAX_JSON_DEPTH + 1) + "]" * (settings.MAX_JSON_DEPTH + 1)
    body = f'{{"title": "x", "category": "hardware", "impact": 2, "urgency": 2, "description": {deep}}}'
    response = api(world.people[1]).post("/api/v1/incidents/", body, content_type="application/json")
    assert "nested" in _is_json_detail(response, 400)
    assert Incident.objects.count() == 0


def test_nesting_up_to_the_limit_is_parsed(world, api, settings):
    # The limit counts the body itself as the first level.
    deep = "[" * (settings.MAX_JSON_DEPTH - 1) + "]" * (settings.MAX_JSON_DEPTH - 1)
    body = f'{{"title": "x", "category": "hardware", "impact": 2, "urgency": 2, "description": {deep}}}'
    response = api(world.people[1]).post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()) == ["description"]  # the field's own check, not the parser's


def test_unmatched_api_urls_are_json_404(world, api):
    client = api(world.people[1])
    for url in ("/api/v1/no-such-thing/", "/api/nothing", "/api/v1/incidents/INC-000001/no-such-action/"):
        _is_json_detail(client.get(url), 404)
        _is_json_detail(client.post(url, {}, format="json"), 404)


def test_unmatched_api_urls_are_json_404_without_a_login(client):
    _is_json_detail(client.get("/api/v1/no-such-thing/"), 404)


def test_pages_keep_their_html_404(world, client):
    client.force_login(world.people[1])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_json_405(world, api):
    client = api(world.people[5])
    _is_json_detail(client.delete("/api/v1/incidents/"), 405)
    _is_json_detail(client.put("/api/schema/"), 405)
    _is_json_detail(client.post("/api/docs/"), 405)


def test_refusals_are_json(world, api, client):
    _is_json_detail(client.get("/api/v1/incidents/"), 401)
    _is_json_detail(api(world.people[1]).get("/api/v1/dashboard/"), 403)


class _Broken(APIView):
    def get(self, request):
        raise RuntimeError("a bug")


def _broken_page(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/broken/", _Broken.as_view()),
    path("broken-page/", _broken_page),
    *project_urls.urlpatterns,
]
handler404 = project_urls.handler404
handler500 = project_urls.handler500


@pytest.mark.urls(__name__)
def test_a_server_error_on_the_api_is_json_500(world, api):
    client = api(world.people[1])
    client.raise_request_exception = False
    detail = _is_json_detail(client.get("/api/v1/broken/"), 500)
    assert "a bug" not in detail


@pytest.mark.urls(__name__)
def test_a_server_error_on_a_page_stays_html(world, client):
    client.raise_request_exception = False
    client.force_login(world.people[1])
    response = client.get("/broken-page/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
