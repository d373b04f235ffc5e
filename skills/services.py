import re
import secrets
from datetime import timedelta

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from skills.config import config_save
from skills.errors import Forbidden
from skills.models import ApiToken, Person, PersonChange, Role, Team
from skills.policy import (
    SUPERUSER_FIELDS,
    Action,
    can,
    may_add_reporter_by_email,
    password_set_refused,
    person_change_refused,
    why_not,
)
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


# --- people ------------------------------------------------------------------------------------
# Every change to a person's account goes through these (the admin, `manage.py add_person`),
# which ask `skills.policy` and write a `PersonChange` with the values before and after.

ACCOUNT_FIELDS = ("username", "email", "first_name", "last_name", "role", "sfia_level", "teams", "is_active",
                  *SUPERUSER_FIELDS)  # fmt: skip
COMMAND_LINE = "manage.py"  # the actor's name for changes made at the command line (actor None)
STAFF_NEED_A_LEVEL = "Staff need an SFIA level (1 to 5)."
ONLY_STAFF_HAVE_A_LEVEL = "Only staff have an SFIA level: leave it empty for this role."


def account_of(person):
    """The audited state of `person`'s account as plain values (never the password)."""
    return {
        "username": person.username, "email": person.email, "first_name": person.first_name,
        "last_name": person.last_name, "role": person.role, "sfia_level": person.sfia_level,
        "is_active": person.is_active, "is_staff": person.is_staff,
        "teams": sorted(person.teams.values_list("slug", flat=True)) if person.pk else [],
        "is_superuser": person.is_superuser,
        "groups": sorted(person.groups.values_list("name", flat=True)) if person.pk else [],
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in person.user_permissions.values_list("content_type__app_label", "codename")
        ) if person.pk else [],
    }  # fmt: skip


def _plain(name, value):
    if name == "teams":
        return sorted(team.slug for team in value)
    if name == "groups":
        return sorted(group.name for group in value)
    if name == "user_permissions":
        return sorted(f"{p.content_type.app_label}.{p.codename}" for p in value)
    return value


def _admin_access(role, sfia_level, is_superuser):
    """The admin site is for levels 4 and 5 (and superusers): derived, never set by hand."""
    return bool(is_superuser or (role == Role.STAFF and (sfia_level or 0) >= 4))


def _authorise(actor, person, before, after):
    if actor is None:
        return  # the command line: whoever runs manage.py holds the database already
    refusal = person_change_refused(actor, person, before, after)
    if refusal:
        raise Forbidden(refusal)


def _check_level(role, sfia_level):
    if role == Role.STAFF and sfia_level is None:
        raise ValidationError({"sfia_level": [STAFF_NEED_A_LEVEL]})
    if role != Role.STAFF and sfia_level is not None:
        raise ValidationError({"sfia_level": [ONLY_STAFF_HAVE_A_LEVEL]})


def _set_password(person, password):
    if password is None:
        person.set_unusable_password()
        return
    try:
        password_validation.validate_password(password, user=person)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    person.set_password(password)


def _record(person, actor, kind, now, before, after, actor_name=None):
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    actor_name = actor_name or (actor.username if actor is not None else COMMAND_LINE)
    return PersonChange.objects.create(
        person=person, actor=actor, actor_name=actor_name, at=now,
        kind=kind, before={key: before.get(key) for key in changed if key in before},
        after={key: after.get(key) for key in changed if key in after},
    )  # fmt: skip


def _set_relations(person, values):
    for name in ("teams", "groups", "user_permissions"):
        if name in values:
            getattr(person, name).set(values[name])


@transaction.atomic
def person_create(
    *, actor, username, role=Role.REPORTER, sfia_level=None, email="", first_name="", last_name="", teams=(),
    is_active=True, password=None, is_superuser=False, groups=(), user_permissions=(), now=None,
):  # fmt: skip
    """Create a person (level 5 or a superuser; `actor` None: the command line). Without a
    `password` they cannot log in with one until it is set."""
    now = now or timezone.now()
    values = {
        "username": username, "email": email, "first_name": first_name, "last_name": last_name, "role": role,
        "sfia_level": sfia_level, "teams": teams, "is_active": is_active, "is_superuser": is_superuser,
        "groups": groups, "user_permissions": user_permissions,
    }  # fmt: skip
    after = {name: _plain(name, value) for name, value in values.items()}
    after["is_staff"] = _admin_access(role, sfia_level, is_superuser)
    _authorise(actor, None, None, after)
    _check_level(role, sfia_level)
    person = Person(
        username=username, email=email, first_name=first_name, last_name=last_name, role=role, sfia_level=sfia_level,
        is_active=is_active, is_superuser=is_superuser, is_staff=after["is_staff"], date_joined=now,
    )  # fmt: skip
    _set_password(person, password)
    person.full_clean()
    person.save()
    _set_relations(person, values)
    _record(person, actor, PersonChange.Kind.CREATED, now, {}, account_of(person))
    return person


@transaction.atomic
def person_change(*, actor, person, now=None, **changes):
    """Change a person's account: names and email, role and SFIA level, teams, whether it
    is active; superuser status, groups and permissions (superusers only). Records what
    changed, before and after."""
    unknown = set(changes) - set(ACCOUNT_FIELDS)
    if unknown:
        raise ValueError(f"not a person field: {', '.join(sorted(unknown))}")
    now = now or timezone.now()
    person = Person.objects.select_for_update().get(pk=person.pk)
    before = account_of(person)
    after = {**before, **{name: _plain(name, value) for name, value in changes.items()}}
    after["is_staff"] = _admin_access(after["role"], after["sfia_level"], after["is_superuser"])
    if after == before:
        return person
    _authorise(actor, person, before, after)
    _check_level(after["role"], after["sfia_level"])
    for name, value in changes.items():
        if name not in ("teams", "groups", "user_permissions"):
            setattr(person, name, value)
    person.is_staff = after["is_staff"]
    person.full_clean(exclude=["password"])
    person.save()
    _set_relations(person, changes)
    kinds = {(True, False): PersonChange.Kind.DEACTIVATED, (False, True): PersonChange.Kind.REACTIVATED}
    changed = {key for key in after if after[key] != before[key]}
    kind = kinds.get((before["is_active"], after["is_active"])) if changed == {"is_active"} else None
    _record(person, actor, kind or PersonChange.Kind.CHANGED, now, before, account_of(person))
    if not person.is_active:
        for key_hash in person.api_tokens.values_list("key_hash", flat=True):
            token_forget(key_hash)  # this process stops trusting their tokens at once
    return person


def person_deactivate(*, actor, person, now=None):
    """They can no longer log in or use their API tokens; their incidents keep who did what."""
    return person_change(actor=actor, person=person, is_active=False, now=now)


def person_reactivate(*, actor, person, now=None):
    return person_change(actor=actor, person=person, is_active=True, now=now)


@transaction.atomic
def person_set_password(*, actor, person, password, now=None):
    """Set (reset) a person's password, or with `password` None turn password login off.
    Everyone may set their own; level 5 sets others' (a superuser's: only a superuser).
    The audit records that it happened, never the password."""
    now = now or timezone.now()
    person = Person.objects.select_for_update().get(pk=person.pk)
    if actor is not None:
        refusal = password_set_refused(actor, person)
        if refusal:
            raise Forbidden(refusal)
    before = {"password": "set" if person.has_usable_password() else "none"}
    _set_password(person, password)
    person.save(update_fields=["password"])
    after = {"password": "new" if person.has_usable_password() else "none (password login off)"}
    _record(person, actor, PersonChange.Kind.PASSWORD, now, before, after)
    return person


EMAIL_IN = "email in"  # the actor's name for reporter accounts made for unknown senders
USERNAME_MAX = 150


def person_for_email(address):
    """The person mail from `address` comes from: the active one with that email (case
    does not matter; the oldest account if several), else an inactive one (so mail from a
    deactivated account is refused, not given a new account), else None."""
    return (
        Person.objects.filter(email__iexact=address).order_by("-is_active", "id").first()
        if address else None
    )


def _username_for(address):
    base = re.sub(r"[^\w.@+-]", "-", address.lower())[:USERNAME_MAX]
    if not Person.objects.filter(username=base).exists():
        return base
    return f"{base[: USERNAME_MAX - 9]}-{secrets.token_hex(4)}"


def person_create_for_email(*, address, name="", received_by=None, now=None):
    """A reporter account for a sender the desk does not know (email in): the lowest role
    (reporter, no SFIA level), no password (they follow their incidents by email, and may
    have a password set later), audited like every account as made by "email in" (and the
    integration account that handed the mail in, if one did). Two messages from the same
    new sender at once make one account: the unique username decides, and the loser finds
    the winner's. Returns the person."""
    if not may_add_reporter_by_email(received_by):
        raise Forbidden(why_not(received_by, Action.INGEST))
    found = person_for_email(address)
    if found is not None:
        return found
    now = now or timezone.now()
    first, _, last = " ".join(name.split()).partition(" ")
    username = _username_for(address)
    try:
        with transaction.atomic():
            person = Person(
                username=username, email=address, first_name=first[:150], last_name=last[:150], role=Role.REPORTER,
                is_active=True, date_joined=now,
            )  # fmt: skip
            person.set_unusable_password()
            person.full_clean()
            person.save()
            _record(person, received_by, PersonChange.Kind.CREATED, now, {}, account_of(person), actor_name=EMAIL_IN)
    except (IntegrityError, ValidationError):
        found = person_for_email(address)
        if found is None:
            raise
        return found
    return person
