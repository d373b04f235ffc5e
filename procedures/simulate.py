"""The dry run: what a procedure would do with a sample incident arriving at a given
moment. It reads, computes and answers; it writes nothing."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import Incident
from incidents.notify import escalation_people
from procedures.models import IncidentClass, ProcedureVersion
from procedures.priority import priority_for
from procedures.routing import route
from procedures.selectors import priority_matrix
from procedures.sla import add_working_time, sla_times
from servicedesk.errors import Forbidden
from skills.models import Team
from skills.policy import Action, can, why_not

ANCHOR_LABELS = {"created": "on arrival", "response_due": "the response target", "resolve_due": "the resolution target"}


def version_to_test(procedure):
    """The draft if there is one, else the published version."""
    versions = ProcedureVersion.objects.select_related("team", "calendar", "procedure").filter(procedure=procedure)
    return (
        versions.filter(state=ProcedureVersion.State.DRAFT).first()
        or versions.filter(state=ProcedureVersion.State.PUBLISHED).first()
    )


def procedure_simulate(*, actor, procedure, sample, at=None):
    if not can(actor, Action.DRAFT_PROCEDURE):
        raise Forbidden(why_not(actor, Action.DRAFT_PROCEDURE))
    at = at or timezone.now()
    version = version_to_test(procedure)
    category = sample.get("category") or procedure.categories.first()
    service = sample.get("service")
    decision = route(
        version, category=category, service=service, title=sample.get("title", ""),
        description=sample.get("description", ""), channel=sample.get("channel", "web"), impact=sample["impact"],
    )  # fmt: skip
    priority = priority_for(decision.impact, sample["urgency"], priority_matrix())
    times = sla_times(version, priority, at)
    anchors = {"created": at, "response_due": times.response_due_at, "resolve_due": times.resolve_due_at}
    team = version.team if decision.team_slug == version.team.slug else Team.objects.get(slug=decision.team_slug)
    title = sample.get("title") or "(sample incident)"

    # An unsaved stand-in, so that the dry run names exactly whom the engine would tell
    # (for a security procedure, only people who may see the incident).
    sample_incident = Incident(is_security=version.is_security, team=team)
    escalation, messages = [], []
    level = 0
    for step in version.escalation:
        when = add_working_time(version.calendar, anchors[step["anchor"]], step["after"])
        targets = []
        if step["action"] == "notify":
            people = escalation_people(sample_incident, step["targets"])
            targets = [p.username for p in people] + (["the assignee"] if step["targets"].get("assignee") else [])
            messages += [
                {"at": when, "to": p.email, "subject": f"Escalation ({ANCHOR_LABELS[step['anchor']]}): {title}"}
                for p in people
                if p.email
            ]
        elif step["action"] == "raise_level":
            level += 1
            targets = [f"escalation level {level}"]
        else:
            targets = [step["targets"].get("team") or f"supplier: {step['targets']['supplier']}"]
        escalation.append({"at": when, "action": step["action"], "anchor": step["anchor"], "targets": targets})
    if procedure.incident_class == IncidentClass.MAJOR and service is not None and service.owner is not None:
        messages.append({"at": at, "to": service.owner.email, "subject": f"Major incident: {title}"})
    escalation.sort(key=lambda item: item["at"])
    messages.sort(key=lambda item: item["at"])
    return {
        "procedure": procedure.slug,
        "version": version.number,
        "state": version.state,
        "at": at,
        "team": team.slug,
        "rule": decision.rule,
        "impact": decision.impact,
        "priority": priority,
        "calendar": version.calendar.slug,
        "response_due_at": times.response_due_at,
        "resolve_due_at": times.resolve_due_at,
        "response_warn_at": times.response_warn_at,
        "resolve_warn_at": times.resolve_warn_at,
        "escalation": escalation,
        "tasks": [{"title": t["title"], "mandatory": t.get("mandatory", False)} for t in version.checklist],
        "deadlines": [{"name": d["name"], "due_at": at + timedelta(seconds=d["after"])} for d in version.deadlines],
        "messages": messages,
        "restricted": version.is_security,
    }
