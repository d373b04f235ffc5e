"""An htmx request whose session has expired sends the whole page to the login (keeping
where the person was), instead of swapping the login page into the incident."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_htmx_action_without_a_session_redirects_the_page(world, client):
    incident = world.incident()
    page = f"http://testserver/incidents/{incident.reference}/?tab=all"
    response = client.post(
        f"/incidents/{incident.reference}/notes/", {"body": "typed text"},
        HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page,
    )  # fmt: skip
    assert response.status_code == 204 and response.content == b""
    assert response["HX-Redirect"] == f"/login/?next=%2Fincidents%2F{incident.reference}%2F%3Ftab%3Dall"


def test_a_live_poll_without_a_session_redirects_the_page(client):
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_X_FIREBREAK_LIVE="1", HTTP_HX_CURRENT_URL="http://testserver/?sort=due")
    assert response.status_code == 204 and response["HX-Redirect"] == "/login/?next=%2F%3Fsort%3Ddue"


def test_another_sites_address_is_not_used_as_next(client):
    response = client.get("/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x")
    assert response["HX-Redirect"] == "/login/?next=%2Fx"


def test_plain_requests_still_get_the_usual_redirect(client):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/login/")
