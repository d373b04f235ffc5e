from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from skills.models import ApiToken


@transaction.atomic
def token_issue(*, person, name="", scope=ApiToken.Scope.WRITE, now=None):
    """Create a token for `person`; return (token, raw). The raw value is never stored."""
    if scope not in ApiToken.Scope.values:
        raise ValueError(f"scope must be one of {', '.join(ApiToken.Scope.values)}")
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        person=person,
        name=name,
        key_hash=ApiToken.digest(raw),
        hint=raw[: len(ApiToken.PREFIX) + 4],
        scope=scope,
        created_at=now or timezone.now(),
    )
    return token, raw


def token_revoke(*, token, now=None):
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now())


def token_touch(*, token, now=None):
    """Record use at most once a minute, so a busy integration does not write every request."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
