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
