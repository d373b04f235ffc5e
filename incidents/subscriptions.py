"""Stakeholder subscriptions and outbound webhooks: configuration, through the policy."""

import hashlib
import secrets

from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import egress
from incidents.models import ServiceSubscription, StatusSubscriber, WebhookSubscription
from incidents.notify import STATUS_CONFIRM_SALT as CONFIRM_SALT
from procedures.models import Service
from skills.config import config_save
from skills.errors import DomainError, Forbidden
from skills.policy import Action, can, why_not


def _require(actor, action):
    if not can(actor, action):
        raise Forbidden(why_not(actor, action))


def subscription_save(*, actor, subscription=None, **values):
    _require(actor, Action.MANAGE_CONFIGURATION)
    if "email" in values:
        values["email"] = values["email"].strip().lower()
    def stopped_when(row):
        # Fan-outs read the audience as it stood when posted: keep when it stopped.
        if "active" in values and values["active"] != row.active:
            values["unsubscribed_at"] = None if values["active"] else timezone.now()

    return config_save(
        ServiceSubscription, instance=subscription, values=values, defaults={"created_at": timezone.now()},
        check=stopped_when,
    )  # fmt: skip


def subscribe_many(*, actor, service, emails, optional=True, now=None):
    """Bulk subscribe (idempotent): returns how many were new."""
    _require(actor, Action.MANAGE_CONFIGURATION)
    now = now or timezone.now()
    rows = [
        ServiceSubscription(service=service, email=email.strip().lower(), optional=optional, created_at=now)
        for email in emails
    ]
    before = ServiceSubscription.objects.filter(service=service).count()
    ServiceSubscription.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return ServiceSubscription.objects.filter(service=service).count() - before


def webhook_save(*, actor, webhook=None, **values):
    """Create or change an outbound webhook (level 5). Its address must be http(s) and, unless
    WEBHOOK_ALLOW_PRIVATE, public (`incidents.egress`); delivery checks it again."""
    _require(actor, Action.SET_POLICY)
    if webhook is None or "url" in values:
        egress.check_url(values.get("url", ""))
    defaults = {"created_at": timezone.now(), "secret": secrets.token_urlsafe(32)}
    return config_save(WebhookSubscription, instance=webhook, values=values, defaults=defaults)


def subscription_unsubscribe(*, subscription_id, now=None):
    """Stop an optional subscription (from the signed link in an email); idempotent. What
    was announced before this moment may still arrive; nothing announced later does."""
    now = now or timezone.now()
    return ServiceSubscription.objects.filter(pk=subscription_id, optional=True, active=True).update(
        active=False, unsubscribed_at=now
    )


# --- the status page's own subscribers (anyone, double opt-in) -----------------------------

CONFIRM_MAX_AGE = 2 * 24 * 3600  # the confirmation link expires after two days
PER_ADDRESS = (3, 3600)  # confirmation mails to one address per hour
PER_CLIENT = (10, 3600)  # subscription requests from one client per hour
TOO_MANY_FOR_ADDRESS = "We sent this address a confirmation link recently. Please use it, or try again in an hour."
TOO_MANY_FROM_CLIENT = "Too many subscription requests from your connection. Please try again in an hour."
BAD_ADDRESS = "Enter a valid email address."
NOT_PUBLIC = "Choose services shown on this status page."
LINK_EXPIRED = "This confirmation link has expired or is not valid. Subscribe again for a new one."


class Throttled(DomainError):
    """Too many requests (HTTP 429): the form cannot be used to mail-bomb someone."""


def _spend(key, limit, seconds):
    """Count one use of `key` in the shared cache; False once `limit` uses were spent."""
    cache.add(key, 0, seconds)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        used = 1
    return used <= limit


def status_subscribe_request(*, email, services=(), client, now=None):
    """Anyone asks for status updates (every public service, or `services`): nothing is
    stored but a confirmation mail with a signed, expiring link (double opt-in)."""
    from incidents import notify

    now = now or timezone.now()
    email = (email or "").strip().lower()
    if not notify.valid_email(email):
        raise ValidationError({"email": [BAD_ADDRESS]})
    if any(not service.is_public for service in services):
        raise ValidationError({"services": [NOT_PUBLIC]})
    digest = hashlib.sha256(email.encode()).hexdigest()[:24]
    if not _spend(f"status-subscribe:client:{client}", *PER_CLIENT):
        raise Throttled(TOO_MANY_FROM_CLIENT)
    if not _spend(f"status-subscribe:address:{digest}", *PER_ADDRESS):
        raise Throttled(TOO_MANY_FOR_ADDRESS)
    token = signing.dumps({"email": email, "services": sorted(s.pk for s in services)}, salt=CONFIRM_SALT)
    with transaction.atomic():
        notify.queue_status_confirmation(email=email, token=token, now=now)
    return token


def status_subscribe_confirm(*, token, now=None):
    """Follow the link: the subscription starts now (or is renewed with the new choice)."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE)
    except signing.BadSignature:
        raise ValidationError({"token": [LINK_EXPIRED]}) from None
    with transaction.atomic():
        subscriber, _ = StatusSubscriber.objects.select_for_update().get_or_create(
            email=data["email"], defaults={"created_at": now, "confirmed_at": now}
        )
        subscriber.confirmed_at, subscriber.unsubscribed_at = now, None
        subscriber.all_services = not data["services"]
        subscriber.save(update_fields=["confirmed_at", "unsubscribed_at", "all_services"])
        subscriber.services.set(Service.objects.filter(pk__in=data["services"], is_public=True))
    return subscriber


def status_unsubscribe(*, subscriber_id, now=None):
    """One click (RFC 8058) or the page: no more mail from now on; idempotent."""
    now = now or timezone.now()
    return StatusSubscriber.objects.filter(pk=subscriber_id, unsubscribed_at__isnull=True).update(unsubscribed_at=now)
