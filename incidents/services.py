"""Every change to an incident. Each function: one transaction, the row locked, the
state guarded, the policy asked, a timeline event written, messages queued in the outbox."""

import logging
import secrets
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from incidents import durations, engine, errors, lifecycle, notify, uploads
from incidents.models import (
    AffectedPerson,
    Attachment,
    Incident,
    IncidentDeadline,
    IncidentLink,
    IncidentTask,
    Status,
    TimelineEvent,
    Watcher,
)
from incidents.selectors import open_mandatory_tasks
from procedures import escalation, limits
from procedures.defaults import update_cadence_for
from procedures.priority import priority_for
from procedures.routing import route
from procedures.selectors import priority_matrix, procedure_version_in_force
from procedures.sla import sla_times, working_seconds_between
from skills.errors import Conflict, Forbidden, TooLarge
from skills.models import Role, Team
from skills.policy import Action, can, may_write, why_not

logger = logging.getLogger(__name__)
Kind = TimelineEvent.Kind


# --- helpers ---------------------------------------------------------------------------


def _require(actor, action, incident=None):
    if not can(actor, action, incident):
        raise Forbidden(why_not(actor, action, incident))


def _guard(incident, name, verb=None):
    if incident.status not in lifecycle.STATES[name]:
        verb = verb or name
        raise Conflict(
            errors.NOT_IN_STATE.format(action=verb, status=incident.get_status_display().lower()),
            status=incident.status,
        )


def _begin(actor, incident, action, name, verb=None, *, now=None):
    """The start of every change: the clock, the row lock, the policy, the state guard."""
    incident = _lock(incident)
    _require(actor, action, incident)
    _guard(incident, name, verb)
    return incident, now or timezone.now()


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
    """Save the changed fields, and move the incident's next timer to match its new state."""
    incident.updated_at = now
    engine.reschedule(incident)
    incident.save(update_fields=sorted({*fields, "updated_at", "next_timer_at"}))


def _slug(obj):
    return obj.slug if obj is not None else None


def _username(person):
    return person.username if person is not None else None


SLA_FIELDS = ("response_due_at", "resolve_due_at", "response_warn_at", "resolve_warn_at")


def _refresh_due_times(incident):
    times = sla_times(
        incident.procedure_version, incident.priority, incident.created_at, incident.held_seconds,
        calendar=incident.calendar,
    )  # fmt: skip
    for name in SLA_FIELDS:
        setattr(incident, name, getattr(times, name))


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


def _route(incident, version, now, actor=None):
    """Apply the version's routing rules and explain the choice on the timeline."""
    decision = route(
        version, category=incident.category, service=incident.service, title=incident.title,
        description=incident.description, channel=incident.channel, impact=incident.impact,
    )  # fmt: skip
    team = version.team if decision.team_slug == version.team.slug else Team.objects.get(slug=decision.team_slug)
    incident.procedure_version, incident.team, incident.impact = version, team, decision.impact
    incident.is_security = version.is_security
    incident.escalation_policy = list(version.escalation)
    return decision


def _routed_event(incident, decision, raised_from, now):
    version = incident.procedure_version
    data = {
        "team": incident.team.slug, "procedure": version.procedure.slug, "version": version.number,
        "rule": decision.rule, "priority": incident.priority,
        "response_due_at": incident.response_due_at.isoformat(), "resolve_due_at": incident.resolve_due_at.isoformat(),
    }  # fmt: skip
    if raised_from != incident.impact:
        data["impact"] = {"before": raised_from, "after": incident.impact}
    _event(incident, None, Kind.ROUTED, now, **data)


@transaction.atomic
def incident_register(
    *, actor, title, category, impact, urgency, description="", service=None, channel="web", reporter=None,
    registration_key=None, link_to=None, now=None, source_key="", follows=None, detail=None,
):  # fmt: skip
    """Register an incident. With a `registration_key` (the form's one-time token) a
    repeated submission returns the incident the first one made: the unique index on the
    key decides, so two submissions at once still make one. `link_to` links it to a
    related incident (level 2). `detail` adds to the registration's timeline event (an
    email's Message-ID and subject)."""
    now = now or timezone.now()
    _require(actor, Action.REGISTER)
    limits.check_incident_text(title=title, description=description)
    if reporter is not None and reporter != actor and not can(actor, Action.REGISTER_FOR_OTHERS):
        raise Forbidden(errors.ON_BEHALF_NEEDS_STAFF)
    if link_to is not None:
        _require(actor, Action.LINK, link_to)
    version = procedure_version_in_force(category)
    incident = Incident(
        title=title, description=description, reporter=reporter or actor, created_by=actor, channel=channel,
        category=category, service=service, impact=impact, urgency=urgency, created_at=now, updated_at=now,
        registration_key=registration_key,
        source_key=source_key, follows=follows,
    )  # fmt: skip
    decision = _route(incident, version, now)
    incident.priority = priority_for(incident.impact, urgency, priority_matrix())
    _refresh_due_times(incident)
    incident.next_timer_at = engine.next_timer_at(incident, set())
    try:
        with transaction.atomic():
            incident.save()
    except IntegrityError:
        first = Incident.objects.filter(registration_key=registration_key).first() if registration_key else None
        if first is None:
            raise
        if first.created_by_id != actor.pk:
            raise ValidationError({"registration_key": [errors.REGISTRATION_KEY_TAKEN]}) from None
        first.repeated_submission = True
        return first
    IncidentTask.objects.bulk_create(
        IncidentTask(incident=incident, position=n, title=item["title"], mandatory=item.get("mandatory", False))
        for n, item in enumerate(version.checklist or (), 1)
    )
    IncidentDeadline.objects.bulk_create(
        IncidentDeadline(incident=incident, name=item["name"], due_at=due_at, remind_at=remind_at)
        for item in version.deadlines or ()
        for due_at, remind_at in [escalation.deadline_times(now, item["after"])]
    )
    _event(
        incident, actor, Kind.REGISTERED, now, public=True,
        channel=channel, impact=impact, urgency=urgency, category=category.slug, service=_slug(service),
        **({"follows": follows.reference} if follows is not None else {}), **(detail or {}),
    )  # fmt: skip
    _routed_event(incident, decision, impact, now)
    if link_to is not None:
        _link(actor, incident, link_to, now)
    notify.queue_webhooks(incident, "registered", {"channel": channel}, key=f"registered:{incident.pk}", now=now)
    return incident


def _link(actor, incident, other, now):
    if incident.pk == other.pk:
        raise ValidationError({"other": [errors.LINK_SELF]})
    if IncidentLink.objects.filter(incident__in=(incident, other), other__in=(incident, other)).exists():
        raise ValidationError({"other": [errors.LINK_EXISTS.format(reference=incident.reference, other=other.reference)]})
    IncidentLink.objects.create(incident=incident, other=other, created_by=actor, created_at=now)
    _event(incident, actor, Kind.LINKED, now, other=other.reference, title=other.title)
    _event(other, actor, Kind.LINKED, now, other=incident.reference, title=incident.title)


@transaction.atomic
def incident_link(*, actor, incident, other, now=None):
    """Link two related incidents (both must be visible to the actor; level 2). Both
    timelines say so."""
    now = now or timezone.now()
    first, second = sorted((incident, other), key=lambda i: i.pk)
    first, second = _lock(first), _lock(second)  # in id order: two links at once never deadlock
    incident, other = (first, second) if first.pk == incident.pk else (second, first)
    _require(actor, Action.LINK, incident)
    _require(actor, Action.LINK, other)
    _link(actor, incident, other, now)
    _save(incident, now)
    return incident


@transaction.atomic
def incident_add_affected(*, actor, incident, person=None, now=None):
    """"This is the same": record `person` (the actor by default) as affected by an open
    incident instead of registering another. Those who may see it follow its public
    progress like the reporter (as watchers). A reporter may add only themselves."""
    incident, now = _begin(actor, incident, Action.ADD_AFFECTED, "add-affected", "add someone affected to", now=now)
    person = person or actor
    if person != actor and not can(actor, Action.REGISTER_FOR_OTHERS):
        raise Forbidden(errors.AFFECTED_ONLY_YOURSELF)
    try:
        with transaction.atomic():
            AffectedPerson.objects.create(incident=incident, person=person, added_by=actor, added_at=now)
    except IntegrityError:
        raise ValidationError(
            {"person": [errors.AFFECTED_ALREADY.format(username=person.username, reference=incident.reference)]}
        ) from None
    if can(person, Action.VIEW, incident):
        Watcher.objects.get_or_create(incident=incident, person=person)  # told of its public progress
    _event(incident, actor, Kind.AFFECTED, now, person=person.username)
    _save(incident, now)
    return incident


EDITABLE = ("title", "description", "category", "service", "impact", "urgency")


@transaction.atomic
def incident_update(*, actor, incident, now=None, **changes):
    """Categorise or add information. Re-derives priority and due times; routes again
    only while nobody has been assigned."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    limits.check_incident_text(**{name: changes[name] for name in ("title", "description") if name in changes})
    incident, now = _begin(actor, incident, Action.EDIT, "edit", now=now)
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
    rerouted = None
    if fields & {"category", "service", "title", "description"} and incident.status == Status.NEW and incident.assignee_id is None:
        impact_before = incident.impact
        rerouted = _route(incident, procedure_version_in_force(incident.category), now)
        fields |= {"procedure_version", "team", "is_security", "escalation_policy", "impact"}
    elif "category" in fields and incident.category.procedure.incident_class == "security":
        incident.is_security = True  # never let a security incident stay visible to all
        fields.add("is_security")
    if not incident.priority_overridden and fields & {"impact", "urgency"}:
        new_priority = priority_for(incident.impact, incident.urgency, priority_matrix())
        if new_priority != incident.priority:
            before["priority"], after["priority"] = incident.priority, new_priority
            incident.priority = new_priority
            fields.add("priority")
    if fields & {"priority", "procedure_version"}:
        _refresh_due_times(incident)
        fields |= set(SLA_FIELDS)
    _save(incident, now, *fields)
    _event(incident, actor, Kind.EDITED, now, before=before, after=after)
    if rerouted is not None:
        _routed_event(incident, rerouted, impact_before, now)
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
    _guard(incident, "assign")
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
    extra = durations.team_changed(incident) if changing_team else ()
    _save(incident, now, "team", "assignee", "status", *extra)
    after = {"team": _slug(incident.team), "assignee": _username(incident.assignee), "status": incident.status}
    _event(incident, actor, Kind.ASSIGNED, now, before=before, after=after)
    return incident


# --- work --------------------------------------------------------------------------------


def _acknowledge(incident, actor, now, fields):
    incident.acknowledged_at = now
    fields.add("acknowledged_at")
    fields.update(durations.acknowledged(incident, now))
    if now > incident.response_due_at and not incident.response_breached:
        incident.response_breached = True
        fields.add("response_breached")
    _event(incident, actor, Kind.ACKNOWLEDGED, now, public=True, late=incident.response_breached)


@transaction.atomic
def incident_acknowledge(*, actor, incident, now=None):
    """The first response: stops the response clock."""
    incident, now = _begin(actor, incident, Action.ACKNOWLEDGE, "acknowledge", now=now)
    if incident.acknowledged_at is not None:
        raise Conflict(errors.ALREADY_ACKNOWLEDGED, status=incident.status)
    fields = set()
    _acknowledge(incident, actor, now, fields)
    _save(incident, now, *fields)
    return incident


@transaction.atomic
def incident_start(*, actor, incident, now=None):
    incident, now = _begin(actor, incident, Action.START, "start", "start work on", now=now)
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
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.HOLD, "hold", "put on hold", now=now)
    incident.status, incident.on_hold_since = Status.ON_HOLD, now
    _save(incident, now, "status", "on_hold_since")
    _event(incident, actor, Kind.HELD, now, public=True, reason=reason)
    return incident


def _end_hold(incident, now):
    held = working_seconds_between(incident.calendar, incident.on_hold_since, now)
    incident.held_seconds += held
    incident.on_hold_since = None
    _refresh_due_times(incident)
    return held


@transaction.atomic
def incident_resume(*, actor, incident, now=None):
    incident, now = _begin(actor, incident, Action.RESUME, "resume", now=now)
    held = _end_hold(incident, now)
    incident.status = Status.IN_PROGRESS
    _save(incident, now, "status", "on_hold_since", "held_seconds", *SLA_FIELDS)
    _event(
        incident, actor, Kind.RESUMED, now, public=True,
        held_seconds=held, resolve_due_at=incident.resolve_due_at.isoformat(),
    )  # fmt: skip
    return incident


@transaction.atomic
def incident_prioritise(*, actor, incident, priority, reason, now=None):
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.PRIORITISE, "prioritise", now=now)
    before = incident.priority
    incident.priority, incident.priority_overridden = priority, True
    _refresh_due_times(incident)
    _save(incident, now, "priority", "priority_overridden", *SLA_FIELDS)
    _event(incident, actor, Kind.PRIORITISED, now, before=before, after=priority, reason=reason)
    return incident


@transaction.atomic
def incident_escalate(*, actor, incident, reason, team=None, now=None):
    """Hierarchical without a team (raise the escalation level), functional with one
    (hand the incident to that team)."""
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.ESCALATE, "escalate", now=now)
    if team is not None and team.pk == incident.team_id:
        raise ValidationError({"team": [errors.SAME_TEAM.format(team=team.slug)]})
    if team is None:
        incident.escalation_level += 1
        _save(incident, now, "escalation_level", *durations.escalated(incident))
        _event(incident, actor, Kind.ESCALATED, now, mode="hierarchical", level=incident.escalation_level, reason=reason)
        return incident
    before = _slug(incident.team)
    fields = [*lifecycle.hand_over(incident, team), *durations.escalated(incident), *durations.team_changed(incident)]
    _save(incident, now, *fields)
    _event(incident, actor, Kind.ESCALATED, now, mode="functional", before=before, after=team.slug, reason=reason)
    return incident


@transaction.atomic
def incident_resolve(*, actor, incident, resolution_code, resolution_notes, cause="", now=None):
    limits.check_incident_text(resolution_code=resolution_code, resolution_notes=resolution_notes, cause=cause)
    incident, now = _begin(actor, incident, Action.RESOLVE, "resolve", now=now)
    return _resolve(incident, actor, now, resolution_code, resolution_notes, cause)


def _resolve(incident, actor, now, resolution_code, resolution_notes, cause=""):
    fields = {"status", "resolved_at", "resolution_code", "resolution_notes", "cause"}
    if incident.status == Status.ON_HOLD:
        _end_hold(incident, now)
        fields |= {"on_hold_since", "held_seconds", *SLA_FIELDS}
    if now > incident.resolve_due_at and not incident.resolution_breached:
        incident.resolution_breached = True
        fields.add("resolution_breached")
    incident.status, incident.resolved_at = Status.RESOLVED, now
    incident.resolution_code, incident.resolution_notes, incident.cause = resolution_code, resolution_notes, cause
    fields.update(durations.resolved(incident, actor, now))
    if incident.is_public:
        incident.public_ended_at = now
        fields.add("public_ended_at")
    _save(incident, now, *fields)
    event = _event(
        incident, actor, Kind.RESOLVED, now, public=True,
        resolution_code=resolution_code, resolution_notes=resolution_notes, cause=cause,
        late=incident.resolution_breached,
    )  # fmt: skip
    _announce(incident, f"Resolved: {incident.title}", resolution_notes, key=f"resolved:{incident.pk}:{now.isoformat()}", now=now, event=event,
              public=(f"Resolved: {notify.public_title(incident)}", "This incident is resolved."))
    notify.queue_webhooks(incident, "resolved", {"resolution_code": resolution_code}, key=f"resolved:{incident.pk}:{now.isoformat()}", now=now)
    return incident


@transaction.atomic
def incident_close(*, actor, incident, override_reason="", now=None):
    """Close a resolved incident. The procedure's mandatory tasks must be done, unless a
    level 4 person overrides the checklist with a reason."""
    limits.check_incident_text(override_reason=override_reason)
    incident, now = _begin(actor, incident, Action.CLOSE, "close", now=now)
    open_tasks = list(open_mandatory_tasks(incident).values_list("title", flat=True))
    if open_tasks and not override_reason:
        raise Conflict(errors.TASKS_OPEN.format(tasks="; ".join(open_tasks)), status=incident.status)
    if open_tasks:
        _require(actor, Action.OVERRIDE_CHECKLIST, incident)
    incident.status, incident.closed_at = Status.CLOSED, now
    _save(incident, now, "status", "closed_at", *durations.closed(incident, now))
    data = {"override_reason": override_reason, "open_tasks": open_tasks} if open_tasks else {}
    _event(incident, actor, Kind.CLOSED, now, public=True, **data)
    return incident


@transaction.atomic
def incident_complete_task(*, actor, incident, position, now=None):
    incident, now = _begin(actor, incident, Action.COMPLETE_TASK, "complete-task", "complete a task on", now=now)
    task = incident.tasks.filter(position=position).first()
    if task is None:
        raise ValidationError({"task": [errors.NO_SUCH_TASK.format(position=position)]})
    if task.done_at is not None:
        raise Conflict(errors.TASK_DONE.format(title=task.title), status=incident.status)
    task.done_at, task.done_by = now, actor
    task.save(update_fields=["done_at", "done_by"])
    _save(incident, now)
    _event(incident, actor, Kind.TASK_DONE, now, task=task.title, position=position)
    return incident


@transaction.atomic
def incident_meet_deadline(*, actor, incident, deadline_id, note="", now=None):
    """Record that a named deadline (such as notifying the regulator) was met."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.RECORD_DEADLINE, incident)
    deadline = incident.deadlines.filter(pk=deadline_id).first()
    if deadline is None:
        raise ValidationError({"deadline": [errors.NO_SUCH_DEADLINE]})
    if deadline.met_at is not None:
        raise Conflict(errors.DEADLINE_MET.format(name=deadline.name), status=incident.status)
    deadline.met_at, deadline.met_by = now, actor
    deadline.save(update_fields=["met_at", "met_by"])
    _save(incident, now)
    _event(incident, actor, Kind.DEADLINE_MET, now, deadline=deadline.name, late=now > deadline.due_at, note=note)
    return incident


@transaction.atomic
def incident_reopen(*, actor, incident, reason, now=None):
    """Back to work. Its assignee takes it up again; with nobody assigned, the person who
    reopens it takes it if assign would let them take it (allowed to allocate to a person,
    active staff in its team), else it goes back to its team's queue."""
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.REOPEN, "reopen", now=now)
    fields = ["status", "resolved_at", *durations.reopened(incident)]
    incident.resolved_at = None
    if incident.is_public:
        incident.public_ended_at = None
        fields.append("public_ended_at")
    taken = incident.assignee_id is None and _may_be_assigned(actor, actor, incident)
    if taken:
        incident.assignee = actor
        fields.append("assignee")
    incident.status = Status.IN_PROGRESS if incident.assignee_id else Status.NEW
    _save(incident, now, *fields)
    _event(incident, actor, Kind.REOPENED, now, public=True, reason=reason,
           **({"assignee": actor.username} if taken else {}))  # fmt: skip
    return incident


def _may_be_assigned(actor, assignee, incident):
    """Would `incident_assign` let `actor` give `incident` (in its own team) to `assignee`?"""
    if not can(actor, Action.ALLOCATE_PERSON, incident):
        return False
    try:
        _validate_assignee(assignee, incident.team)
    except ValidationError:
        return False
    return True


def _reopen_window(incident, now):
    days = settings.REOPEN_WINDOW_DAYS
    if incident.resolved_at is None or now > incident.resolved_at + timedelta(days=days):
        raise Conflict(errors.REOPEN_WINDOW_CLOSED.format(days=days), status=incident.status)


@transaction.atomic
def incident_comment(*, actor, incident, body, now=None, detail=None):
    """A requester's reply: public on the timeline; the assignee (or the team) is told.
    `detail` adds to the event (an emailed reply's Message-ID)."""
    limits.check_incident_text(body=body)
    incident, now = _begin(actor, incident, Action.COMMENT, "comment", "reply to", now=now)
    event = _event(incident, actor, Kind.COMMENT, now, public=True, body=body, **(detail or {}))
    _save(incident, now)
    notify.queue_email(incident, notify.assignee_or_team(incident), headline=f"Reply from {actor.username}: {incident.title}", body=body,
                       key=f"comment:{event.pk}", now=now)  # fmt: skip
    return incident, event


@transaction.atomic
def incident_confirm_resolution(*, actor, incident, fixed, reason="", now=None):
    """The reporter's answer to a resolution: confirmed, or not fixed, which reopens the
    incident, within `REOPEN_WINDOW_DAYS` of the resolution."""
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.CONFIRM_RESOLUTION, "confirm", "confirm the resolution of", now=now)
    _reopen_window(incident, now)
    if fixed:
        _event(incident, actor, Kind.CONFIRMED, now, public=True, reason=reason)
        _save(incident, now)
        return incident
    incident.status = Status.IN_PROGRESS if incident.assignee_id else Status.NEW
    incident.resolved_at = None
    _save(incident, now, "status", "resolved_at", *durations.reopened(incident))
    _event(incident, actor, Kind.REOPENED, now, public=True, reason=reason, by_reporter=True)
    notify.queue_email(incident, notify.assignee_or_team(incident), headline=f"Not fixed, reopened: {incident.title}", body=reason,
                       key=f"not-fixed:{incident.pk}:{now.isoformat()}", now=now)  # fmt: skip
    return incident


@transaction.atomic
def incident_cancel(*, actor, incident, reason, now=None):
    """A duplicate, or not an incident at all."""
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.CANCEL, "cancel", now=now)
    before = incident.status
    incident.status, incident.on_hold_since = Status.CANCELLED, None
    incident.closed_at = now
    # Not an incident after all: off the status page, as if it had never been there.
    incident.is_public = False
    _save(incident, now, "status", "on_hold_since", "closed_at", "is_public")
    _event(incident, actor, Kind.CANCELLED, now, public=True, before=before, reason=reason)
    return incident


@transaction.atomic
def incident_declare_major(*, actor, incident, reason, comms_lead=None, now=None):
    """Declare a major incident: name a communications lead (level 5; the declarer by
    default), raise it to P1 on the 24x7 calendar (the due times follow), tell the
    stakeholders, and start the update cadence."""
    limits.check_incident_text(reason=reason)
    incident, now = _begin(actor, incident, Action.DECLARE_MAJOR, "declare-major", "declare a major incident on", now=now)
    if incident.is_major:
        raise Conflict(errors.ALREADY_MAJOR, status=incident.status)
    lead = comms_lead or actor
    if not can(lead, Action.DECLARE_MAJOR, incident):
        raise ValidationError({"comms_lead": [errors.COMMS_LEAD_LEVEL.format(username=lead.username)]})
    priority_before, calendar_before = incident.priority, incident.calendar
    incident.is_major, incident.comms_lead, incident.around_the_clock = True, lead, True
    if incident.priority != 1:
        incident.priority, incident.priority_overridden = 1, True
    _refresh_due_times(incident)
    incident.next_update_due_at = now + timedelta(seconds=update_cadence_for(incident))
    fields = ["is_major", "comms_lead", "next_update_due_at", "around_the_clock", "priority", "priority_overridden",
              *SLA_FIELDS]
    if not incident.is_security and incident.service_id is not None:
        fields += _go_public(incident, now)  # major incidents are public by default
    _save(incident, now, *fields)
    event = _event(incident, actor, Kind.DECLARED_MAJOR, now, public=True, reason=reason, comms_lead=lead.username,
                   next_update_due_at=incident.next_update_due_at.isoformat(),
                   priority={"before": priority_before, "after": incident.priority},
                   calendar={"before": calendar_before.slug, "after": "24x7"},
                   response_due_at=incident.response_due_at.isoformat(),
                   resolve_due_at=incident.resolve_due_at.isoformat())  # fmt: skip
    _announce(incident, f"Major incident: {incident.title}", reason, key=f"major:{incident.pk}", now=now, event=event,
              public=(f"Investigating: {notify.public_title(incident)}", f"We are investigating a problem with {incident.service.name if incident.service_id else 'a service'}."))
    notify.queue_webhooks(incident, "declared_major", {"reason": reason}, key=f"major:{incident.pk}", now=now)
    return incident


def _go_public(incident, now):
    """Put the incident on the public status page (a random public id, its public start)."""
    incident.is_public = True
    if incident.public_id is None:
        incident.public_id = secrets.token_hex(6)
    if incident.public_started_at is None:
        incident.public_started_at = now
    return ["is_public", "public_id", "public_started_at"]


@transaction.atomic
def incident_publish(*, actor, incident, public, public_title="", now=None):
    """Show the incident on the public status page (or take it off) and choose its public
    title (blank: a neutral one; the internal title never shows unless chosen here). Level
    3 or the communications lead; a security incident only at level 5, as a statement."""
    now = now or timezone.now()
    incident = _lock(incident)
    _guard(incident, "publish")
    if incident.comms_lead_id != actor.pk or not can(actor, Action.VIEW, incident) or not may_write(actor):
        _require(actor, Action.PUBLISH_STATUS, incident)
    if public and incident.is_security and not can(actor, Action.DECLARE_MAJOR, incident):
        raise Forbidden(errors.PUBLISH_SECURITY)
    if public and incident.service_id is None:
        raise ValidationError({"public": [errors.NO_SERVICE]})
    if public and not incident.service.is_public:
        raise ValidationError({"public": [errors.NOT_PUBLIC_SERVICE.format(service=incident.service.slug)]})
    before = {"public": incident.is_public, "public_title": incident.public_title}
    fields = ["public_title", "is_public"]
    incident.public_title = public_title.strip()
    if public:
        fields += _go_public(incident, now)
    else:
        incident.is_public = False
    _save(incident, now, *fields)
    _event(incident, actor, Kind.PUBLISHED, now, before=before,
           after={"public": incident.is_public, "public_title": incident.public_title})  # fmt: skip
    return incident


def _announce(incident, headline, body, *, key, now, event, public=None):
    """Public news: the reporter and watchers, the service owner, and on a major incident
    the service's subscribers as they stand now. One fan-out row here, whatever the
    audience; workers expand it into messages (incidents.fanout)."""
    return notify.queue_fanout(
        incident, headline=headline, body=body, key=key, now=now, event=event, subscribers=incident.is_major,
        public=public,
    )


@transaction.atomic
def incident_watch(*, actor, incident, watching=True, now=None):
    """Follow (or stop following) an incident's public progress."""
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.WATCH, incident)
    if watching:
        _, created = Watcher.objects.get_or_create(incident=incident, person=actor)
    else:
        created = Watcher.objects.filter(incident=incident, person=actor).delete()[0] > 0
    if created:
        _event(incident, actor, Kind.WATCHING, now, watching=watching)
    return incident


# --- communication ------------------------------------------------------------------------


@transaction.atomic
def incident_add_note(*, actor, incident, body, now=None, detail=None):
    """An internal work note: staff only, never sent outside. `detail` adds to the event
    (an emailed note's Message-ID)."""
    limits.check_incident_text(body=body)
    now = now or timezone.now()
    incident = _lock(incident)
    _require(actor, Action.NOTE, incident)
    event = _event(incident, actor, Kind.NOTE, now, body=body, **(detail or {}))
    _save(incident, now)
    return incident, event


@transaction.atomic
def incident_add_public_update(*, actor, incident, body, now=None):
    """A progress update for the people affected: the reporter and the service owner."""
    limits.check_incident_text(body=body)
    incident, now = _begin(actor, incident, Action.PUBLIC_UPDATE, "updates", "post an update on", now=now)
    event = _event(incident, actor, Kind.PUBLIC_UPDATE, now, public=True, body=body)
    fields = []
    if incident.is_major:
        incident.next_update_due_at = now + timedelta(seconds=update_cadence_for(incident))
        fields.append("next_update_due_at")
    _save(incident, now, *fields)
    _announce(incident, f"Update: {incident.title}", body, key=f"update:{event.pk}", now=now, event=event,
              public=(f"Update: {notify.public_title(incident)}", body))
    notify.queue_webhooks(incident, "public_update", {"body": body}, key=f"update:{event.pk}", now=now)
    return incident, event


# --- monitoring sources (alerts, events) ----------------------------------------------------

SOURCE_KEY_INDEX = "incident_open_source_key"
AUTO_RESOLVED = "auto-resolved"


def _open_by_source_key(source_key):
    return (
        Incident.objects.select_for_update(of=("self",))
        .select_related("procedure_version__calendar", "procedure_version__procedure", "team", "service")
        .filter(source_key=source_key, status__in=lifecycle.OPEN)
        .first()
    )


def _is_source_key_clash(error):
    diag = getattr(getattr(error, "__cause__", None), "diag", None)
    return getattr(diag, "constraint_name", None) == SOURCE_KEY_INDEX


@transaction.atomic
def incident_source_trigger(
    *, actor, source_key, title, category, impact, urgency, description="", service=None, detail=None, now=None
):
    """A monitor reports a problem. The first report of a source key registers an incident
    (channel alert; linked to the last incident of the key, if one was closed or resolved);
    while that incident is open every repeat only counts and goes on the timeline.
    Returns (incident, created). The unique partial index on open source keys decides
    between concurrent deliveries of the same problem: the loser counts a repeat."""
    now = now or timezone.now()
    _require(actor, Action.INGEST)
    incident = _open_by_source_key(source_key)
    if incident is None:
        follows = Incident.objects.filter(source_key=source_key).order_by("-created_at", "-id").first()
        try:
            with transaction.atomic():
                incident = incident_register(
                    actor=actor, title=title, description=description, category=category, service=service,
                    impact=impact, urgency=urgency, channel="alert", now=now, source_key=source_key, follows=follows,
                )  # fmt: skip
            return incident, True
        except IntegrityError as error:
            if not _is_source_key_clash(error):
                raise
            incident = _open_by_source_key(source_key)
            if incident is None:  # opened and closed again in between: vanishingly rare
                raise
    _require(actor, Action.INGEST, incident)
    incident.repeat_count += 1
    _save(incident, now, "repeat_count")
    _event(incident, actor, Kind.SOURCE_REPEATED, now, count=incident.repeat_count, **(detail or {}))
    return incident, False


@transaction.atomic
def incident_source_acknowledge(*, actor, source_key, now=None):
    """A monitor says someone is on it: the response clock stops. None if nothing is open."""
    now = now or timezone.now()
    _require(actor, Action.INGEST)
    incident = _open_by_source_key(source_key)
    if incident is None:
        return None
    _require(actor, Action.INGEST, incident)
    if incident.acknowledged_at is None:
        fields = set()
        _acknowledge(incident, actor, now, fields)
        _save(incident, now, *fields)
    return incident


@transaction.atomic
def incident_source_resolve(*, actor, source_key, note, now=None):
    """A monitor says the problem is over. An incident nobody has taken over (new, no
    assignee) is resolved with the note; one a person has is only told, on the timeline.
    Returns (incident or None, resolved)."""
    now = now or timezone.now()
    _require(actor, Action.INGEST)
    incident = _open_by_source_key(source_key)
    if incident is None:
        return None, False
    _require(actor, Action.INGEST, incident)
    if incident.assignee_id is None and incident.status in lifecycle.STATES["source-resolve"]:
        return _resolve(incident, actor, now, AUTO_RESOLVED, note), True
    _save(incident, now)
    _event(incident, actor, Kind.SOURCE_RESOLVED, now, note=note, left_to=_username(incident.assignee))
    return incident, False


# --- attachments ------------------------------------------------------------------------------

SCAN_TASK = "incidents.tasks.scan_attachments"


def kick_scan():
    """Ask a worker to scan what is pending (by task name); beat sweeps up if the broker is down."""
    try:
        current_app.send_task(SCAN_TASK, retry=False)
    except Exception:
        logger.warning("Broker unavailable; the attachment sweep will scan later.")


def attachment_add(*, actor, incident, name, content, declared_type="", channel="web", now=None):
    """Attach a file to an incident, from any entry point (the page, the API, email).

    `content` is bytes or a binary file object (an upload, an email part's payload);
    `name` the sender's file name and `declared_type` the content type the sender gave
    (kept for the record, never trusted). The policy (`attach`: staff, or the incident's
    reporter), the incident's state (open or resolved), the size limits (TooLarge: 413)
    and the content rules of `incidents.uploads` (ValidationError on "file": 400) decide,
    and a refusal stores nothing. Without ATTACHMENT_SCANNER the attachment is available
    at once and on the timeline; with one it waits, pending, until `attachment_scan_next`
    passes it. Returns the Attachment."""
    stream, size = uploads.as_stream(content)
    clean = uploads.clean_name(name)
    _require(actor, Action.ATTACH, incident)  # refuse before reading the bytes
    _guard(incident, "attach", "attach a file to")
    limit = settings.ATTACHMENT_MAX_BYTES
    if size > limit:
        raise TooLarge(errors.ATTACHMENT_TOO_BIG.format(
            name=clean, size=uploads.size_text(size), limit=uploads.size_text(limit)
        ))  # fmt: skip
    checked = uploads.check(stream, name=clean, size=size)  # outside the lock: it may expand an archive
    with transaction.atomic():
        return _store_attachment(actor, incident, checked, stream, declared_type, channel, now)


def _store_attachment(actor, incident, checked, stream, declared_type, channel, now):
    incident, now = _begin(actor, incident, Action.ATTACH, "attach", "attach a file to", now=now)
    used = sum(
        Attachment.objects.filter(incident=incident)
        .exclude(state=Attachment.State.REJECTED)
        .values_list("size", flat=True)
    )
    limit = settings.ATTACHMENT_MAX_INCIDENT_BYTES
    if used + checked.size > limit:
        raise TooLarge(errors.INCIDENT_ATTACHMENTS_FULL.format(
            reference=incident.reference, used=uploads.size_text(used), name=checked.name,
            size=uploads.size_text(checked.size), limit=uploads.size_text(limit),
        ))  # fmt: skip
    attachment = Attachment(
        incident=incident, name=checked.name, size=checked.size, content_type=checked.content_type,
        declared_type=(declared_type or "")[:100], sha256=checked.sha256, channel=channel, uploaded_by=actor,
        created_at=now,
    )  # fmt: skip
    attachment.file.save(checked.name, File(stream), save=False)
    stored = attachment.file.name
    try:
        attachment.save()
        if settings.ATTACHMENT_SCANNER:
            transaction.on_commit(kick_scan)
        else:
            _release(attachment, incident, None, now)
    except BaseException:
        attachment.file.storage.delete(stored)  # a refused attachment leaves no bytes behind
        raise
    return attachment


@transaction.atomic
def attachment_refused(*, actor, incident, name, reason, channel="email", now=None):
    """An attachment that came with a message (email) and was refused (its type, its size,
    the incident's room): noted on the internal timeline, so the desk knows a file was
    sent and why it is not there; the message itself is still taken."""
    now = now or timezone.now()
    incident = _lock(incident)
    _event(incident, actor, Kind.ATTACHMENT_REFUSED, now, name=uploads.clean_name(name), reason=str(reason)[:2000],
           channel=channel)  # fmt: skip
    _save(incident, now)
    return incident


def _release(attachment, incident, reason, now):
    """The scan's verdict (None: clean): available and on the timeline, or rejected with
    its bytes deleted and the reason on the (internal) timeline."""
    attachment.scanned_at = now if settings.ATTACHMENT_SCANNER else None
    if reason is None:
        attachment.state = Attachment.State.AVAILABLE
        attachment.save(update_fields=["state", "scanned_at"])
        _event(
            incident, attachment.uploaded_by, Kind.ATTACHED, now, public=True, attachment=attachment.pk,
            name=attachment.name, size=attachment.size, content_type=attachment.content_type,
            channel=attachment.channel,
        )  # fmt: skip
    else:
        stored, storage = attachment.file.name, attachment.file.storage
        attachment.state, attachment.rejection, attachment.file = Attachment.State.REJECTED, str(reason)[:2000], ""
        attachment.save(update_fields=["state", "scanned_at", "rejection", "file"])
        transaction.on_commit(lambda: storage.delete(stored))
        _event(incident, None, Kind.ATTACHMENT_REJECTED, now, attachment=attachment.pk, name=attachment.name,
               reason=attachment.rejection)  # fmt: skip
    _save(incident, now)


def _scanner():
    path = settings.ATTACHMENT_SCANNER
    return import_string(path) if path else None


@transaction.atomic
def attachment_scan_next(*, now=None):
    """Scan the oldest pending attachment (claimed with SKIP LOCKED: two workers never
    scan one twice) with ATTACHMENT_SCANNER, and record the verdict. Returns the
    attachment, or None when nothing is pending. A scanner that raises leaves it pending
    (the sweep tries again) and the error propagates."""
    attachment = (
        Attachment.objects.select_for_update(skip_locked=True)
        .filter(state=Attachment.State.PENDING)
        .order_by("id")
        .first()
    )
    if attachment is None:
        return None
    scanner = _scanner()
    reason = None
    if scanner is not None:
        with attachment.file.open("rb") as handle:
            reason = scanner(handle, attachment=attachment)
    now = now or timezone.now()
    _release(attachment, _lock(attachment.incident), reason, now)
    return attachment


def attachments_scan(*, limit=50, now=None):
    """Scan up to `limit` pending attachments (the task, and beat's sweep). Returns how many."""
    done = 0
    while done < limit:
        try:
            if attachment_scan_next(now=now) is None:
                break
        except Exception:
            logger.exception("The virus scanner failed; the attachment stays pending and is tried again.")
            break
        done += 1
    return done
