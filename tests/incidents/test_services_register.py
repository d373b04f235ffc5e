import threading

import pytest
from django.db import connection

from incidents.models import Incident
from incidents.services import incident_register

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)
def test_references_unique_under_twenty_concurrent_registrations(world):
    assert connection.vendor == "postgresql"
    barrier = threading.Barrier(20)
    references, failures = [], []

    def register(n):
        try:
            barrier.wait(timeout=30)
            incident = incident_register(
                actor=world.people[1], title=f"Concurrent {n}", category=world.hardware, impact=2, urgency=2
            )
            references.append(incident.reference)
        except Exception as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(references) == 20 == len(set(references))
    assert Incident.objects.count() == 20


def test_reference_round_trips():
    assert Incident.pk_from_reference("INC-000123") == 123
    assert Incident.pk_from_reference("INC-1234567") == 1234567
    for bad in ("INC-12", "inc-000123", "INC-000123x", "", None):
        assert Incident.pk_from_reference(bad) is None


@pytest.mark.parametrize(
    ("impact", "urgency", "priority"),
    [(1, 1, 1), (1, 2, 2), (1, 3, 3), (2, 1, 2), (2, 2, 3), (2, 3, 4), (3, 1, 3), (3, 2, 4), (3, 3, 5)],
)
def test_priority_from_itil_matrix(world, impact, urgency, priority):
    assert world.incident(impact=impact, urgency=urgency).priority == priority


@pytest.mark.django_db(transaction=True)
def test_one_registration_key_sent_ten_times_at_once_makes_one_incident(world):
    import uuid

    from incidents.models import TimelineEvent

    key, barrier = uuid.uuid4(), threading.Barrier(10)
    references, failures = [], []

    def register():
        try:
            barrier.wait(timeout=30)
            incident = incident_register(
                actor=world.people[1], title="Sent twice", category=world.hardware, impact=2, urgency=2,
                registration_key=key,
            )  # fmt: skip
            references.append(incident.reference)
        except Exception as exc:  # collected and asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(references) == 10 and len(set(references)) == 1
    assert Incident.objects.count() == 1 and TimelineEvent.objects.filter(kind="registered").count() == 1
