"""A read-only API token reads and never writes, however small the write (issue 7, item 3):
the policy refuses it, so every entry point (not only the API's method check) does."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import services
from incidents.models import Incident, Watcher
from skills.errors import Forbidden
from skills.policy import READ_ACTIONS, Action, can, may_write, why_not
from skills.services import token_issue

pytestmark = pytest.mark.django_db


def _read_only(person):
    person.token_scope = "read"
    return person


@pytest.mark.parametrize("action", [a for a in Action if a not in READ_ACTIONS])
def test_a_read_only_token_may_take_no_action_that_writes(world, action):
    assert not can(_read_only(world.person(5)), action)


def test_watching_is_a_write(world):
    incident = world.incident()
    reader = world.person(2)
    assert can(reader, Action.WATCH, incident) and can(world.reporter, Action.WATCH, incident)
    _read_only(reader)
    assert can(reader, Action.VIEW, incident) and not can(reader, Action.WATCH, incident)
    assert "read-only" in why_not(reader, Action.WATCH, incident)
    with pytest.raises(Forbidden, match="read-only"):
        services.incident_watch(actor=reader, incident=incident)
    assert not Watcher.objects.filter(incident=incident).exists()
    Watcher.objects.create(incident=incident, person=reader)
    with pytest.raises(Forbidden, match="read-only"):
        services.incident_watch(actor=reader, incident=incident, watching=False)
    assert Watcher.objects.filter(incident=incident, person=reader).exists()


def test_a_communications_lead_with_a_read_only_token_does_not_publish(world):
    world.service.is_public = True
    world.service.save()
    incident = world.incident()
    lead = world.people[2]
    Incident.objects.filter(pk=incident.pk).update(comms_lead=lead)
    assert may_write(lead) and not may_write(_read_only(lead))
    with pytest.raises(Forbidden, match="read-only"):
        services.incident_publish(actor=lead, incident=incident, public=True)
    incident.refresh_from_db()
    assert not incident.is_public
    del lead.token_scope
    services.incident_publish(actor=lead, incident=incident, public=True)


def test_the_api_refuses_watching_with_a_read_only_token(world):
    incident = world.incident()
    _, raw = token_issue(person=world.people[2], scope="read")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    for method in ("post", "delete"):
        answer = getattr(client, method)(f"/api/v1/incidents/{incident.reference}/watch/")
        assert answer.status_code == 403 and "read-only" in answer.json()["detail"]
    assert not Watcher.objects.exists()


def test_a_review_action_owner_with_a_read_only_token_does_not_mark_it_done(world):
    from reporting import services as reporting

    review = reporting.review_request(actor=world.people[5], incident=world.incident())
    action = reporting.review_add_action(
        actor=world.people[5], review=review, title="Alerts", owner=world.people[3], due_on=timezone.localdate()
    )
    with pytest.raises(Forbidden, match="read-only"):
        reporting.review_action_done(actor=_read_only(world.people[3]), action=action)
    action.refresh_from_db()
    assert action.done_at is None
