"""The per-incident facts the metrics read, written by the services at each milestone.

Wall-clock seconds run from registration; working seconds are counted on the incident's
calendar (its procedure version's) and leave out the working time spent on hold, as the
SLA clocks do. A reopened incident forgets its resolution facts until it is resolved
again, and counts the reopening."""

from procedures.sla import working_seconds_between
from skills.policy import level_of

FIRST_LINE_LEVELS = (1, 2)
RESOLUTION_FIELDS = ("resolve_seconds", "resolve_working_seconds", "resolved_by", "resolved_level", "resolved_first_line")


def _wall(start, end):
    return max(0, int((end - start).total_seconds()))


def _working(incident, end):
    calendar = incident.procedure_version.calendar
    return max(0, working_seconds_between(calendar, incident.created_at, end) - incident.held_seconds)


def acknowledged(incident, now):
    incident.ack_seconds = _wall(incident.created_at, now)
    incident.ack_working_seconds = _working(incident, now)
    return ("ack_seconds", "ack_working_seconds")


def resolved(incident, actor, now):
    """Call after any time on hold has been added to `held_seconds`."""
    incident.resolve_seconds = _wall(incident.created_at, now)
    incident.resolve_working_seconds = _working(incident, now)
    incident.resolved_by = actor
    incident.resolved_level = level_of(actor) if actor is not None else None
    incident.resolved_first_line = incident.resolved_level in FIRST_LINE_LEVELS and incident.team_changes == 0
    return RESOLUTION_FIELDS


def reopened(incident):
    incident.reopen_count += 1
    incident.resolve_seconds = incident.resolve_working_seconds = None
    incident.resolved_by = incident.resolved_level = None
    incident.resolved_first_line = False
    return ("reopen_count", *RESOLUTION_FIELDS)


def closed(incident, now):
    incident.close_seconds = _wall(incident.resolved_at, now) if incident.resolved_at else None
    return ("close_seconds",)


def team_changed(incident):
    incident.team_changes += 1
    return ("team_changes",)


def escalated(incident):
    incident.escalation_count += 1
    return ("escalation_count",)
