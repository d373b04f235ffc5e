"""The queues: a worker started the way Celery's documentation starts one (no -Q) consumes
every queue the tasks are routed to; -Q still splits them."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from incidents import services
from incidents.models import OutboundMessage, TimelineEvent
from procedures.models import ProcedureVersion
from servicedesk.celery import QUEUES, app
from tests.processes.harness import Processes, Redis, Sink, environment, wait_for


def test_every_route_goes_to_a_declared_queue():
    declared = set(app.amqp.queues)
    assert declared == set(QUEUES)
    routed = {route["queue"] for route in app.conf.task_routes.values()} | {app.conf.task_default_queue}
    assert routed == declared
    for name in QUEUES:  # each queue its own exchange and key: a message lands in one queue
        queue = app.amqp.queues[name]
        assert (queue.exchange.name, queue.routing_key) == (name, name)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_without_queues_named_does_the_sweeps_and_sends_the_mail(world, tmp_path):
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.escalation = [{"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}}]
    version.save()
    with time_machine.travel(timezone.now() - timedelta(minutes=46)):  # its response target passed a minute ago
        incident = services.incident_register(actor=world.people[1], title="Overdue", category=world.hardware, impact=2, urgency=2)
    redis, sink = Redis(tmp_path), Sink()
    redis.start()
    with sink:
        env = environment(connection.settings_dict, CELERY_BROKER_URL=redis.url, EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port)
        processes = Processes(env, tmp_path)
        try:
            processes.start("worker", "-m", "celery", "-A", "servicedesk", "worker", "--loglevel", "info", "--concurrency", "1")
            processes.beat("beat")
            wait_for(lambda: TimelineEvent.objects.filter(incident=incident, kind="breached").exists(), 60, "the sweep (queue sweeps)")
            wait_for(
                lambda: {rcpt for _, rcpt in sink.counts()} == {"l4@example.com", "l5@example.com"}, 60,
                "the escalation emails (queue notifications)",
            )  # fmt: skip
            assert OutboundMessage.objects.filter(subject__contains="Escalation", state="sent").count() == 2
            log = (tmp_path / "worker.log").read_text()
            consumed = set(re.findall(r"\.> (\w+)\s+exchange=", log))
            assert consumed == set(QUEUES), log[-3000:]
            wait_for(lambda: "incidents.tasks.apply_inbound_alerts" in (tmp_path / "worker.log").read_text(), 30, "a task of queue default")
        except BaseException:
            print(processes.logs())
            raise
        finally:
            processes.stop()
            redis.stop()
