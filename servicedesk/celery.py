"""The Celery application. Periodic jobs live in `beat_schedule`; every job claims its
work from PostgreSQL, so a duplicate or lost message changes nothing."""

import os

from celery import Celery, signals
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

# Every queue a task is routed to: `sweeps` (timers, deadlines, reviews), `notifications`
# (fan-out and delivery) and `default` (the rest).
QUEUES = ("default", "sweeps", "notifications")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="default",
    # Declared, so a worker started without -Q (as Celery's documentation starts one)
    # consumes every queue; `-Q sweeps` and the like still split the work between workers.
    task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
    task_routes={
        "incidents.tasks.sweep_timers": {"queue": "sweeps"},
        "incidents.tasks.sweep_deadlines": {"queue": "sweeps"},
        "incidents.tasks.sweep_maintenance": {"queue": "sweeps"},
        "reporting.tasks.open_reviews": {"queue": "sweeps"},
        "reporting.tasks.remind_review_actions": {"queue": "sweeps"},
        "reporting.tasks.refresh_metrics_rollups": {"queue": "sweeps"},
        "incidents.tasks.deliver_*": {"queue": "notifications"},
        "incidents.tasks.expand_fanouts": {"queue": "notifications"},
    },
    # Publishing must never hold a request: if the broker is down the outbox waits.
    task_publish_retry=False,
    broker_connection_timeout=2,
    # Sweeps are periodic: a stale one (beat kept ticking while workers were down) is dropped.
    task_time_limit=300,
    timezone="UTC",
)
app.autodiscover_tasks()


@signals.task_prerun.connect
def _config_cache_begin(**kwargs):
    """Each task compares the configuration stamp once (procedures.config_cache)."""
    from procedures import config_cache

    config_cache.begin()


@signals.task_postrun.connect
def _config_cache_end(**kwargs):
    from procedures import config_cache

    config_cache.end()


@app.on_after_finalize.connect
def _schedule(sender, **kwargs):
    from django.conf import settings

    every = float(settings.SLA_SWEEP_SECONDS)
    expires = {"expires": every * 2}
    # Reviews and their reminders are due in days, not seconds: a minute is soon enough, and
    # it keeps embedded mode's single worker free for the sweeps that mark breaches.
    daily = max(every, 60.0)
    daily_expires = {"expires": daily * 2}
    rollup_every = max(every, 300.0)
    sender.conf.beat_schedule = {
        "sweep-timers": {"task": "incidents.tasks.sweep_timers", "schedule": every, "options": expires},
        "sweep-deadlines": {"task": "incidents.tasks.sweep_deadlines", "schedule": every, "options": expires},
        "sweep-outbox": {"task": "incidents.tasks.deliver_outbox", "schedule": every, "options": expires},
        "apply-inbound-alerts": {"task": "incidents.tasks.apply_inbound_alerts", "schedule": every, "options": expires},
        # Maintenance starts and ends are told within a minute (embedded mode's one worker).
        "sweep-maintenance": {"task": "incidents.tasks.sweep_maintenance", "schedule": daily, "options": daily_expires},
        "open-reviews": {"task": "reporting.tasks.open_reviews", "schedule": daily, "options": daily_expires},
        "remind-review-actions": {
            "task": "reporting.tasks.remind_review_actions", "schedule": daily, "options": daily_expires,
        },
        # The metrics' daily roll-ups: days whose incidents changed are rebuilt (a few
        # seconds' work at most); until then the metrics read those days from the incidents.
        "refresh-metrics-rollups": {
            "task": "reporting.tasks.refresh_metrics_rollups", "schedule": rollup_every, "options": {"expires": rollup_every * 2},
        },
    }
    if settings.MAIL_IMAP_URL:  # email in from a mailbox: polled (incidents.inbound.imap)
        poll = float(settings.MAIL_FETCH_SECONDS)
        sender.conf.beat_schedule["fetch-mail"] = {
            "task": "incidents.tasks.fetch_mail", "schedule": poll, "options": {"expires": poll},
        }
    if settings.ATTACHMENT_SCANNER:  # nothing waits for a scan without one: no task for the single worker
        sender.conf.beat_schedule["scan-attachments"] = {
            "task": "incidents.tasks.scan_attachments", "schedule": every, "options": expires,
        }
