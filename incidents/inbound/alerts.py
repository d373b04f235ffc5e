"""Prometheus Alertmanager's webhook (version 4): one incident per alert fingerprint."""

import logging
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from incidents import outbox, services
from incidents.inbound.labels import LabelMapper
from incidents.models import InboundAlert
from procedures.limits import TEXT_MAX, TITLE_MAX
from skills.errors import DomainError, Forbidden
from skills.policy import Action, can, why_not

logger = logging.getLogger(__name__)

TOP_FIELDS = {
    "version", "status", "alerts", "receiver", "groupLabels", "commonLabels", "commonAnnotations",
    "externalURL", "groupKey", "truncatedAlerts",
}  # fmt: skip
ALERT_FIELDS = {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
STATUSES = ("firing", "resolved")
FINGERPRINT_MAX = 64


def _strings(value, where):
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError({where: ["Must be an object of strings."]})
    return value


def _time(value, where):
    if not isinstance(value, str):
        raise ValidationError({where: ["Must be an RFC 3339 time."]})
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError({where: [f"Not an RFC 3339 time: {value[:40]!r}."]}) from None


def parse(body):
    """Check a webhook body and return its alerts; ValidationError names what is wrong."""
    if not isinstance(body, dict):
        raise ValidationError({"non_field_errors": ["The body must be a JSON object."]})
    unknown = sorted(set(body) - TOP_FIELDS)
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    if body.get("version") != "4":
        raise ValidationError({"version": ['Only version "4" of the webhook body is understood.']})
    if body.get("status") not in STATUSES:
        raise ValidationError({"status": ['Must be "firing" or "resolved".']})
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise ValidationError({"alerts": ["Must be a non-empty list of alerts."]})
    if len(alerts) > settings.INBOUND_MAX_ALERTS:
        raise ValidationError({"alerts": [f"At most {settings.INBOUND_MAX_ALERTS} alerts in one call."]})
    parsed = []
    for n, alert in enumerate(alerts):
        where = f"alerts[{n}]"
        if not isinstance(alert, dict):
            raise ValidationError({where: ["Must be an object."]})
        unknown = sorted(set(alert) - ALERT_FIELDS)
        if unknown:
            raise ValidationError({f"{where}.{name}": ["Unknown field."] for name in unknown})
        if alert.get("status") not in STATUSES:
            raise ValidationError({f"{where}.status": ['Must be "firing" or "resolved".']})
        fingerprint = alert.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint or len(fingerprint) > FINGERPRINT_MAX:
            raise ValidationError({f"{where}.fingerprint": [f"Must be a string of 1 to {FINGERPRINT_MAX} characters."]})
        labels = _strings(alert.get("labels"), f"{where}.labels")
        annotations = _strings(alert.get("annotations", {}), f"{where}.annotations")
        _time(alert.get("startsAt"), f"{where}.startsAt")
        generator = alert.get("generatorURL", "")
        if not isinstance(generator, str):
            raise ValidationError({f"{where}.generatorURL": ["Must be a string."]})
        parsed.append({**alert, "labels": labels, "annotations": annotations, "generatorURL": generator})
    return parsed


def _title(alert):
    labels, annotations = alert["labels"], alert["annotations"]
    name = labels.get("alertname", "Alert")
    summary = annotations.get("summary") or annotations.get("title")
    where = labels.get("instance") or labels.get("service") or labels.get("job")
    title = f"{name}: {summary}" if summary else name
    if where:
        title = f"{title} ({where})"
    return " ".join(title.split())[:TITLE_MAX]


def _description(alert):
    annotations, labels = alert["annotations"], alert["labels"]
    lines = [annotations.get("description", "")]
    lines += [f"{key}: {value}" for key, value in sorted(annotations.items()) if key not in ("summary", "description")]
    lines += ["", "Labels:", *(f"  {key}={value}" for key, value in sorted(labels.items()))]
    if alert["generatorURL"]:
        lines += ["", f"Source: {alert['generatorURL']}"]
    return "\n".join(lines).strip()[:TEXT_MAX]


def source_key(actor, fingerprint):
    return f"alertmanager:{actor.pk}:{fingerprint}"


APPLY_TASK = "incidents.tasks.apply_inbound_alerts"
BATCH = 100


def kick_apply():
    """Ask a worker to apply what arrived (by task name); beat sweeps up if the broker is down."""
    try:
        current_app.send_task(APPLY_TASK, retry=False)
    except Exception:
        logger.warning("Broker unavailable; the inbound sweep will apply the alerts later.")


@transaction.atomic
def accept(*, actor, body, now=None):
    """Check a webhook body and keep its alerts for a worker: one INSERT, so the call is
    answered quickly however large the group. Returns the alerts accepted."""
    if not can(actor, Action.INGEST):
        raise Forbidden(why_not(actor, Action.INGEST))
    now = now or timezone.now()
    alerts = parse(body)
    InboundAlert.objects.bulk_create(
        InboundAlert(
            actor=actor, source_key=source_key(actor, alert["fingerprint"]), status=alert["status"],
            payload=alert, received_at=now,
        )  # fmt: skip
        for alert in alerts
    )
    transaction.on_commit(kick_apply)
    return [{"fingerprint": alert["fingerprint"], "status": alert["status"]} for alert in alerts]


def _claim(limit):
    """The oldest pending alerts whose key has no older pending alert (so a key's alerts
    apply in order even with several workers), locked; others' claims are skipped."""
    older = InboundAlert.objects.filter(
        state=InboundAlert.State.PENDING, source_key=OuterRef("source_key"), id__lt=OuterRef("id")
    )
    return list(
        InboundAlert.objects.select_related("actor")
        .filter(state=InboundAlert.State.PENDING)
        .exclude(Exists(older))
        .order_by("id")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )


def _apply(row, mapper, now):
    alert = row.payload
    if row.status == "firing":
        fields = mapper.map(alert["labels"])
        incident, created = services.incident_source_trigger(
            actor=row.actor, source_key=row.source_key, title=_title(alert), description=_description(alert),
            detail={"source": "alertmanager", "starts_at": alert["startsAt"]}, now=now, **fields,
        )  # fmt: skip
        return incident, "created" if created else "repeated"
    note = f"Alertmanager: {_title(alert)} resolved (ended {alert.get('endsAt', '')})."
    incident, resolved = services.incident_source_resolve(actor=row.actor, source_key=row.source_key, note=note, now=now)
    return incident, "resolved" if resolved else ("noted" if incident else "no_open_incident")


def apply_pending(*, limit=BATCH, now=None):
    """Apply pending alerts, a batch per transaction, until none is left. An alert that
    cannot be applied (say the default category is gone) is marked failed with the reason;
    the others go on. Returns how many were applied."""
    applied = 0
    while True:
        with transaction.atomic(), outbox.collecting():
            rows = _claim(limit)
            if not rows:
                return applied
            mapper = LabelMapper()
            for row in rows:
                at = now or timezone.now()
                try:
                    with transaction.atomic():
                        incident, row.outcome = _apply(row, mapper, at)
                    row.incident, row.state = incident, InboundAlert.State.DONE
                except (ValidationError, DomainError) as error:
                    row.state, row.error = InboundAlert.State.FAILED, str(error)[:2000]
                row.applied_at = at
            InboundAlert.objects.bulk_update(rows, ["state", "outcome", "incident", "error", "applied_at"])
            applied += len(rows)
