"""The engine with real processes: a worker killed with SIGKILL mid-sweep, or while it
turns the sweep's notices into messages, Redis gone for 30 seconds while incidents are
created, two beats at once. Real PostgreSQL, a private Redis, real Celery workers and a
real SMTP server."""

import json
import time
import urllib.request
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from incidents import services
from incidents.models import EscalationStepRun, FanOut, Incident, OutboundMessage, TimelineEvent
from procedures.models import ProcedureVersion
from skills.services import token_issue
from tests.processes.harness import Processes, Redis, Sink, environment, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(request, tmp_path):
    redis, sink = Redis(tmp_path), Sink()
    redis.start()
    with sink:
        env = environment(
            connection.settings_dict, CELERY_BROKER_URL=redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port,
            **getattr(request, "param", {}),
        )  # fmt: skip
        processes = Processes(env, tmp_path)
        try:
            yield redis, sink, processes
        except BaseException:
            print(processes.logs())
            raise
        finally:
            processes.stop()
            redis.stop()


@pytest.fixture
def escalating(world):
    """Breaching the response target notifies the incident managers (l4 and l5)."""
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.escalation = [{"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}}]
    version.save()


def _register_overdue(world, count):
    """`count` incidents whose response target passed a minute ago (and nothing else)."""
    with time_machine.travel(timezone.now() - timedelta(minutes=46)):
        for n in range(count):
            services.incident_register(actor=world.people[1], title=f"Overdue {n}", category=world.hardware, impact=2, urgency=2)


def _breaches():
    return TimelineEvent.objects.filter(kind="breached", data__clock="response").count()


def _assert_each_effect_once(count, sink, *, resent_at_most=0):
    """Every effect once; at the SMTP boundary a worker killed mid-send may have had one
    message per pool process (2) taken by the server and not yet marked, which goes again
    with the same Message-ID (docs/background-work.md)."""
    per_incident = TimelineEvent.objects.filter(kind="breached", data__clock="response").values("incident").distinct().count()
    assert _breaches() == per_incident == count
    assert EscalationStepRun.objects.count() == count
    assert OutboundMessage.objects.filter(subject__contains="Escalation").count() == 2 * count
    received = sink.counts()
    escalations = {key: n for key, n in received.items() if key[1] in ("l4@example.com", "l5@example.com")}
    assert len(escalations) == 2 * count
    twice = [key for key, n in escalations.items() if n > 1]
    assert len(twice) <= resent_at_most and max(escalations.values()) <= 2, twice[:5]


# Batches of 100: the kill lands between two of the sweep's commits.
@pytest.mark.parametrize("stack", [{"SLA_SWEEP_BATCH": 100}], indirect=True)
def test_kill_minus_9_a_worker_mid_sweep(world, escalating, stack):
    redis, sink, processes = stack
    _register_overdue(world, 1000)
    first = processes.worker("worker-a")
    processes.beat("beat")
    wait_for(lambda: _breaches() >= 1, 120, "the first breaches")
    processes.kill9(first)
    killed_at = _breaches()
    assert killed_at < 1000, "the sweep finished before the kill; the test proves nothing"
    processes.worker("worker-b")
    wait_for(lambda: _breaches() == 1000, 180, "every breach")
    wait_for(lambda: OutboundMessage.objects.filter(state="sent").count() == 2000, 180, "every email")
    time.sleep(2)  # anything sent twice would arrive now
    _assert_each_effect_once(1000, sink, resent_at_most=2)
    assert Incident.objects.filter(response_breached=False).count() == 0


# FANOUT_BATCH_SIZE 10: two notices (four messages) per transaction, so the kill lands mid-expansion.
@pytest.mark.parametrize("stack", [{"FANOUT_BATCH_SIZE": 10}], indirect=True)
def test_kill_minus_9_the_worker_expanding_the_notices(world, escalating, stack):
    redis, sink, processes = stack
    _register_overdue(world, 1000)
    notices = FanOut.objects.filter(key__startswith="step:")
    first = processes.worker("worker-a")
    processes.beat("beat")
    wait_for(lambda: OutboundMessage.objects.filter(subject__contains="Escalation").count() >= 40, 120, "the first notices expanded", 0.02)
    processes.kill9(first)
    assert notices.filter(expanded_at__isnull=True).exists(), "every notice was expanded before the kill; the test proves nothing"
    processes.worker("worker-b")
    wait_for(lambda: _breaches() == 1000, 180, "every breach")
    wait_for(lambda: OutboundMessage.objects.filter(state="sent").count() == 2000, 180, "every email")
    time.sleep(2)  # anything sent twice would arrive now
    _assert_each_effect_once(1000, sink, resent_at_most=2)
    assert notices.count() == 1000 and not notices.filter(expanded_at__isnull=True).exists()
    per_notice = OutboundMessage.objects.filter(fanout__in=notices).values("fanout").annotate(n=Count("pk"))
    assert len(per_notice) == 1000 and {row["n"] for row in per_notice} == {2}


def test_two_beats_and_two_workers_do_each_effect_once(world, escalating, stack):
    redis, sink, processes = stack
    _register_overdue(world, 300)
    processes.beat("beat-1")
    processes.beat("beat-2")
    processes.worker("worker-1")
    processes.worker("worker-2")
    wait_for(lambda: OutboundMessage.objects.filter(state="sent").count() == 600, 180, "every email")
    time.sleep(3)
    _assert_each_effect_once(300, sink)


def test_redis_down_for_30_seconds_loses_nothing(world, stack):
    redis, sink, processes = stack
    _, token = token_issue(person=world.people[2])
    port = free_port()
    processes.web(port)
    processes.worker("worker")
    processes.beat("beat")
    wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz") == 200, 60, "web")

    def create(n):
        body = {"title": f"During the outage {n}", "category": "hardware", "impact": 3, "urgency": 3, "reporter": "rita", "service": "email"}
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/incidents/", data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=30) as response:
            reference = json.loads(response.read())["reference"]
            assert response.status == 201
        update = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/incidents/{reference}/updates/", data=b'{"body": "We are on it"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(update, timeout=30) as response:
            assert response.status == 200
        return time.monotonic() - started

    create(0)
    wait_for(lambda: len(sink.counts()) == 2, 60, "delivery before the outage")  # rita and svcowner
    redis.stop()
    outage_started, latencies = time.monotonic(), []
    while time.monotonic() - outage_started < 30:
        latencies.append(create(len(latencies) + 1))
        time.sleep(0.5)
    sent_during = OutboundMessage.objects.filter(state="sent").count()
    redis.start()
    created = len(latencies) + 1
    expected = 2 * created  # rita and the service owner, for every update
    delivered = lambda: OutboundMessage.objects.filter(state="sent").count() == expected  # noqa: E731
    try:
        wait_for(delivered, 90, "delivery after the outage")
    except AssertionError:
        # Celery's worker sometimes reconnects to a restarted Redis and never consumes again
        # (upstream: celery/celery issues 8384, 10205, 10302; the process lives, so only a
        # health check and a restart notice it). The database keeps every announcement and
        # message meanwhile: a worker started now delivers all of them.
        print(f"the first worker stopped consuming after the outage:\n{processes.logs()}")
        processes.worker("worker2")
        try:
            wait_for(delivered, 90, "delivery by a new worker after the outage")
        except AssertionError as exc:  # the processes' own account of it
            raise AssertionError(f"{exc}\n{processes.logs()}") from None
    assert Incident.objects.count() == created
    assert sent_during == 2  # nothing could be handed to a worker while Redis was down
    assert len(sink.counts()) == expected and max(sink.counts().values()) == 1
    assert max(latencies) < 5, f"a create waited {max(latencies):.1f} s for the broker"


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None
