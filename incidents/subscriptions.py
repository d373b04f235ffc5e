"""Stakeholder subscriptions and outbound webhooks: configuration, through the policy."""

import secrets

from django.utils import timezone

from incidents.models import ServiceSubscription, WebhookSubscription
from skills.config import config_save
from skills.errors import Forbidden
from skills.policy import Action, can, why_not


def _require(actor, action):
    if not can(actor, action):
        raise Forbidden(why_not(actor, action))


def subscription_save(*, actor, subscription=None, **values):
    _require(actor, Action.MANAGE_CONFIGURATION)
    if "email" in values:
        values["email"] = values["email"].strip().lower()
    return config_save(
        ServiceSubscription, instance=subscription, values=values, defaults={"created_at": timezone.now()}
    )


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
    _require(actor, Action.SET_POLICY)
    defaults = {"created_at": timezone.now(), "secret": secrets.token_urlsafe(32)}
    return config_save(WebhookSubscription, instance=webhook, values=values, defaults=defaults)


def subscription_unsubscribe(*, subscription_id):
    """Stop an optional subscription (from the signed link in an email); idempotent."""
    return ServiceSubscription.objects.filter(pk=subscription_id, optional=True).update(active=False)
