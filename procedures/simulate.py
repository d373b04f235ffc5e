"""The dry run: what a procedure would do with a sample incident arriving at a given
moment, if nobody touched it. It reads, computes and answers; it writes nothing.

It walks the same timers in the same order as the engine (`incidents.engine`): the SLA
warnings and breaches, the escalation steps, the named deadlines; each step is described
by `procedures.escalation`, so the messages it predicts are the ones the engine sends."""


from django.utils import timezone

from procedures import escalation
from procedures.models import ProcedureVersion
from procedures.priority import priority_for
from procedures.routing import route
from procedures.selectors import priority_matrix
from procedures.sla import sla_times
from skills.errors import Forbidden
from skills.models import Team
from skills.policy import Action, can, why_not


def version_to_test(procedure):
    """The draft if there is one, else the published version."""
    versions = ProcedureVersion.objects.select_related("team", "calendar", "procedure").filter(procedure=procedure)
    return (
        versions.filter(state=ProcedureVersion.State.DRAFT).first()
        or versions.filter(state=ProcedureVersion.State.PUBLISHED).first()
    )


def _emails(people):
    return [p.email for p in people if p.email]


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
    team = version.team if decision.team_slug == version.team.slug else Team.objects.get(slug=decision.team_slug)
    title = sample.get("title") or "(sample incident)"

    security = version.is_security
    steps = escalation.steps(version.escalation)
    anchors = {"created": at, "response_due": times.response_due_at, "resolve_due": times.resolve_due_at}
    # The timers in the engine's order: by time; at one moment the clocks, then the steps.
    timers = []
    for order, (clock, warn_at, due_at) in enumerate((
        ("response", times.response_warn_at, times.response_due_at),
        ("resolution", times.resolve_warn_at, times.resolve_due_at),
    )):  # fmt: skip
        if warn_at < due_at:
            timers.append((warn_at, order, "warning", clock))
    for step in steps:
        timers.append((step.due_at(version.calendar, anchors), 2 + step.index, "step", step))
    deadlines = []
    for item in version.deadlines:
        due_at, remind_at = escalation.deadline_times(at, item["after"])
        deadlines.append({"name": item["name"], "due_at": due_at})
        if remind_at < due_at:
            timers.append((remind_at, 1000, "deadline", (item["name"], False)))
        timers.append((due_at, 1000, "deadline", (item["name"], True)))
    timers.sort(key=lambda timer: (timer[0], timer[1]))

    level = 0
    holder = team
    plan, messages = [], []
    for when, _, kind, item in timers:
        if kind == "warning":
            people = escalation.team_people(holder, is_security=security)
            subject = escalation.warning_headline(item, title)
            messages += [{"at": when, "to": email, "subject": subject} for email in _emails(people)]
            continue
        if kind == "deadline":
            name, missed = item
            people = escalation.team_people(holder, is_security=security) + escalation.notify_people(
                {"min_level": 5}, is_security=security
            )
            subject = escalation.deadline_headline(name, missed=missed)
            messages += [{"at": when, "to": email, "subject": subject} for email in sorted(set(_emails(people)))]
            continue
        step = item
        targets, people = [], []
        if step.action == "notify":
            people = step.people(is_security=security)
            targets = [p.username for p in people] + (["the assignee"] if step.targets.get("assignee") else [])
            headline = step.headline(title)
        elif step.action == "raise_level":
            level += 1
            targets, headline = [f"escalation level {level}"], None
        elif step.handover_team:
            new_team = escalation.team_named(step.handover_team)
            targets, headline = [step.handover_team], None
            if new_team is not None and new_team.pk != holder.pk:
                holder = new_team
                people = escalation.team_people(new_team, is_security=security)
                headline = step.headline(title, team_name=new_team.name)
        else:
            targets, headline = [f"supplier: {step.targets['supplier']}"], None
        plan.append({"at": when, "action": step.action, "anchor": step.anchor, "targets": targets})
        if headline:
            messages += [{"at": when, "to": email, "subject": headline} for email in _emails(people)]

    messages.sort(key=lambda item: (item["at"], item["subject"], item["to"]))
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
        "escalation": plan,
        "tasks": [{"title": t["title"], "mandatory": t.get("mandatory", False)} for t in version.checklist],
        "deadlines": deadlines,
        "messages": messages,
        "restricted": version.is_security,
    }
