"""Expand announcements and notices (FanOut rows) into outbox messages, a batch at a time.

A request that announces something writes one FanOut row (incidents.notify.queue_fanout)
and answers; a sweep that escalates, warns or reminds writes one compact notice per
incident (incidents.notify.queue_notice) and goes on; workers expand both here. Each
batch is one transaction that holds the rows' locks (SKIP LOCKED: two workers never
expand the same one at once), writes the batch's messages with unique dedupe keys and
moves the cursor on (an announcement) or marks the batch's notices expanded. A worker
killed mid-batch rolls its transaction back whole; the next one redoes the batch, and
the dedupe keys make every recipient's message exist exactly once."""

import logging
import time
from itertools import takewhile

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from incidents import notify, outbox
from incidents.models import (
    FanOut,
    Incident,
    OutboundMessage,
    ServiceSubscription,
    StatusSubscriber,
)

logger = logging.getLogger(__name__)
Stage = FanOut.Stage


def audience(fanout):
    """The service's subscriptions as they stood when the announcement was posted: made
    by then, and not stopped before it (one stopped a second later still hears)."""
    return ServiceSubscription.objects.filter(service_id=fanout.service_id, created_at__lte=fanout.as_of).filter(
        Q(active=True, unsubscribed_at__isnull=True) | Q(unsubscribed_at__gt=fanout.as_of)
    )


def status_audience(fanout):
    """The status page's subscribers as they stood when posted: confirmed by then, not
    gone before it, following every public service or this one (for a maintenance window,
    one of its services)."""
    if fanout.maintenance_id is not None:
        services = {"service__maintenance_windows": fanout.maintenance_id}
    else:
        services = {"service_id": fanout.service_id}
    chosen = StatusSubscriber.services.through.objects.filter(**services).values("statussubscriber_id")
    return StatusSubscriber.objects.filter(confirmed_at__lte=fanout.as_of).filter(
        Q(unsubscribed_at__isnull=True) | Q(unsubscribed_at__gt=fanout.as_of)
    ).filter(Q(all_services=True) | Q(pk__in=chosen))


def _after(fanout, stage):
    """The stage after `stage` that this fan-out has."""
    if stage == Stage.DIRECT and fanout.subscribers:
        return Stage.SUBSCRIBERS
    if stage in (Stage.DIRECT, Stage.SUBSCRIBERS) and fanout.status_page:
        return Stage.STATUS_PAGE
    return Stage.DONE


def _rows(fanout, recipients):
    service_name = fanout.service.name if fanout.service_id else ""
    return notify.email_rows(
        fanout.incident_id, recipients, subject=fanout.subject, text=fanout.body, html=fanout.html,
        key=fanout.key, now=timezone.now(), service_name=service_name, fanout=fanout, marker=fanout.marker,
    )  # fmt: skip


def _notice_rows(notice, now):
    """A notice's messages, rendered from the words and facts the sweep recorded (the
    incident as it stood then, not as it stands now), to its named recipients."""
    shown = notice.facts
    subject, text, html = notify.render_message(
        Incident.reference_of(notice.incident_id), headline=notice.headline, body=shown.get("body", ""), shown=shown
    )
    recipients = [notify.Recipient(email, subscription_id) for email, subscription_id in notice.direct]
    rows = notify.email_rows(
        notice.incident_id, recipients, subject=subject, text=text, html=html, key=notice.key, now=now, fanout=notice
    )
    for row in rows:
        row.created_at = notice.created_at  # queued when the sweep decided; due from now
    return rows


def _expand_notices(notices):
    """Write the messages of claimed notices and mark them expanded: one INSERT, one UPDATE."""
    now = timezone.now()
    rows = []
    for notice in notices:
        rows += _notice_rows(notice, now)
    outbox.store(rows)
    FanOut.objects.filter(pk__in=[notice.pk for notice in notices]).update(stage=Stage.DONE, cursor=0, expanded_at=now)
    return len(rows)


def _expand_step(fanout, batch):
    """Write the next batch of one fan-out's messages and move its cursor; returns how many."""
    if fanout.stage == Stage.DIRECT:
        recipients = [notify.Recipient(email, subscription_id) for email, subscription_id in fanout.direct]
        rows = _rows(fanout, recipients)
        fanout.stage, fanout.cursor = _after(fanout, Stage.DIRECT), 0
    elif fanout.stage == Stage.STATUS_PAGE:
        subs = list(status_audience(fanout).filter(pk__gt=fanout.cursor).order_by("pk").values_list("pk", "email")[:batch])
        rows = notify.status_rows(fanout, subs, now=timezone.now())
        if len(subs) < batch:
            fanout.stage, fanout.cursor = Stage.DONE, 0
        else:
            fanout.cursor = subs[-1][0]
    else:
        subs = list(
            audience(fanout).filter(pk__gt=fanout.cursor).order_by("pk").values_list("pk", "email", "optional")[:batch]
        )
        rows = _rows(fanout, [notify.Recipient(email, pk if optional else None) for pk, email, optional in subs])
        if len(subs) < batch:
            fanout.stage, fanout.cursor = _after(fanout, Stage.SUBSCRIBERS), 0
        else:
            fanout.cursor = subs[-1][0]
    # An address already queued by this fan-out (the owner is also a subscriber) conflicts
    # on its dedupe key and is skipped: one message per address and announcement.
    outbox.store(rows)
    fields = ["stage", "cursor"]
    if fanout.stage == Stage.DONE:
        fanout.expanded_at = timezone.now()
        fields.append("expanded_at")
    fanout.save(update_fields=fields)
    return len(rows)


def expand_one(batch=None):
    """Claim the oldest fan-outs not yet expanded and write the next batch: the oldest
    announcement's next `batch` recipients, or the notices before it, up to a quarter of
    `batch` of them (each tells a few people). Returns how many messages it wrote; None
    when there is nothing to claim (all done, or every pending one held by another worker)."""
    batch = batch or settings.FANOUT_BATCH_SIZE
    with transaction.atomic():
        # Locked past the first announcement are released unread at the commit, for the next batch.
        claimed = list(
            FanOut.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(expanded_at__isnull=True)
            .order_by("created_at", "pk")[: max(1, batch // 4)]
        )
        if not claimed:
            return None
        if claimed[0].facts is None:
            return _expand_step(claimed[0], batch)
        return _expand_notices(list(takewhile(lambda row: row.facts is not None, claimed)))


def expand_due(*, batch=None, budget_seconds=45):
    """Expand announcements a batch at a time until none is left or the budget is spent;
    delivery starts as each batch commits (the outbox kicks it)."""
    started, written = time.monotonic(), 0
    while time.monotonic() - started < budget_seconds:
        count = expand_one(batch)
        if count is None:
            break
        written += count
    return written


def progress(fanouts):
    """Per fan-out: how many messages are queued, sent and failed so far, in one query."""
    counts = {
        row["fanout_id"]: row
        for row in OutboundMessage.objects.filter(fanout__in=fanouts)
        .values("fanout_id")
        .annotate(
            queued=Count("pk", filter=Q(state=OutboundMessage.State.PENDING)),
            sent=Count("pk", filter=Q(state=OutboundMessage.State.SENT)),
            failed=Count("pk", filter=Q(state=OutboundMessage.State.FAILED)),
        )
    }
    empty = {"queued": 0, "sent": 0, "failed": 0}
    return [(fanout, counts.get(fanout.pk, empty)) for fanout in fanouts]
