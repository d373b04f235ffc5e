"""Announcements fan out: the request writes one row, workers expand it in batches from
the audience as it stood when posted, and every recipient gets one message."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import fanout, notify, outbox, services
from incidents.delivery import claim, deliver_batch
from incidents.models import FanOut, Incident, OutboundMessage, ServiceSubscription
from incidents.subscriptions import subscription_unsubscribe
from tests.incidents.helpers import detail_url, login

pytestmark = pytest.mark.django_db


def _subscribe(world, count, *, at=None, prefix="fan"):
    at = at or timezone.now()
    ServiceSubscription.objects.bulk_create(
        ServiceSubscription(service=world.service, email=f"{prefix}{n}@example.com", created_at=at) for n in range(count)
    )


@pytest.fixture
def major(world):
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    fanout.expand_due()
    OutboundMessage.objects.all().delete()
    return Incident.objects.get(pk=incident.pk)


def _update(world, incident, body="Restoring mail"):
    return services.incident_add_public_update(actor=world.people[5], incident=incident, body=body)[1]


def test_the_request_writes_one_row_whatever_the_audience(world, major):
    _subscribe(world, 10)
    with CaptureQueriesContext(connection) as few:
        _update(world, Incident.objects.get(pk=major.pk))
    _subscribe(world, 2000, prefix="more")
    with CaptureQueriesContext(connection) as many:
        _update(world, Incident.objects.get(pk=major.pk), body="Still restoring")
    assert len(many) == len(few)
    assert OutboundMessage.objects.filter(channel="email").count() == 0
    assert FanOut.objects.filter(incident=major, event__kind="public_update").count() == 2


def test_workers_expand_in_batches_to_every_recipient_once(world, major):
    _subscribe(world, 2500)
    event = _update(world, major)
    row = FanOut.objects.get(event=event)
    assert fanout.expand_one(batch=1000) == 2  # the reporter and the service owner first
    assert fanout.expand_one(batch=1000) == 1000
    row.refresh_from_db()
    assert row.expanded_at is None and row.cursor > 0
    assert fanout.expand_due(batch=1000) == 1500
    row.refresh_from_db()
    assert row.expanded_at is not None
    addresses = list(OutboundMessage.objects.filter(fanout=row).values_list("to", flat=True))
    assert len(addresses) == len(set(addresses)) == 2502
    assert fanout.expand_due() == 0


def test_the_audience_is_the_one_when_the_update_was_posted(world, major):
    now = timezone.now()
    _subscribe(world, 3, at=now - timedelta(days=1), prefix="early")
    leaving = ServiceSubscription.objects.get(email="early0@example.com")
    staying_late = ServiceSubscription.objects.get(email="early1@example.com")
    subscription_unsubscribe(subscription_id=leaving.pk, now=now - timedelta(seconds=1))
    with time_machine.travel(now, tick=False):
        _update(world, major)
    _subscribe(world, 1, at=now + timedelta(seconds=1), prefix="late")
    subscription_unsubscribe(subscription_id=staying_late.pk, now=now + timedelta(seconds=1))
    fanout.expand_due()
    got = set(OutboundMessage.objects.values_list("to", flat=True))
    assert got == {"rita@example.com", "svcowner@example.com", "early1@example.com", "early2@example.com"}


def test_a_batch_that_dies_is_redone_and_nobody_gets_two(world, major, monkeypatch):
    _subscribe(world, 1500)
    event = _update(world, major)
    fanout.expand_one(batch=1000)  # the named recipients
    real_save = FanOut.save

    def die(self, *args, **kwargs):
        raise SystemExit("worker killed after writing the batch, before moving the cursor")

    monkeypatch.setattr(FanOut, "save", die)
    with pytest.raises(SystemExit):
        fanout.expand_one(batch=1000)
    monkeypatch.setattr(FanOut, "save", real_save)
    assert OutboundMessage.objects.count() == 2  # the dead batch rolled back whole
    fanout.expand_due(batch=1000)
    # A crashed worker's task coming back later finds the same rows: expanding again from the
    # start (the worst case) writes nothing new.
    FanOut.objects.filter(event=event).update(stage=FanOut.Stage.DIRECT, cursor=0, expanded_at=None)
    assert fanout.expand_due(batch=1000) == 1502  # attempted, and every one conflicts on its key
    addresses = list(OutboundMessage.objects.values_list("to", flat=True))
    assert len(addresses) == len(set(addresses)) == 1502


def test_declaration_and_resolution_fan_out_and_security_incidents_reach_nobody(world):
    _subscribe(world, 5)
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Down")
    services.incident_start(actor=world.people[3], incident=incident)
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Back")
    assert OutboundMessage.objects.count() == 0
    fanout.expand_due()
    assert OutboundMessage.objects.filter(subject__contains="Major incident").count() == 7
    assert OutboundMessage.objects.filter(subject__contains="Resolved").count() == 7
    breach = world.incident(category=world.security_category, reporter=world.people[5])
    services.incident_declare_major(actor=world.people[5], incident=breach, reason="Breach")
    row = FanOut.objects.get(incident=breach)
    assert row.direct == [] and not row.subscribers
    assert fanout.expand_due() == 0


def test_delivery_progress_for_the_comms_lead_and_level_4(world, major, client, django_assert_max_num_queries):
    _subscribe(world, 3)
    _update(world, major)
    fanout.expand_due()
    moment = timezone.now()
    deliver_batch(claim(2, moment), moment)  # one batch of two: the rest stay queued
    OutboundMessage.objects.filter(to="fan2@example.com").update(state="failed")
    login(client, world.people[5])  # the comms lead
    with django_assert_max_num_queries(40):
        page = client.get(detail_url(major)).content.decode()
    assert "Delivery" in page and "2 sent" in page and "1 failed" in page and "2 queued" in page
    login(client, world.people[4])
    assert "h-delivery" in client.get(detail_url(major)).content.decode()
    login(client, world.people[3])
    assert "h-delivery" not in client.get(detail_url(major)).content.decode()
    # The lead of a procedure that lets level 3 lead communications sees it too.
    Incident.objects.filter(pk=major.pk).update(comms_lead=world.people[3])
    assert "h-delivery" in client.get(detail_url(major)).content.decode()


def _notices(world, count, *, now=None):
    """`count` incidents, each with a sweep's notice to l4 and l5 (as an escalation writes)."""
    now = now or timezone.now()
    people = [notify.Recipient("l4@example.com"), notify.Recipient("l5@example.com")]
    written = []
    for n in range(count):
        incident = world.incident(title=f"Breaching {n}")
        written.append(notify.queue_notice(incident, people, headline=f"Escalation: Breaching {n}", key=f"step:{incident.pk}:0", now=now))
    return written


def test_notices_expand_many_to_a_transaction_with_a_few_statements(world):
    _notices(world, 12)
    with CaptureQueriesContext(connection) as queries:
        assert fanout.expand_one(batch=40) == 20  # a quarter of the batch: 10 notices, 2 messages each
    # The transaction, the claim, one INSERT of the messages, one UPDATE of the notices.
    assert len(queries) <= 5
    assert FanOut.objects.filter(expanded_at__isnull=True).count() == 2
    assert fanout.expand_due(batch=40) == 4
    assert OutboundMessage.objects.count() == 24
    assert set(OutboundMessage.objects.values_list("subject", flat=True)) == {
        f"[{incident.reference}] Escalation: Breaching {n}" for n, incident in enumerate(Incident.objects.order_by("pk"))
    }


def test_an_announcement_waits_for_the_notices_before_it_and_goes_alone(world, major):
    now = timezone.now()
    early = _notices(world, 2, now=now - timedelta(seconds=2))
    event = _update(world, major)
    FanOut.objects.filter(event=event).update(created_at=now - timedelta(seconds=1))
    late = _notices(world, 2, now=now)
    assert fanout.expand_one(batch=100) == 4  # the two notices before it only
    rows = FanOut.objects.filter(key__in=[n.key for n in early + late]).order_by("created_at", "pk")
    assert [row.expanded_at is not None for row in rows] == [True, True, False, False]
    assert fanout.expand_one(batch=100) == 2  # the update's named recipients, alone
    assert fanout.expand_one(batch=100) == 0  # its subscribers (none), alone
    assert fanout.expand_one(batch=100) == 4
    assert fanout.expand_one(batch=100) is None


def test_a_notice_batch_that_dies_is_redone_and_nobody_gets_two(world, monkeypatch):
    notices = _notices(world, 6)
    real_store = outbox.store

    def store_then_die(rows):
        real_store(rows)
        raise SystemExit("worker killed after writing the messages, before marking the notices")

    monkeypatch.setattr(outbox, "store", store_then_die)
    with pytest.raises(SystemExit):
        fanout.expand_one(batch=100)
    monkeypatch.setattr(outbox, "store", real_store)
    assert OutboundMessage.objects.count() == 0  # the dead batch rolled back whole
    assert FanOut.objects.filter(expanded_at__isnull=True).count() == 6
    assert fanout.expand_due(batch=100) == 12
    # A crashed worker's task coming back later with the same notices writes nothing new.
    FanOut.objects.filter(key__in=[n.key for n in notices]).update(stage=FanOut.Stage.DIRECT, expanded_at=None)
    assert fanout.expand_due(batch=100) == 12  # attempted, and every one conflicts on its key
    pairs = list(OutboundMessage.objects.values_list("fanout", "to"))
    assert len(pairs) == len(set(pairs)) == 12


def test_a_notice_to_nobody_is_not_written(world):
    incident = world.incident()
    assert notify.queue_notice(incident, [], headline="Escalation", key="step:x", now=timezone.now()) is None
    assert not FanOut.objects.exists()
