"""The transactional outbox: message rows are written in the caller's transaction, and
after commit a worker is asked (by task name, so nothing here imports the tasks) to
deliver them. If the broker is down nothing is lost: beat's outbox sweep delivers later."""

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from celery import current_app
from django.db import transaction

from incidents.models import FanOut, OutboundMessage

logger = logging.getLogger(__name__)
DELIVER_TASK = "incidents.tasks.deliver_outbox"
EXPAND_TASK = "incidents.tasks.expand_fanouts"


@dataclass
class _Buffer:
    rows: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)


_buffer: ContextVar[_Buffer | None] = ContextVar("outbox_buffer", default=None)


@contextmanager
def collecting():
    """Within the block, outbox rows and notices are gathered and written with one INSERT
    each at the end (and lookups such as webhook subscriptions are made once): for sweeps
    that touch hundreds of incidents in one transaction."""
    buffer = _Buffer()
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)
    _write_notices(buffer.notices)
    _write(buffer.rows)


def store(rows):
    """Queue message rows: now, or at the end of the `collecting()` block around us."""
    buffer = _buffer.get()
    if buffer is None:
        _write(rows)
    else:
        buffer.rows.extend(rows)


def store_notices(notices):
    """Queue notices (unsaved FanOut rows, `incidents.notify.queue_notice`): now, or at the
    end of the `collecting()` block around us."""
    buffer = _buffer.get()
    if buffer is None:
        _write_notices(notices)
    else:
        buffer.notices.extend(notices)


def cached(key, compute):
    """`compute()`, once per `collecting()` block (every time outside one)."""
    buffer = _buffer.get()
    if buffer is None:
        return compute()
    if key not in buffer.cache:
        buffer.cache[key] = compute()
    return buffer.cache[key]


def _write(rows):
    if rows:
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        transaction.on_commit(kick_delivery)


def _write_notices(notices):
    # A notice's key is its effect's: one already written (never, with the sweeps' guards)
    # is skipped, as an outbox row's would be.
    if notices:
        FanOut.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)
        transaction.on_commit(kick_expansion)


def kick_delivery():
    """Ask a worker to drain the outbox now."""
    try:
        current_app.send_task(DELIVER_TASK, retry=False)
    except Exception:
        logger.warning("Broker unavailable; the outbox sweep will deliver later.")


def kick_expansion():
    """Ask a worker to expand the announcements waiting for it (incidents.fanout)."""
    try:
        current_app.send_task(EXPAND_TASK, retry=False)
    except Exception:
        logger.warning("Broker unavailable; the fan-out sweep will expand later.")
