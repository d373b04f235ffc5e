"""The API token page: a token is shown once, stored as a hash, and can be revoked."""

import pytest

from skills.models import ApiToken
from skills.services import token_issue

pytestmark = pytest.mark.django_db

TOKENS = "/account/tokens/"


def test_token_page_needs_a_login(client):
    response = client.get(TOKENS)
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_issued_token_is_shown_once_and_stored_as_a_hash(world, client):
    person = world.people[3]
    client.force_login(person)
    response = client.post(TOKENS, {"name": "monitoring bridge", "scope": "read"})
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    raw = response.context["raw_token"]
    assert raw.startswith(ApiToken.PREFIX) and raw in response.content.decode()

    token = ApiToken.objects.get()
    assert token.person == person and token.name == "monitoring bridge" and token.scope == "read"
    assert token.key_hash == ApiToken.digest(raw)
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert not any(raw in value for value in stored)

    again = client.get(TOKENS).content.decode()
    assert raw not in again and token.hint in again and "monitoring bridge" in again

    assert client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_bad_issue_form_issues_nothing(world, client):
    client.force_login(world.people[1])
    response = client.post(TOKENS, {"name": "x", "scope": "admin"})
    assert response.status_code == 400
    assert response.context["raw_token"] is None
    assert not ApiToken.objects.exists()


def test_the_page_lists_only_the_persons_own_tokens(world, client):
    mine, _ = token_issue(person=world.people[2], name="mine")
    theirs, _ = token_issue(person=world.people[3], name="theirs")
    client.force_login(world.people[2])
    assert list(client.get(TOKENS).context["tokens"]) == [mine]


def test_revoke_own_token(world, client):
    token, raw = token_issue(person=world.people[2], name="old")
    client.force_login(world.people[2])
    response = client.post(f"{TOKENS}{token.pk}/revoke/")
    assert response.status_code == 302 and response.url == TOKENS
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get(TOKENS).content.decode()
    assert client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_cannot_revoke_someone_elses_token(world, client):
    token, _ = token_issue(person=world.people[3])
    client.force_login(world.people[2])
    assert client.post(f"{TOKENS}{token.pk}/revoke/").status_code == 404
    assert client.get(f"{TOKENS}{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None
