"""Changes to procedures and their configuration. Level 4 drafts, level 5 publishes; a
published version never changes, so an incident keeps the version it started under."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from procedures import validation
from procedures.defaults import defaults_for
from procedures.models import (
    Calendar,
    Category,
    IncidentClass,
    LabelRule,
    PriorityMatrix,
    Procedure,
    ProcedureChange,
    ProcedureVersion,
    Service,
)
from skills.config import config_save
from skills.errors import Conflict, Forbidden
from skills.models import Person, Role, Team
from skills.policy import Action, can, why_not

NO_DRAFT = "Procedure {slug!r} has no draft to publish."
VERSION_FIELDS = (
    "team", "calendar", "sla_targets", "escalation", "checklist", "action_levels",
    "routing_rules", "deadlines", "warning_percent",
)  # fmt: skip


def _require(actor, action, obj=None):
    if not can(actor, action, obj):
        raise Forbidden(why_not(actor, action, obj))


def _plain(name, value):
    if name in ("team", "calendar"):
        return value.slug
    return value


def clean_version_fields(changes, *, team):
    """Validate version fields (already resolved: team and calendar are objects)."""
    cleaned = dict(changes)
    teams = set(Team.objects.values_list("slug", flat=True))
    home = (cleaned.get("team") or team).slug
    if "sla_targets" in cleaned:
        cleaned["sla_targets"] = validation.clean_sla_targets(cleaned["sla_targets"])
    if "escalation" in cleaned:
        people = set(Person.objects.filter(role=Role.STAFF).values_list("username", flat=True))
        cleaned["escalation"] = validation.clean_escalation(cleaned["escalation"], home_team=home, teams=teams, people=people)
    if "checklist" in cleaned:
        cleaned["checklist"] = validation.clean_checklist(cleaned["checklist"])
    if "action_levels" in cleaned:
        cleaned["action_levels"] = validation.clean_action_levels(cleaned["action_levels"])
    if "routing_rules" in cleaned:
        cleaned["routing_rules"] = validation.clean_routing_rules(
            cleaned["routing_rules"], teams=teams,
            services=set(Service.objects.values_list("slug", flat=True)),
            categories=set(Category.objects.values_list("slug", flat=True)),
        )  # fmt: skip
    if "deadlines" in cleaned:
        cleaned["deadlines"] = validation.clean_deadlines(cleaned["deadlines"])
    if "warning_percent" in cleaned and not 1 <= int(cleaned["warning_percent"]) <= 99:
        raise ValidationError({"warning_percent": ["The warning share is 1 to 99 percent."]})
    return cleaned


def _record(procedure, version, actor, kind, now, diff=None):
    ProcedureChange.objects.create(procedure=procedure, version=version, actor=actor, at=now, kind=kind, diff=diff or {})


@transaction.atomic
def procedure_create(*, actor, slug, name, incident_class, team, calendar, now=None, **fields):
    """A new procedure whose first version is a draft, from its class's defaults."""
    now = now or timezone.now()
    _require(actor, Action.DRAFT_PROCEDURE)
    if Procedure.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [f"A procedure {slug!r} already exists."]})
    values = {**defaults_for(IncidentClass(incident_class)), **fields, "team": team, "calendar": calendar}
    values = clean_version_fields(values, team=team)
    procedure = Procedure.objects.create(slug=slug, name=name, incident_class=incident_class)
    version = ProcedureVersion.objects.create(procedure=procedure, number=1, created_by=actor, created_at=now, **values)
    _record(procedure, version, actor, ProcedureChange.Kind.CREATED, now, {k: {"after": _plain(k, v)} for k, v in values.items()})
    return procedure


def _lock_procedure(procedure):
    return Procedure.objects.select_for_update().get(pk=procedure.pk)


@transaction.atomic
def procedure_edit(*, actor, procedure, now=None, name=None, **changes):
    """Make or change the draft version. The published version stays in force."""
    now = now or timezone.now()
    procedure = _lock_procedure(procedure)
    _require(actor, Action.DRAFT_PROCEDURE)
    unknown = set(changes) - set(VERSION_FIELDS)
    if unknown:
        raise ValueError(f"not version fields: {', '.join(sorted(unknown))}")
    draft = procedure.versions.filter(state=ProcedureVersion.State.DRAFT).first()
    base = draft or procedure.versions.filter(state=ProcedureVersion.State.PUBLISHED).first()
    changes = clean_version_fields(changes, team=base.team)
    diff = {
        field: {"before": _plain(field, getattr(base, field)), "after": _plain(field, value)}
        for field, value in changes.items()
        if getattr(base, field) != value
    }
    if name is not None and name != procedure.name:
        diff["name"] = {"before": procedure.name, "after": name}
        procedure.name = name
        procedure.save(update_fields=["name"])
    if not diff:
        return procedure
    if draft is None:
        number = (procedure.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        draft = ProcedureVersion.objects.create(
            procedure=procedure, number=number, state=ProcedureVersion.State.DRAFT, created_by=actor, created_at=now,
            **{field: getattr(base, field) for field in VERSION_FIELDS},
        )  # fmt: skip
        _record(procedure, draft, actor, ProcedureChange.Kind.DRAFTED, now, {"from_version": {"after": base.number}})
    for field, value in changes.items():
        setattr(draft, field, value)
    draft.save()
    _record(procedure, draft, actor, ProcedureChange.Kind.EDITED, now, diff)
    return procedure


@transaction.atomic
def procedure_publish(*, actor, procedure, now=None):
    now = now or timezone.now()
    procedure = _lock_procedure(procedure)
    _require(actor, Action.PUBLISH_PROCEDURE)
    draft = procedure.versions.filter(state=ProcedureVersion.State.DRAFT).first()
    if draft is None:
        raise Conflict(NO_DRAFT.format(slug=procedure.slug))
    procedure.versions.filter(state=ProcedureVersion.State.PUBLISHED).update(state=ProcedureVersion.State.RETIRED)
    draft.state, draft.published_by, draft.published_at = ProcedureVersion.State.PUBLISHED, actor, now
    draft.save(update_fields=["state", "published_by", "published_at"])
    _record(procedure, draft, actor, ProcedureChange.Kind.PUBLISHED, now, {"version": {"after": draft.number}})
    return procedure


# --- configuration ------------------------------------------------------------------------


def category_save(*, actor, category=None, **values):
    """Create or change a category. Pointing an existing category at another procedure
    changes what is in force, so it is a level 5 decision."""
    _require(actor, Action.MANAGE_CONFIGURATION)

    def check(row):
        if row.pk is not None and "procedure" in values and values["procedure"].pk != row.procedure_id:
            _require(actor, Action.SET_POLICY)

    return config_save(Category, instance=category, values=values, check=check)


def service_save(*, actor, service=None, **values):
    _require(actor, Action.MANAGE_CONFIGURATION)
    return config_save(Service, instance=service, values=values)


def calendar_save(*, actor, calendar=None, **values):
    """Calendars decide every SLA on them: level 5."""
    _require(actor, Action.SET_POLICY)
    return config_save(Calendar, instance=calendar, values=values)


@transaction.atomic
def priority_matrix_set(*, actor, matrix, now=None):
    _require(actor, Action.SET_POLICY)
    matrix = validation.clean_priority_matrix(matrix)
    current = PriorityMatrix.objects.select_for_update().order_by("pk").first()
    values = {"matrix": matrix, "updated_by": actor, "updated_at": now or timezone.now()}
    return config_save(PriorityMatrix, instance=current, values=values)


def label_rule_save(*, actor, label_rule=None, **values):
    """Create or change a label rule for inbound alerts: level 4, like routing."""
    _require(actor, Action.MANAGE_CONFIGURATION)
    return config_save(LabelRule, instance=label_rule, values=values)
