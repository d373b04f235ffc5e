"""What each API action needs, written from DESIGN.md and API.md (not from the code):
the policy action it is judged by, the states it is allowed from, and a valid body."""

from dataclasses import dataclass, field

from incidents.models import Status
from skills.policy import Action

OPEN = {Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD}
ALL = set(Status)


@dataclass(frozen=True)
class Spec:
    name: str  # URL part, or "PATCH"
    action: Action
    allowed_from: frozenset
    ready_state: str  # a state from which the action succeeds
    body: dict = field(default_factory=dict)


# Slugs and usernames are those of the `world` fixture (tests/conftest.py).
SPECS = [
    Spec("PATCH", Action.EDIT, OPEN, Status.NEW, {"title": "Printer smoking"}),
    Spec("assign", Action.ALLOCATE_TEAM, OPEN, Status.NEW, {"team": "applications"}),
    Spec("assign", Action.ALLOCATE_PERSON, OPEN, Status.NEW, {"assignee": "colleague"}),
    Spec("assign", Action.REASSIGN_TEAM, OPEN, Status.IN_PROGRESS, {"team": "applications"}),
    Spec("acknowledge", Action.ACKNOWLEDGE, {Status.NEW, Status.ASSIGNED}, Status.NEW),
    Spec("start", Action.START, {Status.NEW, Status.ASSIGNED}, Status.ASSIGNED),
    Spec("hold", Action.HOLD, {Status.IN_PROGRESS}, Status.IN_PROGRESS, {"reason": "Waiting for the user"}),
    Spec("resume", Action.RESUME, {Status.ON_HOLD}, Status.ON_HOLD),
    Spec("notes", Action.NOTE, ALL, Status.IN_PROGRESS, {"body": "Checked the toner"}),
    Spec("updates", Action.PUBLIC_UPDATE, OPEN | {Status.RESOLVED}, Status.IN_PROGRESS, {"body": "Engineer on the way"}),
    Spec("prioritise", Action.PRIORITISE, OPEN, Status.IN_PROGRESS, {"priority": 1, "reason": "CEO's printer"}),
    Spec("escalate", Action.ESCALATE, OPEN, Status.IN_PROGRESS, {"reason": "Needs a senior engineer"}),
    Spec("resolve", Action.RESOLVE, {Status.IN_PROGRESS, Status.ON_HOLD}, Status.IN_PROGRESS,
         {"resolution_code": "fixed", "resolution_notes": "Replaced the fuser", "cause": "Worn fuser"}),
    Spec("close", Action.CLOSE, {Status.RESOLVED}, Status.RESOLVED),
    Spec("cancel", Action.CANCEL, OPEN, Status.NEW, {"reason": "Duplicate of INC-000001"}),
    Spec("reopen", Action.REOPEN, {Status.RESOLVED}, Status.RESOLVED, {"reason": "Still smoking"}),
    Spec("declare-major", Action.DECLARE_MAJOR, OPEN, Status.IN_PROGRESS, {"reason": "All printers down"}),
    Spec("publish", Action.PUBLISH_STATUS, OPEN | {Status.RESOLVED}, Status.IN_PROGRESS,
         {"public": False, "public_title": "Printing trouble"}),
]  # fmt: skip
IDS = [f"{spec.name}:{spec.action}" for spec in SPECS]
