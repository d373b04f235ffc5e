"""Deliver outbox rows: email over SMTP and signed webhooks.

Rows are claimed in batches with SELECT ... FOR UPDATE SKIP LOCKED and a claim window
(`next_attempt_at` moved on), so two workers never hold the same row; a worker killed
mid-batch leaves its rows to be claimed again when the window ends. A batch goes over one
SMTP connection, each message composed from parts encoded once per batch
(incidents.mailwire), and each message handed over is marked sent at once: one UPDATE
in its own commit, which does not wait for the WAL flush (a round trip, ~0.1 ms).

Exactly once, as far as SMTP allows: a message is handed over when the server answers
250 to its data, and no mark can be atomic with that answer. A worker killed after the
server took a message and before its mark reached the database leaves that one message
(per worker process) to be sent again, with the same Message-ID, so mail clients show one;
killed anywhere else, nothing goes twice. `OUTBOX_MARK_EVERY` > 1 trades that bound for
fewer statements (one UPDATE per N messages; up to N resends)."""

import hashlib
import hmac
import logging
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from incidents import egress, mailwire, outbox
from incidents.models import OutboundMessage

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
BATCH = 100
State = OutboundMessage.State


def backoff(attempts):
    """30 s, 1 min, 2 min, ... capped at an hour; far below the broker's visibility timeout
    because retries are rows in the database, never delayed Celery tasks."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def claim(limit, now):
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(state=State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            OutboundMessage.objects.filter(pk__in=ids).update(
                attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)
            )
    return list(OutboundMessage.objects.filter(pk__in=ids).select_related("webhook").order_by("pk"))


def _email(message, composer):
    return mailwire.OutboxEmail(
        subject=message.subject,
        body=message.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers=message.headers or None,
        alternatives=[(message.html, "text/html")] if message.html else None,
        composer=composer,
    )


def sign(secret, timestamp, body):
    """HMAC-SHA256 over "<timestamp>.<body>", hex: the receiver recomputes and compares,
    and refuses old timestamps."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def _post_webhook(message):
    timestamp = str(int(time.time()))
    status = egress.post(
        message.to,
        body=message.body.encode(),
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Firebreak-Webhook/1",
            "X-Firebreak-Event": message.subject,
            "X-Firebreak-Delivery": str(message.pk),
            "X-Firebreak-Timestamp": timestamp,
            "X-Firebreak-Signature": "sha256=" + sign(message.webhook.secret, timestamp, message.body),
        },
        timeout=10,
    )
    if not 200 <= status < 300:
        raise RuntimeError(f"HTTP {status}")


def _failed(message, exc, now):
    # An address Firebreak does not send to stays one: no point in trying it again.
    final = message.attempts >= MAX_ATTEMPTS or isinstance(exc, egress.RefusedAddress)
    OutboundMessage.objects.filter(pk=message.pk, attempts=message.attempts).update(
        state=State.FAILED if final else State.PENDING,
        next_attempt_at=now + backoff(message.attempts),
        last_error=f"{type(exc).__name__}: {exc}"[:2000],
    )
    logger.warning("Delivery of message %s failed (attempt %s%s): %s", message.pk, message.attempts,
                   ", giving up" if final else "", exc)  # fmt: skip


def _still_ours(message, claimed_at):
    """Is this worker's claim on the message still good? Nobody can reclaim it before its
    window ends, so in the first half of the window there is nothing to ask. Later (a slow
    batch) the message's claim is renewed with a compare-and-set on `attempts`, which every
    claim bumps: if another worker took the message meanwhile, leave it alone."""
    window = timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)
    now = timezone.now()
    if now < claimed_at + window / 2:
        return True
    return (
        OutboundMessage.objects.filter(pk=message.pk, state=State.PENDING, attempts=message.attempts).update(
            next_attempt_at=now + window
        )
        == 1
    )


# One message marked sent, guarded by its claim (OutboundMessage's table; tested): the
# statement a worker runs after every message, so not built by the ORM each time.
MARK_ONE_SQL = (
    "UPDATE incidents_outboundmessage SET state = %s, sent_at = %s, last_error = '' "
    "WHERE id = %s AND attempts = %s AND state = %s"
)


def _mark_sent(messages):
    """One UPDATE for messages handed over; each still guarded by its claim (attempts).
    Outside a transaction (a worker) it is one statement with its own commit, asynchronous
    when `_asynchronous_commits` is in force."""
    if not messages:
        return
    if len(messages) == 1:  # the default: one message at a time, as cheap as a mark can be
        (message,) = messages
        with connection.cursor() as cursor:
            cursor.execute(MARK_ONE_SQL, [State.SENT, timezone.now(), message.pk, message.attempts, State.PENDING])
        messages.clear()
        return
    by_attempts = {}
    for message in messages:
        by_attempts.setdefault(message.attempts, []).append(message.pk)
    guard = Q()
    for attempts, ids in by_attempts.items():
        guard |= Q(pk__in=ids, attempts=attempts)
    OutboundMessage.objects.filter(guard, state=State.PENDING).update(state=State.SENT, sent_at=timezone.now(), last_error="")
    messages.clear()


@contextmanager
def _asynchronous_commits():
    """For the marks of one batch, commits do not wait for the WAL flush. A mark lost with
    the database server's last moments (it crashed before its WAL reached the disk) only
    means a resend with the same Message-ID; waiting for the flush would cost more than the
    UPDATE itself. Session-wide, so each mark is a single statement (no BEGIN, SET LOCAL,
    COMMIT around it); restored after the batch."""
    if connection.vendor != "postgresql":  # embedded mode's SQLite has no such setting
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def deliver_batch(messages, now, *, mark_every=None):
    """Send the claimed messages over one SMTP connection, each message composed from
    parts encoded once per batch (incidents.mailwire), and mark each one handed over as
    sent (or one UPDATE per `OUTBOX_MARK_EVERY` of them). A worker killed mid-batch leaves
    the one it handed over and had not marked yet (or those since its last mark) to be
    sent again, with the same Message-ID."""
    with _asynchronous_commits():
        return _deliver_batch(messages, now, mark_every or settings.OUTBOX_MARK_EVERY)


def _deliver_batch(messages, now, mark_every):
    sent, handed, mailer, composer = 0, [], None, mailwire.Composer()
    try:
        for message in messages:
            if not _still_ours(message, now):
                continue
            try:
                if message.channel == OutboundMessage.Channel.WEBHOOK:
                    _post_webhook(message)
                else:
                    if mailer is None:
                        mailer = mail.mailers.default
                        mailer.open()
                    mailer.send_messages([_email(message, composer)])
            except Exception as exc:
                _failed(message, exc, now)
                if mailer is not None and message.channel == OutboundMessage.Channel.EMAIL:
                    mailer.close()  # a broken SMTP session is not reused
                    mailer = None
                continue
            handed.append(message)
            sent += 1
            if len(handed) >= mark_every:
                _mark_sent(handed)
    finally:
        try:
            _mark_sent(handed)
        finally:
            if mailer is not None:
                mailer.close()
    return sent


def retry_failed(*, actor, messages, now=None):
    """Try messages that failed for good once more (the admin's "Try again now"). Only
    failed ones: a pending message may be in a worker's hands, and its claim is a
    compare-and-set on `attempts`, which therefore never goes down. A retried message
    gets one more attempt (then fails again, or is sent). Returns how many."""
    from incidents.selectors import incidents_visible_to
    from skills.errors import Forbidden
    from skills.policy import Action, can, why_not

    if not can(actor, Action.RETRY_DELIVERY):
        raise Forbidden(why_not(actor, Action.RETRY_DELIVERY))
    now = now or timezone.now()
    ids = [message.pk for message in messages]
    visible = incidents_visible_to(actor).values("pk")
    with transaction.atomic():
        count = (
            OutboundMessage.objects.filter(pk__in=ids, state=State.FAILED)
            .filter(Q(incident__isnull=True) | Q(incident__in=visible))
            .update(state=State.PENDING, next_attempt_at=now)
        )
        if count:
            logger.info("%s asked for %s failed message(s) to be tried again", actor.username, count)
            transaction.on_commit(outbox.kick_delivery)
    return count


def deliver_due(now=None, *, batch=BATCH, budget_seconds=10):
    """Deliver what is due, a batch at a time, until nothing is due or the budget is spent.
    A spent budget with mail still due asks for another round at the back of the queue, so
    a long backlog never holds a worker away from the timer sweeps queued meanwhile (with
    several workers the sweeps of a breach storm then run side by side)."""
    started, delivered = time.monotonic(), 0
    while True:
        if time.monotonic() - started >= budget_seconds:
            outbox.kick_delivery()
            break
        moment = now or timezone.now()
        messages = claim(batch, moment)
        if not messages:
            break
        delivered += deliver_batch(messages, moment)
    return delivered
