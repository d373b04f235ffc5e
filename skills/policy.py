"""The one permission policy. Views, API, admin, templates and tasks all ask `can()`.

SFIA levels are cumulative: a person at level N may do everything of levels 1..N.
A procedure may raise or lower the level for an action (see `required_level`).
"""

from enum import StrEnum

from skills.models import Role


class Action(StrEnum):
    # Level 1 Follow
    VIEW = "view"
    REGISTER = "register"
    REGISTER_FOR_OTHERS = "register_for_others"  # name someone else as the reporter
    EDIT = "edit"  # categorise, add information
    ALLOCATE_TEAM = "allocate_team"  # to a team queue, while the incident is new
    VIEW_CONFIGURATION = "view_configuration"  # categories, services, teams, procedures
    # Level 2 Assist
    ACKNOWLEDGE = "acknowledge"
    ALLOCATE_PERSON = "allocate_person"
    START = "start"
    HOLD = "hold"
    RESUME = "resume"
    NOTE = "note"
    PUBLIC_UPDATE = "public_update"
    COMPLETE_TASK = "complete_task"
    # Level 3 Apply
    PRIORITISE = "prioritise"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    CLOSE = "close"
    CANCEL = "cancel"
    RECORD_DEADLINE = "record_deadline"
    # Level 4 Enable
    MONITOR_QUEUES = "monitor_queues"
    REASSIGN_TEAM = "reassign_team"  # move work that has begun to another team
    REOPEN = "reopen"
    DRAFT_PROCEDURE = "draft_procedure"
    MANAGE_CONFIGURATION = "manage_configuration"
    VIEW_OUTBOX = "view_outbox"
    OVERRIDE_CHECKLIST = "override_checklist"
    # Level 5 Ensure, advise
    PUBLISH_PROCEDURE = "publish_procedure"
    DECLARE_MAJOR = "declare_major"
    VIEW_REPORTS = "view_reports"
    SET_POLICY = "set_policy"  # calendars, the priority matrix, which procedure a category follows


LEVELS = {
    Action.VIEW: 1,
    Action.REGISTER: 1,
    Action.REGISTER_FOR_OTHERS: 1,
    Action.EDIT: 1,
    Action.ALLOCATE_TEAM: 1,
    Action.VIEW_CONFIGURATION: 1,
    Action.ACKNOWLEDGE: 2,
    Action.ALLOCATE_PERSON: 2,
    Action.START: 2,
    Action.HOLD: 2,
    Action.RESUME: 2,
    Action.NOTE: 2,
    Action.PUBLIC_UPDATE: 2,
    Action.COMPLETE_TASK: 2,
    Action.PRIORITISE: 3,
    Action.ESCALATE: 3,
    Action.RESOLVE: 3,
    Action.CLOSE: 3,
    Action.CANCEL: 3,
    Action.RECORD_DEADLINE: 3,
    Action.MONITOR_QUEUES: 4,
    Action.REASSIGN_TEAM: 4,
    Action.REOPEN: 4,
    Action.DRAFT_PROCEDURE: 4,
    Action.MANAGE_CONFIGURATION: 4,
    Action.VIEW_OUTBOX: 4,
    Action.OVERRIDE_CHECKLIST: 4,
    Action.PUBLISH_PROCEDURE: 5,
    Action.DECLARE_MAJOR: 5,
    Action.VIEW_REPORTS: 5,
    Action.SET_POLICY: 5,
}

# Actions that only read: a read-only API token may still do these.
READ_ACTIONS = frozenset(
    {Action.VIEW, Action.VIEW_CONFIGURATION, Action.MONITOR_QUEUES, Action.VIEW_OUTBOX, Action.VIEW_REPORTS}
)
# Actions people without an SFIA level may take: reporters report, integrations send alerts.
NON_STAFF_ACTIONS = {
    Role.REPORTER: frozenset({Action.VIEW, Action.REGISTER}),
    Role.INTEGRATION: frozenset({Action.VIEW, Action.REGISTER}),
    Role.STAKEHOLDER: frozenset({Action.VIEW}),
}


def level_of(actor):
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return None
    return actor.sfia_level if actor.role == Role.STAFF else None


def team_ids(actor):
    """The ids of the actor's teams, read once per actor object (per request)."""
    cached = getattr(actor, "_team_ids", None)
    if cached is None:
        cached = frozenset(actor.teams.values_list("id", flat=True))
        actor._team_ids = cached
    return cached


def is_security_responder(actor):
    cached = getattr(actor, "_is_security_responder", None)
    if cached is None:
        from skills.models import Team

        level = level_of(actor)
        cached = level is not None and (
            level >= 5 or Team.objects.filter(is_security=True, members=actor).exists()
        )
        actor._is_security_responder = cached
    return cached


def required_level(action, obj=None):
    """The minimum SFIA level for `action` on `obj`: the procedure's own level for it
    where the incident's procedure version sets one, else DESIGN.md's table."""
    overrides = getattr(getattr(obj, "procedure_version", None), "action_levels", None) or {}
    return overrides.get(str(action), LEVELS[action])


def can_see_incident(actor, incident):
    if incident.is_security and not is_security_responder(actor):
        return False
    if level_of(actor) is not None:
        return True
    if actor.role in (Role.REPORTER, Role.INTEGRATION):
        return actor.pk in (incident.reporter_id, incident.created_by_id)
    if actor.role == Role.STAKEHOLDER:
        service = incident.service
        return actor.pk == incident.reporter_id or (service is not None and service.owner_id == actor.pk)
    return False


def can(actor, action, obj=None):
    """May `actor` do `action` (to `obj`, when given)? The one answer for every caller."""
    action = Action(action)
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    scope = getattr(actor, "token_scope", None)
    if scope == "read" and action not in READ_ACTIONS:
        return False
    if obj is not None and _is_incident(obj) and not can_see_incident(actor, obj):
        return False
    level = level_of(actor)
    if level is None:
        allowed = NON_STAFF_ACTIONS.get(actor.role, frozenset())
        return action in allowed
    return level >= required_level(action, obj)


def why_not(actor, action, obj=None):
    """A sentence for a 403 that names the refused action."""
    action = Action(action)
    label = action.value.replace("_", " ")
    if getattr(actor, "token_scope", None) == "read" and action not in READ_ACTIONS:
        return f"You may not {label}: this API token is read-only."
    needed = required_level(action, obj)
    return f"You may not {label} here: it needs SFIA level {needed} or higher."


def _is_incident(obj):
    return obj._meta.label == "incidents.Incident"
