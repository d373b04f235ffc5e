import pytest
from django.core.management import call_command

from skills.models import ApiToken

pytestmark = pytest.mark.django_db


def test_issue_token_prints_it_once_and_stores_only_a_hash(world, capsys, client):
    call_command("issue_token", world.people[3].username)
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert raw.startswith("fbk_") and raw not in (token.key_hash, token.hint)
    assert token.key_hash == ApiToken.digest(raw)
    response = client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", ["Bearer fbk_wrong", "Bearer", "Bearer a b", "Bearer \u00e9"])
def test_bad_tokens_are_401(world, client, header):
    response = client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_token_is_401(world, client):
    from skills.services import token_issue, token_revoke

    token, raw = token_issue(person=world.people[1])
    token_revoke(token=token)
    assert client.get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_issue_token_for_unknown_user_fails_clearly(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No active person"):
        call_command("issue_token", "ghost")
