from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from skills.config import config_save
from skills.errors import Forbidden
from skills.models import ApiToken, Team
from skills.policy import Action, can, why_not
from skills.selectors import token_forget, token_used


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
    """Revoke at once in this process; other processes stop accepting it within
    API_TOKEN_CACHE_SECONDS (their cache of live tokens)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now or timezone.now())
    token_forget(token.key_hash)


def token_touch(*, token, now=None):
    """Record use at most once a minute, so a busy integration does not write every request."""
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        token_used(token.key_hash, now)  # the cached token too, so the next requests do not write


def _require(actor, action):
    if not can(actor, action):
        raise Forbidden(why_not(actor, action))


def team_save(*, actor, team=None, **values):
    """Create or change a team (level 4). Who sees security incidents (the security flag)
    is a level 5 decision."""
    _require(actor, Action.MANAGE_CONFIGURATION)

    def check(row):
        if "is_security" in values and values["is_security"] != row.is_security:
            _require(actor, Action.SET_POLICY)

    return config_save(Team, instance=team, values=values, check=check)
