"""Announcements to thousands with real processes: the worker expanding (or sending) one
is killed with SIGKILL in the middle, another finishes, and every recipient gets it:
exactly one message each (one outbox row, one Message-ID), which reaches the real SMTP
server once, or again (same Message-ID) only if it was the one the dead worker had
handed over and not yet marked (docs/background-work.md). For each kind of announcement: the
major-incident declaration, a public update, the resolution, and a public update to the
status page's subscribers."""

import time

import pytest
from django.db import connection
from django.utils import timezone

from incidents import services
from incidents.models import (
    FanOut,
    Incident,
    OutboundMessage,
    ServiceSubscription,
    StatusSubscriber,
)
from tests.processes.harness import Processes, Redis, Sink, environment, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SUBSCRIBERS = 500


@pytest.fixture
def stack(request, tmp_path):
    # Killing mid-send needs a server slow enough to catch the worker at it.
    redis, sink = Redis(tmp_path), Sink(delay=getattr(request, "param", 0))
    redis.start()
    with sink:
        env = environment(
            connection.settings_dict, CELERY_BROKER_URL=redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port,
            FANOUT_BATCH_SIZE=10,
        )  # fmt: skip
        processes = Processes(env, tmp_path)
        try:
            yield sink, processes
        except BaseException:
            print(processes.logs())
            raise
        finally:
            processes.stop()
            redis.stop()


def _subscribe(world, *, status_page=False):
    now = timezone.now()
    if status_page:
        StatusSubscriber.objects.bulk_create(
            StatusSubscriber(email=f"fan{n}@example.com", created_at=now, confirmed_at=now) for n in range(SUBSCRIBERS)
        )
    else:
        ServiceSubscription.objects.bulk_create(
            ServiceSubscription(service=world.service, email=f"fan{n}@example.com", created_at=now) for n in range(SUBSCRIBERS)
        )


def _settled(incident):
    """Announcements before the one under test count as delivered (no worker ran yet)."""
    FanOut.objects.filter(incident=incident).update(expanded_at=timezone.now())
    return Incident.objects.get(pk=incident.pk)


def _declaration(world):
    _subscribe(world)
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    return FanOut.objects.get(incident=incident, key__startswith="major:"), SUBSCRIBERS + 2


def _update(world):
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    _subscribe(world)  # subscribed after the declaration: they hear the update, not the declaration
    _, event = services.incident_add_public_update(actor=world.people[5], incident=_settled(incident), body="Restoring mail")
    return FanOut.objects.get(event=event), SUBSCRIBERS + 2


def _resolution(world):
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    _subscribe(world)
    incident = services.incident_start(actor=world.people[3], incident=_settled(incident))
    services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="fixed", resolution_notes="Back")
    return FanOut.objects.get(incident=incident, key__startswith="resolve"), SUBSCRIBERS + 2


def _status_page(world):
    world.service.is_public = True  # a major incident on a public service is public
    world.service.save()
    incident = world.incident()
    services.incident_declare_major(actor=world.people[5], incident=incident, reason="Mail is down")
    _subscribe(world, status_page=True)
    _, event = services.incident_add_public_update(actor=world.people[5], incident=_settled(incident), body="Restoring mail")
    return FanOut.objects.get(event=event), SUBSCRIBERS + 2


def _check_once_each(sink, announcement, expected, *, resent_at_most):
    wait_for(lambda: OutboundMessage.objects.filter(fanout=announcement, state="sent").count() == expected, 240, "every email")
    time.sleep(2)  # anything sent twice would arrive now
    announcement.refresh_from_db()
    assert announcement.expanded_at is not None
    assert OutboundMessage.objects.filter(fanout=announcement).count() == expected
    received = {key: n for key, n in sink.counts().items() if key[1].startswith("fan")}
    # One message per subscriber: one Message-ID each, never two different messages.
    assert len(received) == len({rcpt for _, rcpt in received}) == SUBSCRIBERS
    twice = [key for key, n in received.items() if n > 1]
    assert len(twice) <= resent_at_most and max(received.values()) <= 2, twice


@pytest.mark.parametrize("announce", [_declaration, _update, _resolution, _status_page])
def test_kill_minus_9_the_worker_expanding_an_announcement(world, stack, announce):
    sink, processes = stack
    announcement, expected = announce(world)
    first = processes.worker("worker-a")
    processes.beat("beat")
    wait_for(lambda: OutboundMessage.objects.filter(fanout=announcement).count() >= 100, 120, "the first batches", 0.02)
    processes.kill9(first)
    announcement.refresh_from_db()
    assert announcement.expanded_at is None, "the expansion finished before the kill; the test proves nothing"
    processes.worker("worker-b")
    # Each pool process (2) of the killed worker may have had one message taken by the
    # server and not yet marked: the only ones that may go twice.
    _check_once_each(sink, announcement, expected, resent_at_most=2)


@pytest.mark.parametrize("stack", [0.02], indirect=True)
@pytest.mark.parametrize("announce", [_update, _status_page])
def test_kill_minus_9_the_worker_sending_an_announcement(world, stack, announce):
    sink, processes = stack
    announcement, expected = announce(world)
    first = processes.worker("worker-a")
    processes.beat("beat")
    wait_for(lambda: OutboundMessage.objects.filter(fanout=announcement, state="sent").count() >= 30, 120, "the first sends", 0.02)
    processes.kill9(first)
    sent = OutboundMessage.objects.filter(fanout=announcement, state="sent").count()
    assert sent < expected, "everything was sent before the kill; the test proves nothing"
    processes.worker("worker-b")
    _check_once_each(sink, announcement, expected, resent_at_most=2)
