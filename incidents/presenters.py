"""How an incident's state reads on a page: clock badges, deadline states, timeline rows
and the escalation policy's rows. Pure: each reads what it is given and runs at most the
query it names."""

from urllib.parse import urlsplit

from django.utils.dateparse import parse_datetime

from incidents import clocks, engine
from incidents.models import ACTIVE_STATUSES
from procedures import escalation
from procedures.routing import DEFAULT_RULE
from skills.policy import Action, can


def clock_marks(incident, now):
    """Each SLA clock's state (running, warning, breached, met, paused): the same answer
    as the API's `response_clock` and `resolution_clock`. Reads the row only, no queries."""
    return {
        "response": clocks.response_clock(incident, now),
        "resolution": clocks.resolution_clock(incident, now),
    }


LABELS = {
    "note": "Internal note", "public_update": "Public update", "declared_major": "Declared a major incident",
    "attached": "Attached a file", "attachment_rejected": "Attachment rejected by the virus scan",
}  # fmt: skip
ATTACHMENT_EVENTS = ("attached", "attachment_rejected")


def _attachment(event):
    """The file an attachment event names, from the event alone (no query): its id, name,
    size in words and type; None for other events."""
    from incidents.uploads import size_text

    data = event.data or {}
    if event.kind not in ATTACHMENT_EVENTS or "attachment" not in data:
        return None
    size = data.get("size")
    return {
        "id": data["attachment"], "name": data.get("name", ""), "content_type": data.get("content_type", ""),
        "size": size_text(size) if isinstance(size, int) else "", "downloadable": event.kind == "attached",
    }  # fmt: skip


def _why(event):
    """A sentence that explains a routing or a major-incident declaration."""
    data = event.data or {}
    if event.kind == "routed":
        rule = data.get("rule")
        by = "the procedure's own team (no rule matched)" if rule in (None, DEFAULT_RULE) else f"the rule “{rule}”"
        text = f"Routed to {data.get('team')}: {by} (procedure {data.get('procedure')} v{data.get('version')})"
        impact = data.get("impact")
        if isinstance(impact, dict):
            text += f"; the rule raised the impact from {impact.get('before')} to {impact.get('after')}"
        return text + "."
    if event.kind == "declared_major" and isinstance(data.get("priority"), dict):
        return (
            f"Priority raised from P{data['priority']['before']} to P{data['priority']['after']}; "
            f"the clocks now run around the clock (24x7) instead of on {data.get('calendar', {}).get('before')}."
        )
    return None


def timeline_rows(events):
    """Each event as a label, an optional text body and a list of (name, value) details."""
    rows = []
    for event in events:
        data = dict(event.data or {})
        body = data.pop("body", None) or data.pop("reason", None) or data.pop("resolution_notes", None)
        attachment = _attachment(event)
        if attachment is not None:
            data = {key: value for key, value in data.items() if key == "channel"}
        details = []
        for key, value in data.items():
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, dict):
                value = ", ".join(f"{k}: {v if v is not None else '—'}" for k, v in value.items())
            elif isinstance(value, str) and key.endswith("_at"):
                value = parse_datetime(value) or value
            elif value is None or value == "":
                value = "—"
            details.append((key.replace("_", " "), value))
        label = LABELS.get(event.kind) or event.kind.replace("_", " ").capitalize()
        rows.append({
            "event": event, "label": label, "body": body, "details": details, "why": _why(event),
            "attachment": attachment,
        })  # fmt: skip
    return rows


# The timeline filter: public entries, internal notes, and what the system recorded
# (every change and automatic event, as opposed to a message someone wrote).
def is_public_entry(event):
    return event.is_public


def is_note(event):
    return event.kind == "note"


def is_system_entry(event):
    return event.kind not in ("note", "public_update", "comment")


def deadline_state(deadline, now):
    """A named deadline in the SLA clocks' words: running, warning (the reminder is
    due), breached (missed) or met."""
    if deadline.met_at is not None:
        return clocks.MET
    if deadline.breached or now >= deadline.due_at:
        return clocks.BREACHED
    if deadline.reminded or now >= deadline.remind_at:
        return clocks.WARNING
    return clocks.RUNNING


def escalation_rows(incident):
    """The incident's own copy of the escalation policy, one readable row per step, with
    when each step ran or is due. One query (the steps already run)."""
    steps = escalation.steps(incident.escalation_policy)
    if not steps:
        return []
    ran = dict(incident.step_runs.values_list("step", "at"))
    rows = []
    for step in steps:
        due = None
        if step.index not in ran and incident.status in ACTIVE_STATUSES:  # on hold, timers wait
            due = engine.step_due_at(incident, step)
        rows.append({
            "number": step.number,
            "when": step.when_text,
            "action": step.action_text,
            "targets": step.targets_text,
            "ran_at": ran.get(step.index),
            "due_at": due,
        })  # fmt: skip
    return rows


# What a requester reads for each public event: a plain sentence, no codes.
PLAIN_EVENTS = {
    "registered": "You reported it", "acknowledged": "We have seen it", "held": "Waiting",
    "resumed": "Work has resumed", "resolved": "Fixed", "closed": "Closed", "reopened": "Opened again",
    "cancelled": "Cancelled", "public_update": "Update", "comment": "Reply", "confirmed": "Fix confirmed",
    "declared_major": "This is a major incident: many people are affected", "attached": "File attached",
}  # fmt: skip


def public_rows(events):
    """Public events in a requester's words: who, when, a label and the text."""
    rows = []
    for event in events:
        data = event.data or {}
        body = data.get("body") or data.get("resolution_notes") or data.get("reason") or ""
        label = PLAIN_EVENTS.get(event.kind, event.kind.replace("_", " ").capitalize())
        rows.append({"event": event, "label": label, "body": body, "attachment": _attachment(event)})
    return rows


# --- the outbox ------------------------------------------------------------------------------


def mask_url(url):
    """A webhook's address with only its scheme and host left: its path and query often
    carry a secret (a chat tool's token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def sees_webhook_urls(actor):
    """Webhooks are level 5 configuration (`set_policy`): below that, their addresses show masked."""
    return can(actor, Action.SET_POLICY)


def message_address(message, shows_webhooks):
    """Where an outbox message goes, as this reader may see it."""
    if message.channel == "webhook" and not shows_webhooks:
        return mask_url(message.to)
    return message.to


def message_error(message, shows_webhooks):
    """The message's last error, with a webhook's address masked where the reader may not see it."""
    if message.channel == "webhook" and not shows_webhooks and message.to and message.to in message.last_error:
        return message.last_error.replace(message.to, mask_url(message.to))
    return message.last_error
