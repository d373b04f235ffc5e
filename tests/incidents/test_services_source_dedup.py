"""Concurrent deliveries of the same alert create one incident: the unique partial index
decides, not a read-then-write. Two real transactions on two connections."""

import threading

import pytest
from django.db import connection

from incidents import services
from incidents.models import Incident
from tests.incidents.inbound_helpers import integration


def _trigger(world, monitor, barrier, results):
    try:
        barrier.wait(timeout=10)
        incident, created = services.incident_source_trigger(
            actor=monitor, source_key="alertmanager:race", title="Disk full", category=world.hardware,
            impact=2, urgency=2,
        )  # fmt: skip
        results.append((incident.pk, created))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_make_one_incident(world):
    monitor = integration()
    for _ in range(3):
        barrier, results = threading.Barrier(4), []
        threads = [threading.Thread(target=_trigger, args=(world, monitor, barrier, results)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == 4
        assert len({pk for pk, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, False, False, True]
        incident = Incident.objects.get(status="new")
        assert incident.repeat_count == 3
        Incident.objects.filter(pk=incident.pk).update(status="closed")


@pytest.mark.django_db(transaction=True)
def test_the_index_refuses_a_second_open_incident_of_a_key(world):
    from django.db import IntegrityError

    monitor = integration()
    incident, _ = services.incident_source_trigger(
        actor=monitor, source_key="k", title="t", category=world.hardware, impact=2, urgency=2
    )
    with pytest.raises(IntegrityError):
        services.incident_register(
            actor=monitor, title="t", category=world.hardware, impact=2, urgency=2, source_key="k"
        )
