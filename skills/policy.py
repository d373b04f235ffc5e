"""The one permission policy. Views, API, admin, templates and tasks all ask `can()`.

SFIA levels are cumulative: a person at level N may do everything of levels 1..N.
A procedure may raise or lower the level for an action (see `required_level`).
"""

import operator
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce

from django.db.models import Exists, OuterRef, Q

from skills.models import Person, Role


class Action(StrEnum):
    # Level 1 Follow
    VIEW = "view"
    REGISTER = "register"
    REGISTER_FOR_OTHERS = "register_for_others"  # name someone else as the reporter
    EDIT = "edit"  # categorise, add information
    ALLOCATE_TEAM = "allocate_team"  # to a team queue, while the incident is new
    VIEW_CONFIGURATION = "view_configuration"  # categories, services, teams, procedures
    ADD_AFFECTED = "add_affected"  # "this is the same": add a person as affected
    COMMENT = "comment"  # a requester's reply, public on the timeline
    ATTACH = "attach"  # add a file (its reporter may too)
    WATCH = "watch"  # follow (or stop following) an incident's public progress
    # Level 2 Assist
    LINK = "link"  # link related incidents
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
    PUBLISH_STATUS = "publish_status"  # show an incident on the public status page
    # Level 4 Enable
    MONITOR_QUEUES = "monitor_queues"
    REASSIGN_TEAM = "reassign_team"  # move work that has begun to another team
    REOPEN = "reopen"
    CONFIRM_RESOLUTION = "confirm_resolution"  # confirm it, or say it is not fixed (reopen)
    DRAFT_PROCEDURE = "draft_procedure"
    MANAGE_CONFIGURATION = "manage_configuration"
    MANAGE_MAINTENANCE = "manage_maintenance"  # announce, edit, cancel maintenance windows on the status page
    VIEW_OUTBOX = "view_outbox"
    RETRY_DELIVERY = "retry_delivery"  # try a message that failed for good once more
    OVERRIDE_CHECKLIST = "override_checklist"
    VIEW_METRICS = "view_metrics"  # the metrics of one's own teams (level 5: of everyone)
    # Level 5 Ensure, advise
    PUBLISH_PROCEDURE = "publish_procedure"
    DECLARE_MAJOR = "declare_major"
    VIEW_REPORTS = "view_reports"
    LEAD_REVIEW = "lead_review"  # open, write up and close reviews of (major) incidents
    SET_POLICY = "set_policy"  # calendars, the priority matrix, which procedure a category follows
    MANAGE_PEOPLE = "manage_people"  # create people, set levels, teams, roles; deactivate; reset passwords
    # Integration accounts only
    INGEST = "ingest"  # monitoring alerts and events: open, repeat, acknowledge, resolve


LEVELS = {
    Action.VIEW: 1,
    Action.REGISTER: 1,
    Action.REGISTER_FOR_OTHERS: 1,
    Action.EDIT: 1,
    Action.ALLOCATE_TEAM: 1,
    Action.VIEW_CONFIGURATION: 1,
    Action.ADD_AFFECTED: 1,
    Action.COMMENT: 1,
    Action.ATTACH: 1,
    Action.WATCH: 1,
    Action.ACKNOWLEDGE: 2,
    Action.LINK: 2,
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
    Action.PUBLISH_STATUS: 3,
    Action.MONITOR_QUEUES: 4,
    Action.REASSIGN_TEAM: 4,
    Action.REOPEN: 4,
    Action.CONFIRM_RESOLUTION: 4,
    Action.DRAFT_PROCEDURE: 4,
    Action.MANAGE_CONFIGURATION: 4,
    Action.MANAGE_MAINTENANCE: 4,
    Action.VIEW_OUTBOX: 4,
    Action.RETRY_DELIVERY: 4,
    Action.OVERRIDE_CHECKLIST: 4,
    Action.VIEW_METRICS: 4,
    Action.PUBLISH_PROCEDURE: 5,
    Action.DECLARE_MAJOR: 5,
    Action.VIEW_REPORTS: 5,
    Action.LEAD_REVIEW: 5,
    Action.SET_POLICY: 5,
    Action.MANAGE_PEOPLE: 5,
    Action.INGEST: 5,  # and integration accounts only: see INTEGRATION_ONLY
}
# Actions only integration accounts take: a person of any level is refused (a monitor's
# token, not a person's, speaks for a monitor).
INTEGRATION_ONLY = frozenset({Action.INGEST})

# Actions that only read: a read-only API token may still do these, and nothing else
# (watching, however small, is a write).
READ_ACTIONS = frozenset(
    {
        Action.VIEW, Action.VIEW_CONFIGURATION, Action.MONITOR_QUEUES, Action.VIEW_OUTBOX, Action.VIEW_METRICS,
        Action.VIEW_REPORTS,
    }
)
# Actions people without an SFIA level may take: reporters report, integrations send alerts.
NON_STAFF_ACTIONS = {
    Role.REPORTER: frozenset({Action.VIEW, Action.WATCH, Action.REGISTER, Action.ADD_AFFECTED}),
    Role.INTEGRATION: frozenset({Action.VIEW, Action.WATCH, Action.REGISTER, Action.INGEST}),
    Role.STAKEHOLDER: frozenset({Action.VIEW, Action.WATCH}),
}
# Actions a requester may take on an incident they reported (whatever their role); the
# service checks the reopening window.
OWN_INCIDENT_ACTIONS = frozenset({Action.COMMENT, Action.ATTACH, Action.CONFIRM_RESOLUTION})


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


# Who sees security incidents: the security incident response team and level 5. The one
# definition, used for a person (`is_security_responder`) and for a set of people.
SECURITY_RESPONDERS = Q(sfia_level__gte=5) | Q(teams__is_security=True)


def is_security_responder(actor):
    cached = getattr(actor, "_is_security_responder", None)
    if cached is None:
        flag = getattr(actor, "security_responder", None)  # read with the person: see below
        if flag is None:
            flag = Person.objects.filter(SECURITY_RESPONDERS, pk=actor.pk).exists()
        cached = level_of(actor) is not None and flag
        actor._is_security_responder = cached
    return cached


def with_security_responder(people, person_field="pk"):
    """`people` (a queryset) with `security_responder` read in the same query: a request's
    person is loaded that way (skills.backends, skills.selectors.token_authenticate), so
    that asking `is_security_responder` of them costs no query of its own."""
    return people.annotate(
        security_responder=Exists(Person.objects.filter(SECURITY_RESPONDERS, pk=OuterRef(person_field)))
    )


def staff_who_may_see(people, *, is_security):
    """The active staff among `people` (a Person queryset) who may see an incident."""
    staff = people.filter(role=Role.STAFF, is_active=True)
    if is_security:
        staff = staff.filter(pk__in=Person.objects.filter(SECURITY_RESPONDERS).values("pk"))
    return staff.distinct()


def people_who_may_see(incident):
    """A Q on Person: the people `incident_visibility` lets see `incident`, the same rule
    as `can_see_incident` asked of each, for a whole audience in one query."""
    staff = Q(role=Role.STAFF, sfia_level__isnull=False)
    if incident.is_security:  # only the response team and level 5; nobody without a level
        return Q(is_active=True) & staff & Q(pk__in=Person.objects.filter(SECURITY_RESPONDERS).values("pk"))
    own = Q(role__in=[Role.REPORTER, Role.INTEGRATION]) & (Q(pk=incident.reporter_id) | Q(pk=incident.created_by_id))
    stakeholder = Q(role=Role.STAKEHOLDER) & Q(pk=incident.reporter_id)
    if incident.service_id is not None:
        stakeholder |= Q(role=Role.STAKEHOLDER, owned_services__pk=incident.service_id)
    return Q(is_active=True) & (staff | own | stakeholder)


@dataclass(frozen=True)
class Visibility:
    """Which incidents a person may see, as data: any one of `clauses`, each a set of
    field paths (Django lookups such as `service__owner_id`) and the values they must
    have. The queryset filter and the per-object check are both read from it, so the
    list and the page can never disagree about an incident."""

    clauses: tuple  # of tuples of (path, value); () sees nothing, ((),) sees everything

    def q(self):
        if not self.clauses:
            return Q(pk__in=[])
        return reduce(operator.or_, (Q(*clause) for clause in self.clauses))

    def allows(self, obj):
        return any(all(_follow(obj, path) == value for path, value in clause) for clause in self.clauses)


def _follow(obj, path):
    for part in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, part)
    return obj


def incident_visibility(actor):
    """Who may see which incidents: staff see all but security incidents, which only the
    security incident response team and level 5 see; reporters and integrations see what
    they reported or created; stakeholders what they reported and their services'."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return Visibility(())
    wall = () if is_security_responder(actor) else (("is_security", False),)
    if level_of(actor) is not None:
        return Visibility((wall,))
    if actor.role == Role.STAKEHOLDER:
        own = (("reporter_id", actor.pk),), (("service__owner_id", actor.pk),)
    elif actor.role in (Role.REPORTER, Role.INTEGRATION):
        own = (("reporter_id", actor.pk),), (("created_by_id", actor.pk),)
    else:
        return Visibility(())
    return Visibility(tuple(wall + clause for clause in own))


def required_level(action, obj=None):
    """The minimum SFIA level for `action` on `obj`: the procedure's own level for it
    where the incident's procedure version sets one, else DESIGN.md's table."""
    overrides = getattr(getattr(obj, "procedure_version", None), "action_levels", None) or {}
    return overrides.get(str(action), LEVELS[action])


def can_see_incident(actor, incident):
    return incident_visibility(actor).allows(incident)


def is_read_only(actor):
    """Does `actor` act through a read-only API token? Such a person may only read."""
    return getattr(actor, "token_scope", None) == "read"


def may_write(actor):
    """May `actor` change anything at all (rules that depend on who one is, such as a
    review action's owner or an incident's communications lead, ask this as well)."""
    return actor is not None and actor.is_authenticated and actor.is_active and not is_read_only(actor)


def can(actor, action, obj=None):
    """May `actor` do `action` (to `obj`, when given)? The one answer for every caller."""
    action = Action(action)
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if is_read_only(actor) and action not in READ_ACTIONS:
        return False
    if obj is not None and _is_incident(obj) and not can_see_incident(actor, obj):
        return False
    if action in INTEGRATION_ONLY and actor.role != Role.INTEGRATION:
        return False
    if action in OWN_INCIDENT_ACTIONS and obj is not None and _is_incident(obj) and obj.reporter_id == actor.pk:
        return True
    level = level_of(actor)
    if level is None:
        allowed = NON_STAFF_ACTIONS.get(actor.role, frozenset())
        return action in allowed and action not in OWN_INCIDENT_ACTIONS
    return level >= required_level(action, obj)


# --- people management ------------------------------------------------------------------------

# Account fields only a superuser sees or changes: whoever holds them holds everything.
SUPERUSER_FIELDS = ("is_superuser", "groups", "user_permissions")
SUPERUSER_ACCOUNT = "Only a superuser may change a superuser's account."
SUPERUSER_FIELD = "Only a superuser may change superuser status, groups or permissions."
OWN_LEVEL = "Nobody may raise their own level: ask another level 5 person."
ABOVE_OWN = "You may not grant a level above your own ({level})."
OWN_ACCOUNT_OFF = "You may not deactivate your own account."


def is_superuser(actor):
    return actor is not None and actor.is_authenticated and actor.is_active and actor.is_superuser


def may_manage_people(actor):
    """May `actor` open people management at all (superusers and `manage_people`)?"""
    return not is_read_only(actor) and (is_superuser(actor) or can(actor, Action.MANAGE_PEOPLE))


def _rank(account):
    """An account's SFIA level for "raising" (0 without one)."""
    if account is None or account.get("role") != Role.STAFF or not account.get("is_active", True):
        return 0
    return account.get("sfia_level") or 0


def person_change_refused(actor, person, before, after):
    """Why `actor` may not take `person`'s account from `before` to `after` (dicts of the
    account's fields as `skills.services.account_of` makes them; `before` None for a new
    person), or None when they may. The one rule for the admin, the commands and any other
    entry point: managers are level 5 (or superusers); only superusers see or touch
    superusers' accounts and superuser status, groups and permissions; nobody raises their
    own level, or grants a level above their own."""
    if not may_manage_people(actor):
        return why_not(actor, Action.MANAGE_PEOPLE)
    superuser = is_superuser(actor)
    if not superuser:
        if before is not None and before.get("is_superuser"):
            return SUPERUSER_ACCOUNT
        for field in SUPERUSER_FIELDS:
            if (after.get(field) or None) != ((before or {}).get(field) or None):
                return SUPERUSER_FIELD
    own = person is not None and person.pk == actor.pk
    if own and _rank(after) > _rank(before):
        return OWN_LEVEL
    level = after.get("sfia_level") if after.get("role") == Role.STAFF else None
    if not superuser and level is not None and level > (level_of(actor) or 0):
        if before is None or level != before.get("sfia_level") or before.get("role") != Role.STAFF:
            return ABOVE_OWN.format(level=level_of(actor))
    if own and before is not None and before.get("is_active") and not after.get("is_active", True):
        return OWN_ACCOUNT_OFF
    return None


def password_set_refused(actor, person):
    """Why `actor` may not set `person`'s password, or None. Everyone may set their own;
    managers set others' (never a superuser's unless a superuser)."""
    if person.pk == getattr(actor, "pk", None) and actor.is_active and not is_read_only(actor):
        return None
    if not may_manage_people(actor):
        return why_not(actor, Action.MANAGE_PEOPLE)
    if person.is_superuser and not is_superuser(actor):
        return SUPERUSER_ACCOUNT
    return None


def may_add_reporter_by_email(actor):
    """May mail handed in by `actor` create a reporter account for an unknown sender? The
    mail commands (`actor` None: whoever runs manage.py holds the database already) and
    integration accounts that may ingest (the email endpoint's token)."""
    return actor is None or can(actor, Action.INGEST)


def why_not(actor, action, obj=None):
    """A sentence for a 403 that names the refused action."""
    action = Action(action)
    label = action.value.replace("_", " ")
    if is_read_only(actor) and action not in READ_ACTIONS:
        return f"You may not {label}: this API token is read-only."
    if action in INTEGRATION_ONLY:
        return f"You may not {label}: only integration accounts may."
    needed = required_level(action, obj)
    if action in OWN_INCIDENT_ACTIONS:
        return f"You may not {label} here: only its reporter, or SFIA level {needed} or higher."
    return f"You may not {label} here: it needs SFIA level {needed} or higher."


def _is_incident(obj):
    return obj._meta.label == "incidents.Incident"
