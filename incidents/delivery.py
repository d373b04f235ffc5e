"""Deliver outbox rows. A row is claimed with a compare-and-set on its attempt count, so
two workers never send the same row at once; a crash leaves it due for the next sweep."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.utils import timezone

from incidents.models import OutboundMessage

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
# While a worker holds a claim, others leave the row alone this long.
CLAIM_SECONDS = 120


def backoff(attempts):
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def _claim(message_id, now):
    message = OutboundMessage.objects.filter(pk=message_id).first()
    if message is None or message.state != OutboundMessage.State.PENDING or message.next_attempt_at > now:
        return None
    claimed = OutboundMessage.objects.filter(
        pk=message_id, state=OutboundMessage.State.PENDING, attempts=message.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    if claimed != 1:
        return None  # another worker got there first
    message.attempts += 1
    return message


def _send(message):
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers=message.headers or None,
    )
    if message.html:
        email.attach_alternative(message.html, "text/html")
    email.send(fail_silently=False)


def deliver(message_id, now=None):
    now = now or timezone.now()
    message = _claim(message_id, now)
    if message is None:
        return False
    try:
        _send(message)
    except Exception as exc:
        failed = message.attempts >= MAX_ATTEMPTS
        OutboundMessage.objects.filter(pk=message.pk).update(
            state=OutboundMessage.State.FAILED if failed else OutboundMessage.State.PENDING,
            next_attempt_at=now + backoff(message.attempts),
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        logger.warning("Delivery of message %s failed (attempt %s): %s", message.pk, message.attempts, exc)
        return False
    OutboundMessage.objects.filter(pk=message.pk).update(
        state=OutboundMessage.State.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def deliver_due(now=None, limit=500):
    """Deliver what is due: stragglers whose task was lost, and retries."""
    now = now or timezone.now()
    due = list(
        OutboundMessage.objects.filter(state=OutboundMessage.State.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if deliver(pk, now=now))
