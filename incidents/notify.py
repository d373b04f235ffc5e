"""Who hears what, and the messages they get. Everything here writes outbox rows in the
caller's transaction; delivery happens after commit (incidents.delivery)."""

import hashlib
import json
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from incidents.models import OutboundMessage, ServiceSubscription, WebhookSubscription
from skills.models import Person, Role
from skills.policy import can_see_incident

logger = logging.getLogger(__name__)
UNSUBSCRIBE_SALT = "firebreak.unsubscribe"
_PLACEHOLDER = "\x00unsubscribe\x00"


@dataclass
class _Buffer:
    rows: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)


_buffer: ContextVar[_Buffer | None] = ContextVar("outbox_buffer", default=None)


@contextmanager
def collecting():
    """Within the block, outbox rows are gathered and written with one INSERT at the end
    (and lookups such as webhook subscriptions are made once): for sweeps that touch
    hundreds of incidents in one transaction."""
    buffer = _Buffer()
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)
    _write(buffer.rows)


def _write(rows):
    if rows:
        OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        transaction.on_commit(kick_delivery)


def _store(rows):
    buffer = _buffer.get()
    if buffer is None:
        _write(rows)
    else:
        buffer.rows.extend(rows)


def _cached(key, compute):
    buffer = _buffer.get()
    if buffer is None:
        return compute()
    if key not in buffer.cache:
        buffer.cache[key] = compute()
    return buffer.cache[key]


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
    _store(rows)
    return len(rows)


def queue_webhooks(incident, kind, data, *, key, now):
    """Signed JSON to every active webhook that wants this kind of event."""
    hooks = _cached("webhooks", lambda: list(WebhookSubscription.objects.filter(active=True)))
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
    _store(rows)
    return len(rows)


def kick_delivery():
    """Ask a worker to drain the outbox now. If the broker is down nothing is lost: the
    beat sweep drains it when the broker is back."""
    from incidents.tasks import deliver_outbox

    try:
        deliver_outbox.apply_async(retry=False)
    except Exception:
        logger.warning("Broker unavailable; the outbox sweep will deliver later.")


# --- audiences ------------------------------------------------------------------------------


def _people(queryset):
    return [Recipient(p.email) for p in queryset if p.email]


def staff_who_can_see(incident, queryset):
    """Staff from `queryset` who may see the incident (security incidents stay in the team)."""
    return [p for p in queryset.filter(role=Role.STAFF, is_active=True) if can_see_incident(p, incident)]


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


def team_members(incident, team=None):
    team = team or incident.team
    if team is None:
        return []
    key = ("team", team.pk, incident.is_security)
    return _cached(key, lambda: _people(staff_who_can_see(incident, Person.objects.filter(teams=team))))


def escalation_targets(incident, targets):
    """Recipients of an escalation step's notification."""
    key = ("targets", json.dumps(targets, sort_keys=True), incident.is_security, incident.assignee_id)
    return _cached(key, lambda: [Recipient(p.email) for p in escalation_people(incident, targets) if p.email])


def escalation_people(incident, targets):
    """The staff an escalation step names (a team, levels N and up, a person, the assignee)
    who may see the incident. The engine notifies them; the dry run lists them."""
    people = Person.objects.none()
    if "team" in targets:
        people = people | Person.objects.filter(teams__slug=targets["team"])
    if "min_level" in targets:
        people = people | Person.objects.filter(sfia_level__gte=targets["min_level"])
    if "person" in targets:
        people = people | Person.objects.filter(username=targets["person"])
    if targets.get("assignee") and incident.assignee_id:
        people = people | Person.objects.filter(pk=incident.assignee_id)
    return staff_who_can_see(incident, people.distinct().order_by("username"))
