"""Who hears what, and the messages they get. Everything here writes outbox rows in the
caller's transaction; delivery happens after commit (incidents.delivery)."""

import hashlib
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from incidents import outbox
from incidents.models import OutboundMessage, ServiceSubscription, WebhookSubscription
from procedures import escalation
from skills.models import Person
from skills.policy import can_see_incident

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "firebreak.unsubscribe"
_PLACEHOLDER = "\x00unsubscribe\x00"


@dataclass(frozen=True)
class Recipient:
    email: str
    subscription_id: int | None = None  # an optional stakeholder: gets an unsubscribe link


def one_line(text, limit=250):
    """Headers never carry CR or LF (or any other run of white space): no injection."""
    return " ".join(str(text).split())[:limit]


def _domain():
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def thread_id(incident):
    return f"<incident-{incident.pk}@{_domain()}>"


def unsubscribe_url(subscription_id):
    token = signing.dumps(subscription_id, salt=UNSUBSCRIBE_SALT)
    return settings.SITE_URL + reverse("unsubscribe", args=[token])


def valid_email(address):
    try:
        validate_email(address)
    except ValidationError:
        return False
    return "\n" not in address and "\r" not in address


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def queue_email(incident, recipients, *, headline, body="", key, now):
    """One message per distinct address. `key` names the effect; with the address it is
    the outbox's unique key, so the same effect never queues the same mail twice."""
    context = {
        "headline": one_line(headline, 300),
        "body": body,
        "reference": incident.reference,
        "title": incident.title,
        "status": incident.get_status_display(),
        "priority": incident.priority,
        "service": incident.service.name if incident.service_id else "",
        "link": settings.SITE_URL + incident.get_absolute_url(),
        "footer": _PLACEHOLDER,
        "footer_html": _PLACEHOLDER,
    }
    text = render_to_string("email/incident.txt", context)
    html = render_to_string("email/incident.html", context)
    subject = f"[{incident.reference}] {one_line(headline, 250)}"
    root = thread_id(incident)
    rows, seen = [], set()
    for recipient in recipients:
        address = recipient.email.strip().lower()
        if not address or address in seen or not valid_email(address):
            continue
        seen.add(address)
        dedupe = f"{key}:{_digest(address)}"
        headers = {"Message-ID": f"<{_digest(dedupe)}.{incident.pk}@{_domain()}>", "In-Reply-To": root, "References": root}
        footer = footer_html = ""
        if recipient.subscription_id is not None:
            url = unsubscribe_url(recipient.subscription_id)
            footer = f"You are subscribed to updates on {context['service']}. Unsubscribe: {url}"
            footer_html = format_html('<p style="color:#52606d;font-size:12px;">You are subscribed to updates on {}. <a href="{}">Unsubscribe</a></p>', context["service"], url)
            headers["List-Unsubscribe"] = f"<{url}>"
        rows.append(
            OutboundMessage(
                incident=incident, to=address, subject=subject,
                body=text.replace(_PLACEHOLDER, footer), html=html.replace(_PLACEHOLDER, footer_html),
                headers=headers, dedupe_key=dedupe, next_attempt_at=now, created_at=now,
            )  # fmt: skip
        )
    outbox.store(rows)
    return len(rows)


def queue_webhooks(incident, kind, data, *, key, now):
    """Signed JSON to every active webhook that wants this kind of event."""
    hooks = outbox.cached("webhooks", lambda: list(WebhookSubscription.objects.filter(active=True)))
    if not hooks:
        return 0
    if incident.is_security:
        hooks = [hook for hook in hooks if hook.include_security]
    payload = {
        "event": kind,
        "at": now.isoformat(),
        "incident": {
            "reference": incident.reference, "title": incident.title, "status": incident.status,
            "priority": incident.priority, "is_major": incident.is_major,
            "url": settings.SITE_URL + incident.get_absolute_url(),
        },
        "data": data,
    }  # fmt: skip
    body = json.dumps(payload, separators=(",", ":"), default=str)
    rows = [
        OutboundMessage(
            incident=incident, channel=OutboundMessage.Channel.WEBHOOK, webhook=hook, to=hook.url,
            subject=kind, body=body, dedupe_key=f"{key}:webhook:{hook.pk}", next_attempt_at=now, created_at=now,
        )  # fmt: skip
        for hook in hooks
        if not hook.events or kind in hook.events
    ]
    outbox.store(rows)
    return len(rows)


# --- audiences ------------------------------------------------------------------------------


def _recipients(people):
    return [Recipient(p.email) for p in people if p.email]


def reporter_and_watchers(incident):
    if incident.is_security:
        return []  # reporters and watchers outside the response team never hear of it
    people = [incident.reporter, *Person.objects.filter(watching__incident=incident, is_active=True)]
    return [Recipient(p.email) for p in people if p.email and can_see_incident(p, incident)]


def service_stakeholders(incident, *, subscribers):
    """The service owner and, when `subscribers`, the service's active subscriptions."""
    if incident.is_security or incident.service_id is None:
        return []
    service = incident.service
    found = []
    if service.owner_id and service.owner.email:
        found.append(Recipient(service.owner.email))
    if subscribers:
        subs = ServiceSubscription.objects.filter(service=service, active=True).values_list("pk", "email", "optional")
        found += [Recipient(email, pk if optional else None) for pk, email, optional in subs]
    return found


def assignee_or_team(incident):
    """Who works the incident: its assignee, or its team's staff while nobody is assigned."""
    if incident.assignee_id is not None:
        return _recipients([incident.assignee])
    return team_members(incident)


def team_members(incident, team=None):
    """The team's staff who may see the incident (the incident's own team by default)."""
    team = team or incident.team
    if team is None:
        return []
    key = ("team", team.pk, incident.is_security)
    return outbox.cached(key, lambda: _recipients(escalation.team_people(team, is_security=incident.is_security)))


def step_recipients(incident, step):
    """Whom an escalation step's notification reaches on this incident."""
    key = ("step", repr(sorted(step.targets.items())), incident.is_security, incident.assignee_id)

    def compute():
        return _recipients(step.people(is_security=incident.is_security, assignee_id=incident.assignee_id))

    return outbox.cached(key, compute)


def level_people(incident, min_level):
    """Staff at `min_level` and up who may see the incident."""
    key = ("level", min_level, incident.is_security)

    def compute():
        return _recipients(escalation.notify_people({"min_level": min_level}, is_security=incident.is_security))

    return outbox.cached(key, compute)
