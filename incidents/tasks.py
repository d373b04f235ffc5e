"""Thin Celery shells: each calls a function that claims its own work from the database,
so a duplicate, late or lost message changes nothing."""

from celery import shared_task

from incidents import delivery, engine, fanout, maintenance, services
from incidents.inbound import alerts, imap


@shared_task(name="incidents.tasks.deliver_outbox", ignore_result=True)
def deliver_outbox():
    """Kicked after a commit that queued messages, and swept by beat for stragglers and
    retries; the sweep also finishes any announcement a lost kick or a dead worker left
    half expanded (one periodic job for both, so embedded mode's one worker is not crowded)."""
    fanout.expand_due()
    return delivery.deliver_due()


@shared_task(name="incidents.tasks.expand_fanouts", ignore_result=True)
def expand_fanouts():
    """Kicked after a commit that posted an announcement (beat's outbox sweep is the fallback)."""
    return fanout.expand_due()


@shared_task(name="incidents.tasks.sweep_timers", ignore_result=True)
def sweep_timers():
    return engine.sweep_timers()


@shared_task(name="incidents.tasks.sweep_deadlines", ignore_result=True)
def sweep_deadlines():
    return engine.sweep_deadlines()


@shared_task(name="incidents.tasks.apply_inbound_alerts", ignore_result=True)
def apply_inbound_alerts():
    """Kicked after a webhook call was accepted, and swept by beat for stragglers."""
    return alerts.apply_pending()


@shared_task(name="incidents.tasks.scan_attachments", ignore_result=True)
def scan_attachments():
    """Kicked after an attachment was stored (with a scanner set), and swept by beat."""
    return services.attachments_scan()


@shared_task(name="incidents.tasks.sweep_maintenance", ignore_result=True)
def sweep_maintenance():
    """Tell subscribers of maintenance windows that started or ended (each once)."""
    return maintenance.sweep()


@shared_task(name="incidents.tasks.fetch_mail", ignore_result=True)
def fetch_mail():
    """Beat's poll of the IMAP mailbox (only scheduled when MAIL_IMAP_URL is set)."""
    from django.conf import settings

    if not settings.MAIL_IMAP_URL:
        return {}
    return dict(imap.fetch())
