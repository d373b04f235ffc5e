"""Timers: SLA warnings and breaches, escalation steps, major-incident update reminders
and named deadlines. The database holds every due time; beat runs short sweeps that
claim due rows with SELECT ... FOR UPDATE SKIP LOCKED, so two workers (or two beats)
never take the same incident, and a killed worker's transaction rolls back whole."""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from incidents import durations, lifecycle, notify, outbox
from incidents.models import (
    ACTIVE_STATUSES,
    EscalationStepRun,
    Incident,
    IncidentDeadline,
    TimelineEvent,
)
from procedures import escalation
from procedures.defaults import update_cadence_for

logger = logging.getLogger(__name__)
Kind = TimelineEvent.Kind
BATCH = 100


def anchors(incident):
    """The moments an incident's escalation steps count from; the response target no
    longer counts once it was met."""
    return {
        "created": incident.created_at,
        "response_due": incident.response_due_at if incident.acknowledged_at is None else None,
        "resolve_due": incident.resolve_due_at,
    }


def step_due_at(incident, step):
    """When an escalation step (an `escalation.Step`) is due, or None when it no longer applies."""
    return step.due_at(incident.calendar, anchors(incident))


def next_timer_at(incident, done_steps):
    """The earliest pending timer of an incident; None when nothing can fire (on hold,
    resolved, closed or cancelled)."""
    if incident.status not in ACTIVE_STATUSES:
        return None
    moments = []
    if incident.acknowledged_at is None:
        if not incident.response_warned:
            moments.append(incident.response_warn_at)
        if not incident.response_breached:
            moments.append(incident.response_due_at)
    if not incident.resolution_warned:
        moments.append(incident.resolve_warn_at)
    if not incident.resolution_breached:
        moments.append(incident.resolve_due_at)
    for step in escalation.steps(incident.escalation_policy):
        if step.index not in done_steps:
            due = step_due_at(incident, step)
            if due is not None:
                moments.append(due)
    if incident.is_major and incident.next_update_due_at is not None:
        moments.append(incident.next_update_due_at)
    return min(moments, default=None)


def reschedule(incident, done_steps=None):
    if done_steps is None:
        done_steps = set(EscalationStepRun.objects.filter(incident=incident).values_list("step", flat=True))
    incident.next_timer_at = next_timer_at(incident, done_steps)


def _event(incident, kind, now, **data):
    return TimelineEvent(incident=incident, kind=kind, at=now, data=data)


def _clock(incident, now, events, clock):
    """Warn and breach one clock ("response" or "resolution") when due; return the fields changed."""
    fields = []
    if clock == "response":
        if incident.acknowledged_at is not None:
            return fields
        warn_at, due_at, warned, breached = (
            incident.response_warn_at, incident.response_due_at, "response_warned", "response_breached",
        )  # fmt: skip
    else:
        warn_at, due_at, warned, breached = (
            incident.resolve_warn_at, incident.resolve_due_at, "resolution_warned", "resolution_breached",
        )  # fmt: skip
    if not getattr(incident, warned) and now >= warn_at:
        setattr(incident, warned, True)
        fields.append(warned)
        if now < due_at:
            event = _event(incident, Kind.WARNING, now, clock=clock, due_at=due_at.isoformat())
            events.append(event)
            who = [notify.Recipient(incident.assignee.email)] if incident.assignee_id else notify.team_members(incident)
            notify.queue_notice(
                incident, who, headline=escalation.warning_headline(clock, incident.title),
                body=f"The {clock} target is due at {due_at:%Y-%m-%d %H:%M} UTC.",
                key=f"warn:{clock}:{incident.pk}", now=now, event=event,
            )  # fmt: skip
    if not getattr(incident, breached) and now >= due_at:
        setattr(incident, breached, True)
        fields.append(breached)
        events.append(_event(incident, Kind.BREACHED, now, clock=clock, due_at=due_at.isoformat()))
        notify.queue_webhooks(incident, "breached", {"clock": clock}, key=f"breach:{clock}:{incident.pk}", now=now)
    return fields


def _run_step(incident, step, now, events):
    """Run one due escalation step: its timeline event records what was decided now (for
    a notification, whom it tells); the message itself is a notice a worker renders and
    sends afterwards (`notify.queue_notice`)."""
    fields = []
    event = _event(incident, Kind.ESCALATED, now, mode="policy", step=step.number, action=step.action, anchor=step.anchor)
    data = event.data
    key = f"step:{incident.pk}:{step.index}"
    if step.action == "notify":
        people = notify.step_recipients(incident, step)
        data["targets"] = [p.email for p in people]
        notify.queue_notice(
            incident, people, headline=step.headline(incident.title),
            body=step.body(incident.procedure_version.procedure.name), key=key, now=now, event=event,
        )  # fmt: skip
    elif step.action == "raise_level":
        incident.escalation_level += 1
        fields += ["escalation_level", *durations.escalated(incident)]
        data["level"] = incident.escalation_level
    elif step.handover_team:
        team = escalation.team_named(step.handover_team)
        if team is not None and team.pk != incident.team_id:
            data |= {"before": incident.team.slug if incident.team_id else None, "after": team.slug}
            fields += [*lifecycle.hand_over(incident, team), *durations.escalated(incident), *durations.team_changed(incident)]
            notify.queue_notice(
                incident, notify.team_members(incident, team),
                headline=step.headline(incident.title, team_name=team.name), key=key, now=now, event=event,
            )  # fmt: skip
    else:
        data["supplier"] = step.targets["supplier"]
    events.append(event)
    return fields


def fire_timers(incident, now, done, runs):
    """Everything due on one locked incident of a sweep's batch: `done` holds the steps
    already run, new step runs go to `runs`; returns the new timeline events (unsaved)
    and the fields changed. The batch saves them, and writes the notices gathered in its
    `outbox.collecting()` block after the events they point at."""
    events, fields = [], []
    fields += _clock(incident, now, events, "response")
    fields += _clock(incident, now, events, "resolution")
    for step in escalation.steps(incident.escalation_policy):
        if step.index in done:
            continue
        due = step_due_at(incident, step)
        if due is None or due > now:
            continue
        # The unique (incident, step) row is the once-only guard; we also hold the row lock.
        runs.append(EscalationStepRun(incident=incident, step=step.index, at=now, action=step.action))
        done.add(step.index)
        fields += _run_step(incident, step, now, events)
    if incident.is_major and incident.next_update_due_at is not None and now >= incident.next_update_due_at:
        due = incident.next_update_due_at
        event = _event(incident, Kind.UPDATE_DUE, now, due_at=due.isoformat())
        events.append(event)
        lead = incident.comms_lead
        if lead is not None:
            notify.queue_notice(
                incident, [notify.Recipient(lead.email)],
                headline=f"Stakeholder update due: {incident.title}",
                body="The next update to stakeholders on this major incident is due now.",
                key=f"update-due:{incident.pk}:{due.isoformat()}", now=now, event=event,
            )  # fmt: skip
        incident.next_update_due_at = now + timedelta(seconds=update_cadence_for(incident))
        fields.append("next_update_due_at")
    reschedule(incident, done)
    incident.updated_at = now if events else incident.updated_at
    return events, fields


def sweep_timers(now=None, *, batch=None, budget_seconds=45):
    """Claim due incidents a batch at a time (`SLA_SWEEP_BATCH`) until none are due or the
    budget is spent. Returns how many incidents were processed."""
    batch = batch or settings.SLA_SWEEP_BATCH
    started, processed = time.monotonic(), 0
    while time.monotonic() - started < budget_seconds:
        moment = now or timezone.now()
        with transaction.atomic():
            due = list(
                Incident.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(next_timer_at__lte=moment, status__in=ACTIVE_STATUSES)
                .order_by("next_timer_at")[:batch]
                # A batch shares a few procedures, teams and services: one query each and
                # one object each, rather than a join and eight objects per incident.
                .prefetch_related("procedure_version__calendar", "procedure_version__procedure", "team", "assignee",
                                  "service__owner", "reporter", "comms_lead")
            )  # fmt: skip
            _fire_batch(due, moment)
        processed += len(due)
        if len(due) < batch:
            break
    return processed


def _fire_batch(incidents, now):
    """Fire a claimed batch with a handful of statements, not a handful per incident."""
    if not incidents:
        return
    done = {incident.pk: set() for incident in incidents}
    for incident_id, step in EscalationStepRun.objects.filter(incident__in=incidents).values_list("incident", "step"):
        done[incident_id].add(step)
    runs, events, fields = [], [], {"next_timer_at", "updated_at"}
    with outbox.collecting():
        for incident in incidents:
            new_events, changed = fire_timers(incident, now, done[incident.pk], runs)
            events += new_events
            fields.update(changed)
        EscalationStepRun.objects.bulk_create(runs)
        TimelineEvent.objects.bulk_create(events)
        update_rows(incidents, sorted(fields))


# Column types a sweep writes that travel as plain PostgreSQL arrays.
_ARRAY_TYPES = {
    "BooleanField", "IntegerField", "SmallIntegerField", "PositiveSmallIntegerField", "PositiveIntegerField",
    "BigIntegerField", "DateTimeField", "CharField", "ForeignKey",
}  # fmt: skip


def update_rows(objects, fields):
    """Save `fields` of many rows in one UPDATE ... FROM unnest(one array per column): what
    `bulk_update` does, without its CASE WHEN per row and field (which cost a 10,000-breach
    sweep more than all its other statements together). Other column types, and embedded
    mode's SQLite, go to `bulk_update`."""
    if not objects:
        return
    model = type(objects[0])
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    if connection.vendor != "postgresql" or any(field.get_internal_type() not in _ARRAY_TYPES for field in columns[1:]):
        model.objects.bulk_update(objects, fields)
        return
    arrays = [[field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objects] for field in columns]
    statement = sql.SQL("UPDATE {table} AS t SET {sets} FROM unnest({arrays}) AS u({names}) WHERE t.{key} = u.c0").format(
        table=sql.Identifier(meta.db_table),
        sets=sql.SQL(", ").join(
            sql.SQL("{} = u.{}").format(sql.Identifier(field.column), sql.Identifier(f"c{n}"))
            for n, field in enumerate(columns) if n
        ),
        arrays=sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(field.db_type(connection))) for field in columns),
        names=sql.SQL(", ").join(sql.Identifier(f"c{n}") for n in range(len(columns))),
        key=sql.Identifier(meta.pk.column),
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(statement, arrays)


def sweep_deadlines(now=None, *, batch=BATCH):
    """Remind before, and mark when missed, the named deadlines (such as a regulator's)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            IncidentDeadline.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("incident__team", "incident__service", "incident__procedure_version")
            .filter(met_at__isnull=True, breached=False, remind_at__lte=now)
            .order_by("remind_at")[:batch]
        )
        for deadline in due:
            incident = deadline.incident
            people = notify.team_members(incident) + notify.level_people(incident, 5)
            if now >= deadline.due_at:
                deadline.breached = True
                event = TimelineEvent.objects.create(incident=incident, kind=Kind.DEADLINE_MISSED, at=now, data={"deadline": deadline.name})
                notify.queue_notice(
                    incident, people, headline=escalation.deadline_headline(deadline.name, missed=True),
                    key=f"deadline-missed:{deadline.pk}", now=now, event=event,
                )  # fmt: skip
            else:
                event = TimelineEvent.objects.create(incident=incident, kind=Kind.WARNING, at=now, data={"deadline": deadline.name, "due_at": deadline.due_at.isoformat()})
                notify.queue_notice(
                    incident, people, headline=escalation.deadline_headline(deadline.name, missed=False),
                    body=f"Due at {deadline.due_at:%Y-%m-%d %H:%M} UTC.", key=f"deadline-remind:{deadline.pk}", now=now,
                    event=event,
                )  # fmt: skip
            deadline.reminded = True
            deadline.remind_at = deadline.due_at if not deadline.breached else deadline.remind_at
            deadline.save(update_fields=["breached", "reminded", "remind_at"])
    return len(due)
