"""Every change to an incident. Each function: one transaction, the row locked, the
state guarded, the policy asked, a timeline event written, messages queued in the outbox."""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import errors
from incidents.models import OPEN_STATUSES, Incident, OutboundMessage, Status, TimelineEvent
from procedures.priority import priority_for
from procedures.selectors import procedure_version_in_force
from procedures.sla import due_times, working_seconds_between
from servicedesk.errors import Conflict, Forbidden
from skills.models import Role
from skills.policy import Action, can, level_of, why_not

logger = logging.getLogger(__name__)
Kind = TimelineEvent.Kind


# --- helpers ---------------------------------------------------------------------------


def _require(actor, action, incident=None):
    if not can(actor, action, incident):
        raise Forbidden(why_not(actor, action, incident))


def _guard(incident, allowed, verb):
    if incident.status not in allowed:
        raise Conflict(
            errors.NOT_IN_STATE.format(action=verb, status=incident.get_status_display().lower()),
            status=incident.status,
        )


def _lock(incident):
    """Re-read the incident under a row lock; later checks see the committed state."""
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("procedure_version__calendar", "procedure_version__procedure", "team", "service")
        .get(pk=incident.pk)
    )


def _event(incident, actor, kind, now, public=False, **data):
    return TimelineEvent.objects.create(
        incident=incident, actor=actor, kind=kind, at=now, data=data, is_public=public
    )


def _save(incident, now, *fields):
    incident.updated_at = now
    incident.save(update_fields=[*fields, "updated_at"])


def _slug(obj):
    return obj.slug if obj is not None else None


def _username(person):
    return person.username if person is not None else None


def _refresh_due_times(incident):
    incident.response_due_at, incident.resolve_due_at = due_times(
        incident.procedure_version, incident.priority, incident.created_at, incident.held_seconds
    )


def _queue_email(incident, *, to, subject, body, key, now):
    """An outbox row, in the caller's transaction; delivered after commit."""
    if not to:
        return None
    message, created = OutboundMessage.objects.get_or_create(
        dedupe_key=key,
        defaults={
            "incident": incident,
            "to": to,
            "subject": f"[{incident.reference}] {subject}"[:300],
            "body": body,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    if created:
        transaction.on_commit(lambda: _enqueue_delivery(message.pk))
    return message


def _enqueue_delivery(message_id):
    from incidents.tasks import deliver_message

    try:
        deliver_message.delay(message_id)
    except Exception:  # the broker is down: the outbox sweep delivers it later
        logger.warning("Could not enqueue delivery of message %s; the sweep will retry.", message_id)


def _validate_assignee(assignee, team):
    if assignee is None:
        return
    if assignee.role != Role.STAFF or not assignee.is_active:
        raise ValidationError({"assignee": [errors.ASSIGNEE_NOT_STAFF.format(username=assignee.username)]})
    if team is not None and not assignee.teams.filter(pk=team.pk).exists():
        raise ValidationError(
            {"assignee": [errors.ASSIGNEE_NOT_IN_TEAM.format(username=assignee.username, team=team.slug)]}
        )


# --- registration and editing ------------------------------------------------------------


@transaction.atomic
def incident_register(
    *, actor, title, category, impact, urgency, description="", service=None, channel="web", reporter=None, now=None
):
    now = now or timezone.now()
    _require(actor, Action.REGISTER)
    if reporter is not None and reporter != actor and level_of(actor) is None:
        raise Forbidden(errors.ON_BEHALF_NEEDS_STAFF)
    version = procedure_version_in_force(category)
    incident = Incident(
        title=title,
        description=description,
        reporter=reporter or actor,
        created_by=actor,
        channel=channel,
        category=category,
        service=service,
        impact=impact,
        urgency=urgency,
        priority=priority_for(impact, urgency),
        team=version.team,
        procedure_version=version,
        is_security=version.is_security,
        created_at=now,
        updated_at=now,
    )
    _refresh_due_times(incident)
    incident.save()
    _event(
        incident, actor, Kind.REGISTERED, now, public=True,
        channel=channel, priority=incident.priority, impact=impact, urgency=urgency,
        category=category.slug, service=_slug(service),
    )  # fmt: skip
    _event(
        incident, None, Kind.ROUTED, now,
        team=version.team.slug, procedure=version.procedure.slug, version=version.number,
        rule="the procedure's default team",
        response_due_at=incident.response_due_at.isoformat(), resolve_due_at=incident.resolve_due_at.isoformat(),
    )  # fmt: skip
    return incident


EDITABLE = ("title", "description", "category", "service", "impact", "urgency")


@transaction.atomic
def incident_update(*, actor, incident, now=None, **changes):
    """Categorise or add information. Re-derives priority and due times; routes again
    only while nobody has been assigned."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.EDIT, incident)
    _guard(incident, OPEN_STATUSES, "edit")
    before, after, fields = {}, {}, set()
    for name, value in changes.items():
        old = getattr(incident, name)
        if old != value:
            before[name] = _slug(old) if name in ("category", "service") else old
            after[name] = _slug(value) if name in ("category", "service") else value
            setattr(incident, name, value)
            fields.add(name)
    if not fields:
        return incident
    if "category" in fields and incident.status == Status.NEW and incident.assignee_id is None:
        version = procedure_version_in_force(incident.category)
        incident.procedure_version, incident.team = version, version.team
        incident.is_security = version.is_security
        fields |= {"procedure_version", "team", "is_security"}
        _event(
            incident, None, Kind.ROUTED, now,
            team=version.team.slug, procedure=version.procedure.slug, version=version.number,
            rule="the procedure's default team",
        )  # fmt: skip
    elif "category" in fields and incident.category.procedure.incident_class == "security":
        incident.is_security = True  # never let a security incident stay visible to all
        fields.add("is_security")
    if not incident.priority_overridden and fields & {"impact", "urgency"}:
        new_priority = priority_for(incident.impact, incident.urgency)
        if new_priority != incident.priority:
            before["priority"], after["priority"] = incident.priority, new_priority
            incident.priority = new_priority
            fields.add("priority")
    if fields & {"priority", "procedure_version"}:
        _refresh_due_times(incident)
        fields |= {"response_due_at", "resolve_due_at"}
    _save(incident, now, *fields)
    _event(incident, actor, Kind.EDITED, now, before=before, after=after)
    return incident


# --- allocation ----------------------------------------------------------------------------


@transaction.atomic
def incident_assign(*, actor, incident, team=None, assignee=None, now=None):
    """Allocate to a team queue and/or a person. Moving begun work to another team is a
    level 4 reassignment; on a new incident it is a level 1 allocation."""
    if team is None and assignee is None:
        raise ValidationError({"non_field_errors": [errors.NOTHING_TO_ASSIGN]})
    now = now or timezone.now()
    incident = _lock(incident)
    _guard(incident, OPEN_STATUSES, "assign")
    changing_team = team is not None and team.pk != incident.team_id
    if changing_team:
        begun = incident.status != Status.NEW
        _require(actor, Action.REASSIGN_TEAM if begun else Action.ALLOCATE_TEAM, incident)
    if assignee is not None:
        _require(actor, Action.ALLOCATE_PERSON, incident)
    if not changing_team and assignee is None:
        raise ValidationError({"team": [errors.SAME_TEAM.format(team=team.slug)]})
    target_team = team if changing_team else incident.team
    _validate_assignee(assignee, target_team)
    before = {"team": _slug(incident.team), "assignee": _username(incident.assignee), "status": incident.status}
    incident.team = target_team
    if assignee is not None:
        incident.assignee = assignee
    elif changing_team:
        incident.assignee = None  # the new team picks its own person
    if incident.assignee is not None and incident.status == Status.NEW:
        incident.status = Status.ASSIGNED
    elif incident.assignee is None and incident.status == Status.ASSIGNED:
        incident.status = Status.NEW  # back in the team's queue
    _save(incident, now, "team", "assignee", "status")
    after = {"team": _slug(incident.team), "assignee": _username(incident.assignee), "status": incident.status}
    _event(incident, actor, Kind.ASSIGNED, now, before=before, after=after)
    return incident


# --- work --------------------------------------------------------------------------------


def _acknowledge(incident, actor, now, fields):
    incident.acknowledged_at = now
    fields.add("acknowledged_at")
    if now > incident.response_due_at and not incident.response_breached:
        incident.response_breached = True
        fields.add("response_breached")
    _event(incident, actor, Kind.ACKNOWLEDGED, now, public=True, late=incident.response_breached)


@transaction.atomic
def incident_acknowledge(*, actor, incident, now=None):
    """The first response: stops the response clock."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.ACKNOWLEDGE, incident)
    _guard(incident, OPEN_STATUSES, "acknowledge")
    if incident.acknowledged_at is not None:
        raise Conflict(errors.ALREADY_ACKNOWLEDGED, status=incident.status)
    fields = set()
    _acknowledge(incident, actor, now, fields)
    _save(incident, now, *fields)
    return incident


@transaction.atomic
def incident_start(*, actor, incident, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.START, incident)
    _guard(incident, (Status.NEW, Status.ASSIGNED), "start work on")
    fields = {"status"}
    if incident.assignee_id is None:
        _validate_assignee(actor, incident.team)
        incident.assignee = actor
        fields.add("assignee")
    if incident.acknowledged_at is None:
        _acknowledge(incident, actor, now, fields)
    before = incident.status
    incident.status = Status.IN_PROGRESS
    _save(incident, now, *fields)
    _event(incident, actor, Kind.STARTED, now, before=before, assignee=_username(incident.assignee))
    return incident


@transaction.atomic
def incident_hold(*, actor, incident, reason, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.HOLD, incident)
    _guard(incident, (Status.IN_PROGRESS,), "put on hold")
    incident.status, incident.on_hold_since = Status.ON_HOLD, now
    _save(incident, now, "status", "on_hold_since")
    _event(incident, actor, Kind.HELD, now, public=True, reason=reason)
    return incident


def _end_hold(incident, now):
    held = working_seconds_between(incident.procedure_version.calendar, incident.on_hold_since, now)
    incident.held_seconds += held
    incident.on_hold_since = None
    _refresh_due_times(incident)
    return held


@transaction.atomic
def incident_resume(*, actor, incident, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.RESUME, incident)
    _guard(incident, (Status.ON_HOLD,), "resume")
    held = _end_hold(incident, now)
    incident.status = Status.IN_PROGRESS
    _save(incident, now, "status", "on_hold_since", "held_seconds", "response_due_at", "resolve_due_at")
    _event(
        incident, actor, Kind.RESUMED, now, public=True,
        held_seconds=held, resolve_due_at=incident.resolve_due_at.isoformat(),
    )  # fmt: skip
    return incident


@transaction.atomic
def incident_prioritise(*, actor, incident, priority, reason, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.PRIORITISE, incident)
    _guard(incident, OPEN_STATUSES, "prioritise")
    before = incident.priority
    incident.priority, incident.priority_overridden = priority, True
    _refresh_due_times(incident)
    _save(incident, now, "priority", "priority_overridden", "response_due_at", "resolve_due_at")
    _event(incident, actor, Kind.PRIORITISED, now, before=before, after=priority, reason=reason)
    return incident


@transaction.atomic
def incident_escalate(*, actor, incident, reason, team=None, now=None):
    """Hierarchical without a team (raise the escalation level), functional with one
    (hand the incident to that team)."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.ESCALATE, incident)
    _guard(incident, OPEN_STATUSES, "escalate")
    if team is not None and team.pk == incident.team_id:
        raise ValidationError({"team": [errors.SAME_TEAM.format(team=team.slug)]})
    if team is None:
        incident.escalation_level += 1
        _save(incident, now, "escalation_level")
        _event(incident, actor, Kind.ESCALATED, now, mode="hierarchical", level=incident.escalation_level, reason=reason)
        return incident
    before = _slug(incident.team)
    incident.team, incident.assignee = team, None
    if incident.status == Status.ASSIGNED:
        incident.status = Status.NEW
    _save(incident, now, "team", "assignee", "status")
    _event(incident, actor, Kind.ESCALATED, now, mode="functional", before=before, after=team.slug, reason=reason)
    return incident


@transaction.atomic
def incident_resolve(*, actor, incident, resolution_code, resolution_notes, cause="", now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.RESOLVE, incident)
    _guard(incident, (Status.IN_PROGRESS, Status.ON_HOLD), "resolve")
    fields = {"status", "resolved_at", "resolution_code", "resolution_notes", "cause"}
    if incident.status == Status.ON_HOLD:
        _end_hold(incident, now)
        fields |= {"on_hold_since", "held_seconds", "response_due_at", "resolve_due_at"}
    if now > incident.resolve_due_at and not incident.resolution_breached:
        incident.resolution_breached = True
        fields.add("resolution_breached")
    incident.status, incident.resolved_at = Status.RESOLVED, now
    incident.resolution_code, incident.resolution_notes, incident.cause = resolution_code, resolution_notes, cause
    _save(incident, now, *fields)
    _event(
        incident, actor, Kind.RESOLVED, now, public=True,
        resolution_code=resolution_code, resolution_notes=resolution_notes, cause=cause,
        late=incident.resolution_breached,
    )  # fmt: skip
    _queue_email(
        incident,
        to=incident.reporter.email,
        subject=f"Resolved: {incident.title}",
        body=f"Your incident {incident.reference} was resolved.\n\n{resolution_notes}\n",
        key=f"resolved:{incident.pk}:{now.isoformat()}:reporter",
        now=now,
    )
    return incident


@transaction.atomic
def incident_close(*, actor, incident, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.CLOSE, incident)
    _guard(incident, (Status.RESOLVED,), "close")
    incident.status, incident.closed_at = Status.CLOSED, now
    _save(incident, now, "status", "closed_at")
    _event(incident, actor, Kind.CLOSED, now, public=True)
    return incident


@transaction.atomic
def incident_reopen(*, actor, incident, reason, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.REOPEN, incident)
    _guard(incident, (Status.RESOLVED,), "reopen")
    incident.status, incident.resolved_at = Status.IN_PROGRESS, None
    fields = ["status", "resolved_at"]
    if incident.assignee_id is None:
        incident.assignee = actor
        fields.append("assignee")
    _save(incident, now, *fields)
    _event(incident, actor, Kind.REOPENED, now, public=True, reason=reason)
    return incident


@transaction.atomic
def incident_cancel(*, actor, incident, reason, now=None):
    """A duplicate, or not an incident at all."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.CANCEL, incident)
    _guard(incident, OPEN_STATUSES, "cancel")
    before = incident.status
    incident.status, incident.on_hold_since = Status.CANCELLED, None
    incident.closed_at = now
    _save(incident, now, "status", "on_hold_since", "closed_at")
    _event(incident, actor, Kind.CANCELLED, now, public=True, before=before, reason=reason)
    return incident


@transaction.atomic
def incident_declare_major(*, actor, incident, reason, now=None):
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.DECLARE_MAJOR, incident)
    _guard(incident, OPEN_STATUSES, "declare a major incident on")
    if incident.is_major:
        raise Conflict(errors.ALREADY_MAJOR, status=incident.status)
    incident.is_major = True
    _save(incident, now, "is_major")
    _event(incident, actor, Kind.DECLARED_MAJOR, now, public=True, reason=reason)
    service = incident.service
    if service is not None and service.owner_id is not None and not incident.is_security:
        owner = service.owner
        _queue_email(
            incident,
            to=owner.email,
            subject=f"Major incident: {incident.title}",
            body=f"A major incident was declared on {service.name}.\n\n{reason}\n",
            key=f"major:{incident.pk}:owner:{owner.pk}",
            now=now,
        )
    return incident


# --- communication ------------------------------------------------------------------------


@transaction.atomic
def incident_add_note(*, actor, incident, body, now=None):
    """An internal work note: staff only, never sent outside."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.NOTE, incident)
    event = _event(incident, actor, Kind.NOTE, now, body=body)
    _save(incident, now)
    return incident, event


@transaction.atomic
def incident_add_public_update(*, actor, incident, body, now=None):
    """A progress update for the people affected: the reporter and the service owner."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.PUBLIC_UPDATE, incident)
    _guard(incident, (*OPEN_STATUSES, Status.RESOLVED), "post an update on")
    event = _event(incident, actor, Kind.PUBLIC_UPDATE, now, public=True, body=body)
    _save(incident, now)
    recipients = {incident.reporter}
    if incident.service is not None and incident.service.owner is not None and not incident.is_security:
        recipients.add(incident.service.owner)
    for person in sorted(recipients, key=lambda p: p.pk):
        _queue_email(
            incident,
            to=person.email,
            subject=f"Update: {incident.title}",
            body=f"{body}\n\nStatus: {incident.get_status_display()}\n",
            key=f"update:{event.pk}:{person.pk}",
            now=now,
        )
    return incident, event
