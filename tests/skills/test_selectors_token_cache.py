"""Web processes trust a live token for API_TOKEN_CACHE_SECONDS, and no longer."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from skills.models import ApiToken, Person
from skills.services import token_issue, token_revoke

pytestmark = pytest.mark.django_db


def _get(client, raw):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    return response.status_code, [q["sql"] for q in ctx.captured_queries]


def _token_reads(statements):
    return [sql for sql in statements if sql.startswith("SELECT") and '"skills_apitoken"' in sql.split(" WHERE ")[0]]


def test_a_token_found_live_is_not_read_again_within_the_bound(world, client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 10
    _, raw = token_issue(person=world.people[3])
    status, first = _get(client, raw)
    assert status == 200 and len(_token_reads(first)) == 1
    status, second = _get(client, raw)
    assert status == 200 and _token_reads(second) == []


def test_revoked_elsewhere_stops_working_within_the_bound(world, client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 10
    token, raw = token_issue(person=world.people[3])
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert _get(client, raw)[0] == 200
        # another process revokes it: the row changes, this process's cache does not hear of it
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=start)
        traveller.move_to(start + timedelta(seconds=9))
        assert _get(client, raw)[0] == 200
        traveller.move_to(start + timedelta(seconds=10, microseconds=1))
        assert _get(client, raw)[0] == 401


def test_deactivated_person_stops_working_within_the_bound(world, client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 5
    person = world.people[3]
    _, raw = token_issue(person=person)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        assert _get(client, raw)[0] == 200
        Person.objects.filter(pk=person.pk).update(is_active=False)
        traveller.move_to(start + timedelta(seconds=6))
        assert _get(client, raw)[0] == 401


def test_revoked_here_stops_working_at_once(world, client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 300
    token, raw = token_issue(person=world.people[3])
    assert _get(client, raw)[0] == 200
    token_revoke(token=token)
    assert _get(client, raw)[0] == 401


def test_zero_seconds_reads_the_token_every_time(world, client, settings):
    settings.API_TOKEN_CACHE_SECONDS = 0
    token, raw = token_issue(person=world.people[3])
    assert _get(client, raw)[0] == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert _get(client, raw)[0] == 401


def test_each_request_gets_its_own_person_and_use_is_recorded_once_a_minute(world, api, settings):
    from skills.selectors import token_authenticate
    from skills.services import token_touch

    settings.API_TOKEN_CACHE_SECONDS = 60
    token, raw = token_issue(person=world.people[3])
    first = token_authenticate(raw).person
    second = token_authenticate(raw)
    assert first is not second.person and first.pk == second.person.pk == world.people[3].pk
    assert token_authenticate(raw) is not second  # a copy per call: other threads hold theirs
    assert second.person.sfia_level == 3 and second.person.username == "l3"
    token_touch(token=second)
    with CaptureQueriesContext(connection) as ctx:
        token_touch(token=token_authenticate(raw))
    assert ctx.captured_queries == []  # the cached token knows it was just used


@pytest.mark.parametrize("seconds", [0, 10])
def test_the_security_clearance_comes_with_the_token_and_follows_the_team_within_the_bound(world, client, settings, seconds):
    """Whether the token's person may see security incidents is read with the token (no
    query of its own), and a person taken out of the security team loses them within the
    bound, like a revoked token."""
    from incidents.services import incident_register

    settings.API_TOKEN_CACHE_SECONDS = seconds
    responder = world.person(2, team=world.security)
    secret = incident_register(actor=world.people[1], title="Phishing", category=world.security_category, impact=2, urgency=2)
    _, raw = token_issue(person=responder)
    url = f"/api/v1/incidents/{secret.reference}/"
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
        assert not [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT 1 AS "a" FROM "skills_person"')]
        responder.teams.remove(world.security)
        traveller.move_to(start + timedelta(seconds=seconds + 1))
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 404
