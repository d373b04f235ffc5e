import copy
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from skills.models import ApiToken, Person, Role, Team
from skills.policy import with_security_responder

# Tokens this process found live lately: digest -> (good until, token, the person's column
# values, whether the person may see security incidents). A revoked token, or one whose
# person was deactivated, changed or moved in or out of the security incident response
# team, is believed for at most API_TOKEN_CACHE_SECONDS by other processes (this one
# forgets it at once).
_TOKENS = {}
_TOKENS_MAX = 1000
_PERSON_FIELDS = [field.attname for field in Person._meta.concrete_fields]


def token_authenticate(raw, *, now=None):
    """The live token for `raw`, with its person (a fresh instance each call), or None."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 200:
        return None
    digest, now = ApiToken.digest(raw), now or timezone.now()
    cached = _TOKENS.get(digest)
    if cached is not None and cached[0] > now:
        _, cached_token, values, responder = cached
        # A copy per call: requests in other threads may hold the cached one.
        token = copy.copy(cached_token)
        token.person = Person.from_db("default", _PERSON_FIELDS, values)
        token.person.security_responder = responder
        return token
    token = (
        with_security_responder(ApiToken.objects.select_related("person"), "person_id")
        .filter(key_hash=digest, revoked_at__isnull=True, person__is_active=True)
        .first()
    )
    if token is not None:
        token.person.security_responder = token.security_responder  # read in the same query
    seconds = settings.API_TOKEN_CACHE_SECONDS
    if token is None or not seconds:
        _TOKENS.pop(digest, None)
        return token
    if len(_TOKENS) >= _TOKENS_MAX:
        _TOKENS.clear()
    values = [getattr(token.person, name) for name in _PERSON_FIELDS]
    _TOKENS[digest] = (now + timedelta(seconds=seconds), token, values, token.security_responder)
    return token


def token_used(key_hash, when):
    """Tell this process's cache that the token was just recorded as used, so the next
    requests with it do not write again."""
    cached = _TOKENS.get(key_hash)
    if cached is not None:
        cached[1].last_used_at = when


def token_forget(key_hash):
    """Drop a token from this process's cache (on revocation)."""
    _TOKENS.pop(key_hash, None)


def staff_in_team(team):
    return Person.objects.filter(role=Role.STAFF, is_active=True, teams=team)


def teams_all():
    return Team.objects.order_by("name")


def tokens_of(person):
    """A person's API tokens, newest first."""
    return person.api_tokens.order_by("-created_at", "-pk")


def people_matching(text, limit=10):
    """Active people (not integration accounts) whose username, email address, first or
    last name starts with `text`: the register page's caller lookup."""
    from django.db.models import Q

    text = text.strip()
    match = (
        Q(username__istartswith=text) | Q(email__istartswith=text)
        | Q(first_name__istartswith=text) | Q(last_name__istartswith=text)
    )  # fmt: skip
    people = Person.objects.filter(match, is_active=True).exclude(role=Role.INTEGRATION)
    return people.order_by("username")[:limit]
