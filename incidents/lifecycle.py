"""Which states each action may start from: the one table the services guard with and
the pages read to decide which buttons to offer."""

from incidents.models import OPEN_STATUSES, Status

OPEN = frozenset(OPEN_STATUSES)
STATES = {
    "edit": OPEN,
    "assign": OPEN,
    "acknowledge": OPEN,
    "start": frozenset({Status.NEW, Status.ASSIGNED}),
    "hold": frozenset({Status.IN_PROGRESS}),
    "resume": frozenset({Status.ON_HOLD}),
    "prioritise": OPEN,
    "escalate": OPEN,
    "resolve": frozenset({Status.IN_PROGRESS, Status.ON_HOLD}),
    "close": frozenset({Status.RESOLVED}),
    "reopen": frozenset({Status.RESOLVED}),
    "cancel": OPEN,
    "declare-major": OPEN,
    "notes": frozenset(Status),
    "updates": OPEN | {Status.RESOLVED},
    "complete-task": OPEN | {Status.RESOLVED},
    "link": frozenset(Status),
    "add-affected": OPEN,
    "comment": OPEN | {Status.RESOLVED},
    "attach": OPEN | {Status.RESOLVED},
    "confirm": frozenset({Status.RESOLVED}),
    # A monitor resolves what it opened only while nobody has taken it over.
    "source-resolve": frozenset({Status.NEW}),
    "publish": OPEN | {Status.RESOLVED},
}


def allows(name, incident):
    """Would the incident's state let `name` go ahead? (The policy is asked separately.)"""
    if incident.status not in STATES[name]:
        return False
    if name == "acknowledge":
        return incident.acknowledged_at is None
    if name == "declare-major":
        return not incident.is_major
    return True


def hand_over(incident, team):
    """Give the incident to another team's queue: its person is cleared, and an assigned
    incident is new again there. Returns the fields changed."""
    incident.team, incident.assignee = team, None
    if incident.status == Status.ASSIGNED:
        incident.status = Status.NEW
    return ["team", "assignee", "status"]
