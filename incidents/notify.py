"""Who hears what, and the messages they get. Everything here writes outbox rows in the
caller's transaction; delivery happens after commit (incidents.delivery)."""

import functools
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import get_urlconf, reverse
from django.utils.html import format_html

from incidents import outbox
from incidents.models import FanOut, OutboundMessage, ServiceSubscription, WebhookSubscription
from procedures import escalation
from skills.models import Person
from skills.policy import people_who_may_see

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


# The Message-IDs this desk writes: one per message of an incident ("<digest>.<pk>@"), the
# incident's thread ("<incident-<pk>@"), and the status page's ("<digest>.status@",
# "<status-<public id>@").
_OUR_ID = re.compile(
    r"^<(?:(?P<digest>[0-9a-f]{20})\.(?P<pk>\d+|status)|incident-(?P<thread>\d+)|status-(?P<public>[0-9a-f]+))"
    r"@(?P<domain>[^<>@\s]+)>$",
    re.IGNORECASE,
)


def our_message_id(message_id):
    """What a Message-ID says when this desk wrote it, else None: ("sent", incident pk),
    ("thread", incident pk), ("status", public id) or ("status-sent", None)."""
    match = _OUR_ID.match(message_id or "")
    if match is None or match["domain"].lower() != _domain().lower():
        return None
    if match["thread"]:
        return "thread", int(match["thread"])
    if match["public"]:
        return "status", match["public"].lower()
    if match["pk"].lower() == "status":
        return "status-sent", None
    return "sent", int(match["pk"])


def thread_id(incident):
    return _thread(incident.pk)


def _thread(incident_id):
    return f"<incident-{incident_id}@{_domain()}>"


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


_SLOT = "reference-slot"


@functools.lru_cache(maxsize=8)
def _detail_path(urlconf):
    """The incident page's path around its reference, reversed once per URLconf."""
    return reverse("incidents:detail", args=[_SLOT], urlconf=urlconf).split(_SLOT)


def incident_link(incident):
    """The incident page's address: `get_absolute_url()` without a reverse() per call
    (a quarter of a millisecond each, which a 10,000-breach sweep paid 10,000 times)."""
    return reference_link(incident.reference)


def reference_link(reference):
    before, after = _detail_path(get_urlconf())
    return f"{settings.SITE_URL}{before}{quote(reference, safe='')}{after}"


def facts(incident):
    """What an incident message shows of the incident, as it stands now."""
    return {
        "title": incident.title,
        "status": incident.get_status_display(),
        "priority": incident.priority,
        "service": incident.service.name if incident.service_id else "",
    }


def render_email(incident, *, headline, body="", marker=_PLACEHOLDER):
    """Subject, text and HTML of an incident message; the footer is `marker`, which
    `email_rows` fills per recipient (an unsubscribe link for optional subscribers)."""
    return render_message(incident.reference, headline=headline, body=body, shown=facts(incident), marker=marker)


def render_message(reference, *, headline, body, shown, marker=_PLACEHOLDER):
    """`render_email` from the incident's reference and its `facts()`: as they stand now,
    or as they stood when a notice was written."""
    context = {
        "headline": one_line(headline, 300),
        "body": body,
        "reference": reference,
        "title": shown["title"],
        "status": shown["status"],
        "priority": shown["priority"],
        "service": shown["service"],
        "link": reference_link(reference),
        "footer": marker,
        "footer_html": marker,
    }
    text = render_to_string("email/incident.txt", context)
    html = render_to_string("email/incident.html", context)
    return f"[{reference}] {one_line(headline, 250)}", text, html


def email_rows(incident_id, recipients, *, subject, text, html, key, now, service_name="", fanout=None, marker=_PLACEHOLDER):
    """One outbox row per distinct valid address; `key` with the address is the row's
    unique key, so the same effect never queues the same mail twice."""
    root = _thread(incident_id)
    rows, seen = [], set()
    for recipient in recipients:
        address = recipient.email.strip().lower()
        if not address or address in seen or not valid_email(address):
            continue
        seen.add(address)
        dedupe = f"{key}:{_digest(address)}"
        headers = {"Message-ID": f"<{_digest(dedupe)}.{incident_id}@{_domain()}>", "In-Reply-To": root, "References": root}
        footer = footer_html = ""
        if recipient.subscription_id is not None:
            url = unsubscribe_url(recipient.subscription_id)
            footer = f"You are subscribed to updates on {service_name}. Unsubscribe: {url}"
            footer_html = format_html('<p style="color:#52606d;font-size:12px;">You are subscribed to updates on {}. <a href="{}">Unsubscribe</a></p>', service_name, url)
            # RFC 8058: one click in the mail client POSTs to the link, no page, no session.
            headers["List-Unsubscribe"] = f"<{url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        rows.append(
            OutboundMessage(
                incident_id=incident_id, to=address, subject=subject, fanout=fanout,
                body=text.replace(marker, footer), html=html.replace(marker, footer_html),
                headers=headers, dedupe_key=dedupe, next_attempt_at=now, created_at=now,
            )  # fmt: skip
        )
    return rows


def queue_email(incident, recipients, *, headline, body="", key, now):
    """Queue one message per distinct address now, in the caller's transaction (for small
    audiences a request tells: the assignee of a reply, a review action's owner). The
    sweeps' messages go through `queue_notice`, announcements through `queue_fanout`."""
    subject, text, html = render_email(incident, headline=headline, body=body)
    service_name = incident.service.name if incident.service_id else ""
    rows = email_rows(incident.pk, recipients, subject=subject, text=text, html=html, key=key, now=now, service_name=service_name)
    outbox.store(rows)
    return len(rows)


def queue_notice(incident, recipients, *, headline, body="", key, now, event=None):
    """A sweep's message to a few named people (an escalation, an SLA warning, a reminder,
    a deadline): one compact FanOut row in the caller's transaction (with the sweep's
    others in one INSERT, inside `outbox.collecting()`), holding the recipients, the
    words and what the message shows of the incident as it stands now. A worker renders
    it and writes its outbox rows later (incidents.fanout), each keyed by `key` and the
    address as `queue_email`'s are, so a storm of breaches is marked without rendering or
    storing a message. Nobody to tell, nothing written."""
    direct = [[r.email, r.subscription_id] for r in recipients]
    if not direct:
        return None
    notice = FanOut(
        incident=incident, event=event, key=key, headline=one_line(headline, 300), subject="", body="", html="",
        marker="", direct=direct, facts=facts(incident) | {"body": body}, as_of=now, created_at=now,
    )  # fmt: skip
    outbox.store_notices([notice])
    return notice


STATUS_UNSUBSCRIBE_SALT = "firebreak.status-unsubscribe"
STATUS_CONFIRM_SALT = "firebreak.status-confirm"


def public_title(incident):
    """What the public calls an incident: the title its lead chose, or a neutral one."""
    return incident.public_title or f"Service disruption: {incident.service.name if incident.service_id else 'a service'}"


def status_link(public_id):
    return settings.SITE_URL + reverse("status:incident", args=[public_id])


def status_unsubscribe_url(subscriber_id):
    return settings.SITE_URL + reverse("status:unsubscribe", args=[signing.dumps(subscriber_id, salt=STATUS_UNSUBSCRIBE_SALT)])


def status_thread(public_id):
    return f"<status-{public_id}@{_domain()}>"


def render_status_email(incident, *, headline, body, marker):
    context = {
        "headline": one_line(headline, 300), "body": body, "service": incident.service.name,
        "link": status_link(incident.public_id), "footer": marker, "footer_html": marker,
    }  # fmt: skip
    return (
        one_line(headline, 250),
        render_to_string("email/status.txt", context),
        render_to_string("email/status.html", context),
    )


def status_rows(fanout, subscribers, *, now):
    """The status page's subscribers' messages: public words only, threaded per public
    incident, with a one-click unsubscribe (RFC 8058)."""
    rows = []
    for subscriber_id, address in subscribers:
        if not valid_email(address):
            continue
        dedupe = f"{fanout.key}:{_digest(address)}"
        url = status_unsubscribe_url(subscriber_id)
        headers = {
            "Message-ID": f"<{_digest(dedupe)}.status@{_domain()}>", "In-Reply-To": fanout.public_thread,
            "References": fanout.public_thread, "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }  # fmt: skip
        footer = f"You subscribed on the status page. Unsubscribe: {url}"
        footer_html = format_html('<p style="color:#52606d;font-size:12px;">You subscribed on the status page. <a href="{}">Unsubscribe</a></p>', url)
        rows.append(
            OutboundMessage(
                incident_id=fanout.incident_id, to=address, subject=fanout.public_subject, fanout=fanout,
                body=fanout.public_body.replace(fanout.marker, footer), html=fanout.public_html.replace(fanout.marker, footer_html),
                headers=headers, dedupe_key=dedupe, next_attempt_at=now, created_at=now,
            )  # fmt: skip
        )
    return rows


MAINTENANCE_HEADLINES = {
    "announced": "Scheduled maintenance: {title}",
    "edited": "Maintenance updated: {title}",
    "cancelled": "Maintenance cancelled: {title}",
    "started": "Maintenance in progress: {title}",
    "ended": "Maintenance completed: {title}",
}


def _when(window):
    return f"{window.starts_at:%a %d %b %Y %H:%M} to {window.ends_at:%a %d %b %Y %H:%M} UTC"


def queue_maintenance_fanout(window, *, event, now):
    """A maintenance window's news to the status page's subscribers of its services (public
    words only, threaded per window, one-click unsubscribe): one FanOut row, expanded by
    workers from its status page stage (incidents.fanout)."""
    marker = f"[[footer:{secrets.token_hex(12)}]]"
    kind = event.kind
    if kind == "cancelled" and event.data.get("started"):
        headline = f"Maintenance finished early: {window.title}"
    else:
        headline = MAINTENANCE_HEADLINES[kind].format(title=window.title)
    body = {
        "announced": f"{window.description}\n\nPlanned: {_when(window)}.",
        "edited": f"{window.description}\n\nNow planned: {_when(window)}.",
        "started": f"The planned work has begun and runs until {window.ends_at:%a %d %b %Y %H:%M} UTC.",
        "ended": "The planned work is over.",
        "cancelled": "The planned work is over." if event.data.get("started") else "The planned work will not take place.",
    }[kind].strip()
    names = ", ".join(service.name for service in window.services.order_by("name"))
    context = {
        "headline": one_line(headline, 300), "body": body, "service": names,
        "link": settings.SITE_URL + reverse("status:page") + f"#maintenance-{window.public_id}",
        "footer": marker, "footer_html": marker,
    }  # fmt: skip
    subject = one_line(headline, 250)
    text, html = render_to_string("email/status.txt", context), render_to_string("email/status.html", context)
    fanout = FanOut.objects.create(
        maintenance=window, key=f"maintenance:{window.pk}:{kind}:{event.pk}", headline=one_line(headline, 300),
        subject=subject, body=text, html=html, marker=marker, stage=FanOut.Stage.STATUS_PAGE, status_page=True,
        public_subject=subject, public_body=text, public_html=html,
        public_thread=f"<maintenance-{window.public_id}@{_domain()}>", as_of=now, created_at=now,
    )  # fmt: skip
    transaction.on_commit(outbox.kick_expansion)
    return fanout


def queue_status_confirmation(*, email, token, now):
    """The double opt-in mail: a link that confirms the subscription (and expires)."""
    url = settings.SITE_URL + reverse("status:confirm", args=[token])
    text = (
        "Someone (we hope you) asked to receive status updates at this address.\n\n"
        f"To confirm, open this link within two days:\n{url}\n\nIf it was not you, ignore this mail: nothing happens."
    )
    outbox.store([
        OutboundMessage(
            to=email, subject="Confirm your status updates subscription", body=text,
            dedupe_key=f"status-confirm:{secrets.token_hex(12)}", next_attempt_at=now, created_at=now,
        )
    ])  # fmt: skip


def queue_fanout(incident, *, headline, body="", key, now, event=None, subscribers=False, public=None):
    """`public`: (headline, body) for the status page's subscribers when the incident is
    public on a public service; their mail carries public words only."""
    """Public news to the reporter and watchers, the service owner and (when
    `subscribers`) the service's subscriptions as they stand at `now`: one row written
    here; workers expand it into outbox rows (incidents.fanout). Nothing about a
    security incident leaves its response team."""
    # PostgreSQL text holds no NUL, so the stored footer marker is one nobody can guess.
    marker = f"[[footer:{secrets.token_hex(12)}]]"
    subject, text, html = render_email(incident, headline=headline, body=body, marker=marker)
    direct = [[r.email, r.subscription_id] for r in (*reporter_and_watchers(incident), *service_stakeholders(incident, subscribers=False))]
    fanout = FanOut.objects.create(
        incident=incident, event=event, key=key, headline=one_line(headline, 300), subject=subject, body=text, html=html,
        marker=marker,
        direct=direct, service_id=None if incident.is_security else incident.service_id,
        subscribers=subscribers and not incident.is_security and incident.service_id is not None,
        as_of=now, created_at=now, **_public_parts(incident, public, marker),
    )  # fmt: skip
    transaction.on_commit(outbox.kick_expansion)
    return fanout


def _public_parts(incident, public, marker):
    if public is None or not incident.is_public or incident.service_id is None or not incident.service.is_public:
        return {}
    subject, text, html = render_status_email(incident, headline=public[0], body=public[1], marker=marker)
    return {
        "status_page": True, "public_subject": subject, "public_body": text, "public_html": html,
        "public_thread": status_thread(incident.public_id),
    }  # fmt: skip


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
            "url": incident_link(incident),
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
    # One query, whatever the audience: who may see it is asked in SQL, not per person.
    people = (
        Person.objects.filter(Q(pk=incident.reporter_id) | Q(watching__incident=incident))
        .filter(people_who_may_see(incident))
        .exclude(email="")
        .distinct()
        .values_list("pk", "email")
    )
    return [Recipient(email) for _, email in sorted(people, key=lambda row: (row[0] != incident.reporter_id, row[0]))]


def service_stakeholders(incident, *, subscribers, subscribed_by=None):
    """The service owner and, when `subscribers`, the service's active subscriptions (only
    those made by `subscribed_by`, when given)."""
    if incident.is_security or incident.service_id is None:
        return []
    service = incident.service
    found = []
    if service.owner_id and service.owner.email:
        found.append(Recipient(service.owner.email))
    if subscribers:
        subs = ServiceSubscription.objects.filter(service=service, active=True)
        if subscribed_by is not None:
            subs = subs.filter(created_at__lte=subscribed_by)
        subs = subs.values_list("pk", "email", "optional")
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
