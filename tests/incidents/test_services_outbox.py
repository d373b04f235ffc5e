import pytest
from django.core import mail

from incidents.delivery import deliver_due
from incidents.fanout import expand_due
from incidents.models import OutboundMessage
from incidents.services import incident_add_note, incident_add_public_update

pytestmark = pytest.mark.django_db


def test_public_update_queues_mail_for_reporter_and_service_owner(world, django_capture_on_commit_callbacks):
    incident = world.incident()
    with django_capture_on_commit_callbacks(execute=False):
        incident_add_public_update(actor=world.people[2], incident=incident, body="Engineer on the way")
    assert OutboundMessage.objects.count() == 0  # the request wrote one fan-out row
    assert expand_due() == 2
    messages = OutboundMessage.objects.order_by("to")
    assert [m.to for m in messages] == ["rita@example.com", "svcowner@example.com"]
    assert all(m.subject.startswith(f"[{incident.reference}]") for m in messages)
    assert deliver_due() == 2
    assert {m.to[0] for m in mail.outbox} == {"rita@example.com", "svcowner@example.com"}
    assert deliver_due() == 0  # each message once
    assert set(OutboundMessage.objects.values_list("state", flat=True)) == {"sent"}


def test_internal_notes_never_leave_the_staff(world):
    incident = world.incident()
    incident_add_note(actor=world.people[2], incident=incident, body="Suspect the fuser")
    assert OutboundMessage.objects.count() == 0


def test_a_batch_that_outlived_its_claim_does_not_send_twice(world, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from incidents.delivery import claim, deliver_batch

    incident = world.incident()
    incident_add_public_update(actor=world.people[2], incident=incident, body="On our way")
    expand_due()
    start = timezone.now()
    slow_worker = claim(10, start)
    assert len(slow_worker) == 2
    later = start + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        other_worker = claim(10, later)  # the window ran out: another worker claims them
        assert deliver_batch(slow_worker, start) == 0  # claimed at start: it sees it lost them
        assert deliver_batch(other_worker, later) == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["rita@example.com", "svcowner@example.com"]


def _fifty_queued(world):
    from incidents.models import ServiceSubscription
    from incidents.services import incident_declare_major

    incident = world.incident()
    ServiceSubscription.objects.bulk_create(
        ServiceSubscription(service=world.service, email=f"s{n}@example.com", created_at=incident.created_at) for n in range(48)
    )
    incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    assert expand_due() == 50  # the reporter, the service owner and 48 subscribers
    OutboundMessage.objects.update(attempts=2)  # earlier attempts: marks compare the claim's count


def test_a_batch_goes_over_one_connection_and_is_marked_every_n(world, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents.delivery import claim, deliver_batch

    settings.OUTBOX_MARK_EVERY = 20
    _fifty_queued(world)
    now = timezone.now()
    batch = claim(100, now)
    opened = []
    real_open = mail.mailers.default.__class__.open
    with CaptureQueriesContext(connection) as queries:
        mail.mailers.default.__class__.open = lambda self: opened.append(1) or real_open(self)
        try:
            assert deliver_batch(batch, now) == 50
        finally:
            mail.mailers.default.__class__.open = real_open
    assert len(opened) == 1
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 3  # 20, 20 and the last 10
    assert not [q for q in queries if q["sql"].startswith("SELECT")]  # nothing read per message
    assert OutboundMessage.objects.filter(state="sent", attempts=3).count() == 50
    assert len(mail.outbox) == 50 and len({m.extra_headers["Message-ID"] for m in mail.outbox}) == 50


def test_by_default_each_message_is_marked_before_the_next_is_handed_over(world, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents.delivery import claim, deliver_batch

    _fifty_queued(world)
    now = timezone.now()
    batch = claim(100, now)
    backend = mail.mailers.default.__class__
    real_send = backend.send_messages
    seen = []

    def send(self, messages):
        # What a worker killed right now would leave to be sent again: nothing handed over.
        seen.append(OutboundMessage.objects.filter(state="sent").count() == len(mail.outbox))
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0] == "off")
        return real_send(self, messages)

    monkeypatch.setattr(backend, "send_messages", send)
    with CaptureQueriesContext(connection) as queries:
        assert deliver_batch(batch, now) == 50
    assert seen and all(seen)
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 50  # one statement a message: no BEGIN/SET LOCAL/COMMIT around it
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # restored for whatever the worker does next
    assert OutboundMessage.objects.filter(state="sent", attempts=3).count() == 50


def test_a_worker_dying_mid_batch_leaves_only_what_it_had_not_marked(world, settings, monkeypatch):
    from django.utils import timezone

    from incidents.delivery import claim, deliver_batch

    settings.OUTBOX_MARK_EVERY = 10
    _fifty_queued(world)
    now = timezone.now()
    batch = claim(100, now)
    backend = mail.mailers.default.__class__
    real_send = backend.send_messages

    def dies_on_the_35th(self, messages):
        if len(mail.outbox) == 34:
            raise SystemExit("worker killed while talking to the SMTP server")
        return real_send(self, messages)

    monkeypatch.setattr(backend, "send_messages", dies_on_the_35th)
    with pytest.raises(SystemExit):
        deliver_batch(batch, now)
    # 34 handed over; the marks at 10, 20 and 30 and the one on the way out: none lost,
    # and the one in flight is still pending for the next claim.
    assert OutboundMessage.objects.filter(state="sent").count() == 34
    assert OutboundMessage.objects.filter(state="pending").count() == 16


def test_a_spent_budget_with_mail_due_asks_for_another_round(world, monkeypatch):
    from incidents import outbox

    kicks = []
    monkeypatch.setattr(outbox, "kick_delivery", lambda: kicks.append(1))
    _fifty_queued(world)
    assert deliver_due(batch=10, budget_seconds=0) == 0 and kicks == [1]  # nothing sent: asks again
    kicks.clear()
    assert deliver_due(batch=10) == 50 and kicks == []  # all sent within the budget: nothing to ask


def test_a_mark_only_lands_on_a_message_still_under_the_same_claim(world):
    from django.utils import timezone

    from incidents.delivery import _mark_sent, claim

    _fifty_queued(world)
    now = timezone.now()
    mine, reclaimed = claim(2, now)
    OutboundMessage.objects.filter(pk=reclaimed.pk).update(attempts=reclaimed.attempts + 1)  # another worker's claim
    _mark_sent([mine])
    _mark_sent([reclaimed])
    assert OutboundMessage.objects.get(pk=mine.pk).state == "sent"
    assert OutboundMessage.objects.get(pk=mine.pk).sent_at is not None
    assert OutboundMessage.objects.get(pk=reclaimed.pk).state == "pending"  # the other worker's to send
