"""The outbox as level 4 and 5 see it (issue 7, items 4 and 11): webhook addresses carry
secrets and show masked below level 5; "Try again now" retries failed messages only,
through a service, and never lowers `attempts` (the claim's compare-and-set)."""

import pytest
from django.utils import timezone

from incidents.delivery import MAX_ATTEMPTS, claim, retry_failed
from incidents.models import OutboundMessage, WebhookSubscription
from skills.errors import Forbidden

pytestmark = pytest.mark.django_db

SECRET_URL = "https://chat.example.com/hooks/T0123/B0456/s3cr3tt0k3n"
State = OutboundMessage.State


def _message(incident, n, *, state=State.PENDING, attempts=0, webhook=None, error=""):
    now = timezone.now()
    return OutboundMessage.objects.create(
        incident=incident, channel="webhook" if webhook else "email", webhook=webhook,
        to=webhook.url if webhook else f"person{n}@example.com", subject=f"message {n}", body="{}",
        dedupe_key=f"m{n}", state=state, attempts=attempts, last_error=error, next_attempt_at=now, created_at=now,
    )  # fmt: skip


@pytest.fixture
def hook(world):
    return WebhookSubscription.objects.create(name="chat", url=SECRET_URL, secret="x", created_at=timezone.now())


def test_level_4_sees_webhook_addresses_masked_in_the_api(world, api, hook):
    incident = world.incident()
    _message(incident, 1, webhook=hook, state=State.FAILED, error=f"URLError: could not reach {SECRET_URL}")
    _message(incident, 2)
    rows = api(world.people[4]).get("/api/v1/outbox/").json()["results"]
    by_channel = {row["channel"]: row for row in rows}
    assert by_channel["webhook"]["to"] == "https://chat.example.com/…"
    assert "s3cr3t" not in str(rows) and "T0123" not in str(rows)
    assert by_channel["email"]["to"] == "person2@example.com"
    rows = api(world.people[5]).get("/api/v1/outbox/").json()["results"]
    assert {row["channel"]: row["to"] for row in rows}["webhook"] == SECRET_URL


def test_level_4_sees_webhook_addresses_masked_in_the_admin(world, client, hook):
    incident = world.incident()
    message = _message(incident, 1, webhook=hook, state=State.FAILED, error=f"Could not reach {SECRET_URL}")
    client.force_login(world.person(4, is_staff=True))
    listing = client.get("/admin/incidents/outboundmessage/").content.decode()
    assert "chat.example.com/…" in listing and "s3cr3t" not in listing
    page = client.get(f"/admin/incidents/outboundmessage/{message.pk}/change/")
    assert page.status_code == 200 and "s3cr3t" not in page.content.decode()
    assert "chat.example.com/…" in page.content.decode()
    # A search cannot spell the secret out a character at a time.
    assert "message 1" not in client.get("/admin/incidents/outboundmessage/?q=s3cr3t").content.decode()
    client.force_login(world.person(5, is_staff=True))
    assert "s3cr3t" in client.get(f"/admin/incidents/outboundmessage/{message.pk}/change/").content.decode()
    assert "message 1" in client.get("/admin/incidents/outboundmessage/?q=s3cr3t").content.decode()


def test_try_again_retries_failed_messages_only_and_never_lowers_attempts(world, client):
    incident = world.incident()
    failed = _message(incident, 1, state=State.FAILED, attempts=MAX_ATTEMPTS)
    in_flight = _message(incident, 2, state=State.PENDING, attempts=1)
    sent = _message(incident, 3, state=State.SENT, attempts=1)
    client.force_login(world.person(4, is_staff=True))
    answer = client.post(
        "/admin/incidents/outboundmessage/",
        {"action": "retry", "_selected_action": [failed.pk, in_flight.pk, sent.pk]}, follow=True,
    )  # fmt: skip
    assert "1 failed message(s) will be tried again" in answer.content.decode()
    for message in (failed, in_flight, sent):
        message.refresh_from_db()
    assert (failed.state, failed.attempts) == (State.PENDING, MAX_ATTEMPTS)
    assert (in_flight.state, in_flight.attempts) == (State.PENDING, 1)
    assert (sent.state, sent.attempts) == (State.SENT, 1)
    # The worker that holds the in-flight message still owns its claim (attempts unchanged).
    claimed = claim(10, timezone.now())
    assert {m.pk: m.attempts for m in claimed}[failed.pk] == MAX_ATTEMPTS + 1


def test_retrying_needs_level_4_and_a_write(world):
    failed = _message(world.incident(), 1, state=State.FAILED, attempts=3)
    with pytest.raises(Forbidden):
        retry_failed(actor=world.people[3], messages=[failed])
    reader = world.people[4]
    reader.token_scope = "read"
    with pytest.raises(Forbidden):
        retry_failed(actor=reader, messages=[failed])
    failed.refresh_from_db()
    assert failed.state == State.FAILED
    del reader.token_scope
    assert retry_failed(actor=reader, messages=[failed]) == 1
