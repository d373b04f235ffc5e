"""Scheduled maintenance on the public status page: level 4 announces a window of work on
public services (title, public description, start and end), may edit or cancel it until it
ends; the status page's subscribers of those services hear of it when it is announced,
when it starts and when it ends (the sweep), through the fan-out, once each.

Every change: one transaction, the window's row lock, a state guard, an audit event
(MaintenanceEvent) and, for what subscribers hear, one FanOut row that workers expand."""

import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import notify
from incidents.models import MaintenanceEvent, MaintenanceWindow
from procedures.models import Service
from skills.errors import Conflict, Forbidden
from skills.policy import Action, can, why_not

Kind = MaintenanceEvent.Kind
TITLE_MAX, DESCRIPTION_MAX = 200, 5000
LONGEST = timedelta(days=30)
SWEEP_BATCH = 100

NO_TITLE = "Give the window a title."
NO_SERVICES = "Choose at least one service."
UNKNOWN_SERVICES = "Unknown or not public: {}. Choose services shown on the status page."
BAD_TIMES = "Give the start and the end as date and time."
END_BEFORE_START = "The end must be after the start."
IN_THE_PAST = "The window would end in the past."
TOO_LONG = "A window lasts at most 30 days."
STARTED_MOVED = "The window has started: its start cannot move."
OVER = "The window has ended or was cancelled; it cannot change."


def _require(actor):
    if not can(actor, Action.MANAGE_MAINTENANCE):
        raise Forbidden(why_not(actor, Action.MANAGE_MAINTENANCE))


def _services(slugs):
    """The public services named by slug (or given as Service objects)."""
    slugs = sorted({getattr(item, "slug", item) for item in slugs or ()})
    if not slugs:
        raise ValidationError({"services": [NO_SERVICES]})
    found = list(Service.objects.filter(slug__in=slugs, is_public=True).order_by("slug"))
    unknown = sorted(set(slugs) - {service.slug for service in found})
    if unknown:
        raise ValidationError({"services": [UNKNOWN_SERVICES.format(", ".join(unknown))]})
    return found


def _check(values, now, *, started):
    """The whole window as it would be: every error at once, by field."""
    errors = {}
    title = str(values.get("title") or "").strip()
    if not title:
        errors["title"] = [NO_TITLE]
    elif len(title) > TITLE_MAX:
        errors["title"] = [f"At most {TITLE_MAX} characters."]
    if len(str(values.get("description") or "")) > DESCRIPTION_MAX:
        errors["description"] = [f"At most {DESCRIPTION_MAX} characters."]
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if not all(hasattr(moment, "tzinfo") and moment.tzinfo is not None for moment in (starts, ends)):
        errors["starts_at"] = [BAD_TIMES]
    elif ends <= starts:
        errors["ends_at"] = [END_BEFORE_START]
    elif ends <= now:
        errors["ends_at"] = [IN_THE_PAST]
    elif ends - starts > LONGEST:
        errors["ends_at"] = [TOO_LONG]
    elif started is not None and starts != started:
        errors["starts_at"] = [STARTED_MOVED]
    if errors:
        raise ValidationError(errors)
    return title


def _audit(window, kind, actor, now, **data):
    return MaintenanceEvent.objects.create(window=window, kind=kind, actor=actor, at=now, data=data)


def _tell(window, event, now):
    """One fan-out row: the status page's subscribers of the window's services hear it."""
    return notify.queue_maintenance_fanout(window, event=event, now=now)


def maintenance_announce(*, actor, title, services, starts_at, ends_at, description="", now=None):
    """Level 4 announces a window; its subscribers hear of it now."""
    _require(actor)
    now = now or timezone.now()
    values = {"title": title, "description": description, "starts_at": starts_at, "ends_at": ends_at}
    title = _check(values, now, started=None)
    with transaction.atomic():
        chosen = _services(services)
        window = MaintenanceWindow.objects.create(
            public_id=secrets.token_hex(6), title=title, description=str(description or "").strip(),
            starts_at=starts_at, ends_at=ends_at, created_by=actor, created_at=now, updated_at=now,
        )  # fmt: skip
        window.services.set(chosen)
        event = _audit(window, Kind.ANNOUNCED, actor, now, **_snapshot(window, chosen))
        _tell(window, event, now)
    return window


def _snapshot(window, services):
    return {
        "title": window.title, "description": window.description, "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(), "services": [service.slug for service in services],
    }  # fmt: skip


def _lock(window):
    return MaintenanceWindow.objects.select_for_update().get(pk=window.pk)


def _open(window, now):
    if window.cancelled_at is not None or window.ended_at is not None or window.ends_at <= now:
        raise Conflict(OVER)


def maintenance_edit(*, actor, window, now=None, **changes):
    """Change the title, description, services, start (until it starts) or end, until it
    ends; subscribers hear the new details."""
    _require(actor)
    now = now or timezone.now()
    allowed = {"title", "description", "services", "starts_at", "ends_at"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({name: ["This field cannot be changed."] for name in sorted(unknown)})
    with transaction.atomic():
        window = _lock(window)
        _open(window, now)
        before_services = list(window.services.order_by("slug"))
        before = _snapshot(window, before_services)
        values = {name: changes.get(name, getattr(window, name)) for name in allowed - {"services"}}
        started = window.starts_at if window.started_at is not None else None
        values["title"] = _check(values, now, started=started)
        chosen = _services(changes["services"]) if "services" in changes else before_services
        for name in ("title", "starts_at", "ends_at"):
            setattr(window, name, values[name])
        window.description = str(values["description"] or "").strip()
        window.updated_at = now
        window.save(update_fields=["title", "description", "starts_at", "ends_at", "updated_at"])
        window.services.set(chosen)
        after = _snapshot(window, chosen)
        if after == before:
            return window
        event = _audit(window, Kind.EDITED, actor, now, before=before, after=after)
        _tell(window, event, now)
    return window


def maintenance_cancel(*, actor, window, now=None):
    """Call it off (or, once started, end it early); subscribers hear so."""
    _require(actor)
    now = now or timezone.now()
    with transaction.atomic():
        window = _lock(window)
        _open(window, now)
        window.cancelled_at = window.updated_at = now
        window.save(update_fields=["cancelled_at", "updated_at"])
        event = _audit(window, Kind.CANCELLED, actor, now, started=window.started_at is not None)
        _tell(window, event, now)
    return window


def _sweep_one(field, due_field, kind, now):
    """Claim one window whose start (or end) is due and not yet announced, mark it and tell
    its subscribers, in one transaction: SKIP LOCKED, so two sweeps never take the same
    one, and the mark makes each announcement happen once."""
    with transaction.atomic():
        window = (
            MaintenanceWindow.objects.select_for_update(skip_locked=True)
            .filter(**{f"{field}__isnull": True, "cancelled_at__isnull": True, f"{due_field}__lte": now})
            .order_by(due_field, "pk")
            .first()
        )
        if window is None:
            return False
        setattr(window, field, now)
        window.updated_at = now
        fields = [field, "updated_at"]
        if field == "ended_at" and window.started_at is None:
            # A sweep that missed the whole window (workers down): it started and ended.
            window.started_at = now
            fields.append("started_at")
        window.save(update_fields=fields)
        event = _audit(window, kind, None, now)
        _tell(window, event, now)
        return True


def sweep(now=None):
    """Announce every due start and end (beat runs this every sweep). Returns how many."""
    now = now or timezone.now()
    done = 0
    for field, due_field, kind in (("started_at", "starts_at", Kind.STARTED), ("ended_at", "ends_at", Kind.ENDED)):
        while done < SWEEP_BATCH and _sweep_one(field, due_field, kind, now):
            done += 1
    return done


# --- reads for the status page ---------------------------------------------------------


def shown(now):
    """Windows the public sees: not cancelled and not yet over, soonest first, with their
    services (public ones only)."""
    return list(
        MaintenanceWindow.objects.filter(cancelled_at__isnull=True, ends_at__gt=now)
        .order_by("starts_at", "pk")
        .prefetch_related("services")
    )
