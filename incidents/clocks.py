"""The state of an incident's SLA clocks: running, warning, breached, met or paused."""

from incidents.models import Status

RUNNING, WARNING, BREACHED, MET, PAUSED = "running", "warning", "breached", "met", "paused"


def response_clock(incident, now):
    if incident.acknowledged_at is not None:
        return BREACHED if incident.response_breached or incident.acknowledged_at > incident.response_due_at else MET
    return _open_clock(incident, now, incident.response_due_at, incident.response_warn_at, incident.response_breached)


def resolution_clock(incident, now):
    if incident.resolved_at is not None or incident.status in (Status.CLOSED, Status.CANCELLED):
        return BREACHED if incident.resolution_breached else MET
    return _open_clock(incident, now, incident.resolve_due_at, incident.resolve_warn_at, incident.resolution_breached)


def _open_clock(incident, now, due_at, warn_at, breached):
    if breached:
        return BREACHED
    if incident.status == Status.ON_HOLD:
        return PAUSED
    if incident.status == Status.CANCELLED:
        return MET
    if now >= due_at:
        return BREACHED
    if now >= warn_at:
        return WARNING
    return RUNNING
