"""Prometheus Alertmanager's webhook (version 4): one incident per alert fingerprint."""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents import services
from incidents.inbound.labels import LabelMapper
from procedures.limits import TEXT_MAX, TITLE_MAX

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


@transaction.atomic
def receive(*, actor, body, now=None):
    """Apply one webhook call: a firing alert registers or repeats, a resolved one
    resolves (or notes). One transaction for the group, alerts in fingerprint order (so
    two deliveries of a group lock rows in the same order). Returns one outcome per alert."""
    alerts = sorted(parse(body), key=lambda alert: alert["fingerprint"])
    mapper = LabelMapper()
    outcomes = []
    for alert in alerts:
        key = source_key(actor, alert["fingerprint"])
        if alert["status"] == "firing":
            fields = mapper.map(alert["labels"])
            incident, created = services.incident_source_trigger(
                actor=actor, source_key=key, title=_title(alert), description=_description(alert),
                detail={"source": "alertmanager", "starts_at": alert["startsAt"]}, now=now, **fields,
            )  # fmt: skip
            outcome = "created" if created else "repeated"
        else:
            note = f"Alertmanager: {_title(alert)} resolved (ended {alert.get('endsAt', '')})."
            incident, resolved = services.incident_source_resolve(actor=actor, source_key=key, note=note, now=now)
            outcome = "resolved" if resolved else ("noted" if incident else "no_open_incident")
        outcomes.append({
            "fingerprint": alert["fingerprint"], "status": alert["status"], "outcome": outcome,
            "reference": incident.reference if incident else None,
        })  # fmt: skip
    return outcomes
