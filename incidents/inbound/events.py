"""The generic events API for other monitors (Grafana, Zabbix, scripts): trigger,
acknowledge, resolve by a dedup key, with the same rules as Alertmanager's alerts."""

import json

from django.db import transaction
from rest_framework import serializers

from incidents import services
from incidents.inbound.labels import LabelMapper
from procedures.limits import TEXT_MAX, TITLE_MAX
from skills.api_fields import JSONSerializer

DEDUP_KEY_MAX = 200
DETAILS_MAX = 10_000  # characters of JSON


class EventSerializer(JSONSerializer):
    unknown_fields = False
    dedup_key = serializers.CharField(max_length=DEDUP_KEY_MAX)
    action = serializers.ChoiceField(choices=["trigger", "acknowledge", "resolve"])
    summary = serializers.CharField(max_length=TITLE_MAX, required=False)
    source = serializers.CharField(max_length=200, required=False, default="")
    severity = serializers.CharField(max_length=40, required=False, default="")
    service = serializers.CharField(max_length=50, required=False, default="")
    details = serializers.DictField(required=False, default=dict)

    def validate_details(self, value):
        if len(json.dumps(value)) > DETAILS_MAX:
            raise serializers.ValidationError(f"At most {DETAILS_MAX} characters of JSON.")
        return value

    def validate(self, attrs):
        if attrs["action"] == "trigger" and not attrs.get("summary", "").strip():
            raise serializers.ValidationError({"summary": ["A trigger needs a summary."]})
        return attrs


def source_key(actor, dedup_key):
    return f"events:{actor.pk}:{dedup_key}"


def _labels(event):
    labels = {k: v for k, v in event["details"].items() if isinstance(v, str)}
    for name in ("source", "severity", "service"):
        if event[name]:
            labels[name] = event[name]
    return labels


def _description(event):
    lines = [f"Source: {event['source']}"] if event["source"] else []
    if event["details"]:
        lines += ["Details:", json.dumps(event["details"], indent=2, sort_keys=True)]
    return "\n".join(lines)[:TEXT_MAX]


@transaction.atomic
def receive(*, actor, event, now=None):
    """Apply one checked event; returns {"outcome", "reference"}."""
    key = source_key(actor, event["dedup_key"])
    if event["action"] == "trigger":
        fields = LabelMapper().map(_labels(event))
        incident, created = services.incident_source_trigger(
            actor=actor, source_key=key, title=" ".join(event["summary"].split())[:TITLE_MAX],
            description=_description(event), detail={"source": event["source"] or "events"}, now=now, **fields,
        )  # fmt: skip
        outcome = "created" if created else "repeated"
    elif event["action"] == "acknowledge":
        incident = services.incident_source_acknowledge(actor=actor, source_key=key, now=now)
        outcome = "acknowledged" if incident else "no_open_incident"
    else:
        note = f"{event['source'] or 'The monitor'} reports the problem resolved."
        if event.get("summary"):
            note = f"{note} {event['summary']}"
        incident, resolved = services.incident_source_resolve(actor=actor, source_key=key, note=note, now=now)
        outcome = "resolved" if resolved else ("noted" if incident else "no_open_incident")
    return {"outcome": outcome, "reference": incident.reference if incident else None}
