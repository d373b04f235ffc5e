"""Procedures in the browser: each procedure's version in force as readable tables, the
draft edited as forms (level 4), published (level 5), the history as a diff, and the dry
run drawn as a timeline. Thin: parse with a form, call a service, render."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from procedures import escalation, forms, services
from procedures.models import Procedure, ProcedureVersion
from procedures.simulate import procedure_simulate, version_to_test
from skills.errors import Conflict, Forbidden
from skills.http import post_only
from skills.policy import Action, can, why_not

FIELD_LABELS = {
    "team": "Team", "calendar": "Calendar", "sla_targets": "SLA targets", "escalation": "Escalation steps",
    "checklist": "Checklist", "action_levels": "Levels per action", "routing_rules": "Routing rules",
    "deadlines": "Deadlines", "warning_percent": "Warning share", "name": "Name", "version": "Version",
    "from_version": "Started from version",
}  # fmt: skip


def _need(person, action):
    if not can(person, action):
        raise PermissionDenied(why_not(person, action))


def _versions(procedure):
    versions = {v.state: v for v in procedure.versions.select_related("team", "calendar").exclude(state="retired")}
    return versions.get(ProcedureVersion.State.PUBLISHED), versions.get(ProcedureVersion.State.DRAFT)


def rule_text(rule):
    """A routing rule as a sentence: "If the category is network and the title or
    description mentions vpn: route to infrastructure and raise the impact to 1"."""
    conditions = []
    if rule.get("category"):
        conditions.append(f"the category is {rule['category']}")
    if rule.get("service"):
        conditions.append(f"the service is {rule['service']}")
    if rule.get("critical_service"):
        conditions.append("the service is critical")
    if rule.get("words"):
        conditions.append("the title or description mentions " + " or ".join(rule["words"]))
    if rule.get("channel"):
        conditions.append(f"it came by {rule['channel']}")
    results = []
    if rule.get("team"):
        results.append(f"route to {rule['team']}")
    if rule.get("impact"):
        results.append(f"raise the impact to {rule['impact']}")
    when = " and ".join(conditions) or "always"
    return f"If {when}: {' and '.join(results)}."


def version_view(version):
    """What a page shows of a version: SLA rows, rule sentences, step rows, tasks."""
    if version is None:
        return None
    return {
        "version": version,
        "targets": [
            (p, escalation.duration_text(version.sla_targets[str(p)]["response"]),
             escalation.duration_text(version.sla_targets[str(p)]["resolution"]))
            for p in forms.PRIORITIES
        ],
        "rules": [(rule["name"], rule_text(rule)) for rule in version.routing_rules],
        "steps": escalation.steps(version.escalation),
        "tasks": version.checklist,
        "deadlines": [(d["name"], escalation.duration_text(d["after"])) for d in version.deadlines],
    }  # fmt: skip


def _diff_rows(change):
    rows = []
    for field, values in (change.diff or {}).items():
        rows.append({
            "field": FIELD_LABELS.get(field, field.replace("_", " ")),
            "before": _show(field, values.get("before")),
            "after": _show(field, values.get("after")),
        })  # fmt: skip
    return rows


def _show(field, value):
    """A history value in words: durations, rules and steps readable, not JSON."""
    if value is None:
        return None
    if field == "sla_targets" and isinstance(value, dict):
        return [f"P{p}: respond in {escalation.duration_text(t['response'])}, resolve in {escalation.duration_text(t['resolution'])}"
                for p, t in sorted(value.items())]  # fmt: skip
    if field == "routing_rules" and isinstance(value, list):
        return [f"{r.get('name')}: {rule_text(r)}" for r in value]
    if field == "escalation" and isinstance(value, list):
        return [f"{s.when_text}: {s.action_text} {s.targets_text}".strip() for s in escalation.steps(value)]
    if field == "checklist" and isinstance(value, list):
        return [("(mandatory) " if t.get("mandatory") else "") + t["title"] for t in value]
    if isinstance(value, (list, dict)):
        return [str(value)]
    return [str(value)]


@login_required
def procedure_list(request):
    person = request.user
    _need(person, Action.VIEW_CONFIGURATION)
    procedures = Procedure.objects.order_by("name").prefetch_related("versions", "categories")
    rows = []
    for procedure in procedures:
        versions = {v.state: v for v in procedure.versions.all()}
        rows.append({"procedure": procedure, "published": versions.get("published"), "draft": versions.get("draft"),
                     "categories": [c.name for c in procedure.categories.all()]})  # fmt: skip
    return render(request, "procedures/list.html", {"rows": rows, "may_draft": can(person, Action.DRAFT_PROCEDURE)})


@login_required
def procedure_detail(request, slug):
    person = request.user
    _need(person, Action.VIEW_CONFIGURATION)
    procedure = get_object_or_404(Procedure, slug=slug)
    published, draft = _versions(procedure)
    changes = procedure.changes.select_related("actor", "version").order_by("-at", "-id")[:50]
    return render(request, "procedures/detail.html", {
        "procedure": procedure,
        "published": version_view(published),
        "draft": version_view(draft),
        "history": [{"change": c, "rows": _diff_rows(c)} for c in changes],
        "may_draft": can(person, Action.DRAFT_PROCEDURE),
        "may_publish": can(person, Action.PUBLISH_PROCEDURE),
    })  # fmt: skip


def _formsets(data, version):
    rules = forms.RuleFormSet(
        data, prefix="rules", initial=None if data else [forms.RuleForm.initial_for(r) for r in version.routing_rules]
    )
    steps = forms.StepFormSet(
        data, prefix="steps", initial=None if data else [forms.StepForm.initial_for(s) for s in version.escalation]
    )
    return rules, steps


@login_required
def procedure_edit(request, slug):
    """Edit the draft (made from the published version on the first save)."""
    person = request.user
    _need(person, Action.DRAFT_PROCEDURE)
    procedure = get_object_or_404(Procedure, slug=slug)
    version = version_to_test(procedure)
    data = request.POST if request.method == "POST" else None
    form = forms.VersionForm(data, version=version)
    rules, steps = _formsets(data, version)
    status = 200
    if data is not None:
        status = 400
        if form.is_valid() and rules.is_valid() and steps.is_valid():
            changes = {
                **form.changes(),
                "routing_rules": forms.rows_of(rules, "rule"),
                "escalation": forms.rows_of(steps, "step"),
            }
            try:
                services.procedure_edit(actor=person, procedure=procedure, **changes)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(None, [f"{FIELD_LABELS.get(field, field)}: {e}" for e in errors])
            except Forbidden as exc:
                messages.error(request, exc.message)
                status = 403
            else:
                messages.success(request, "Draft saved. Try it with the dry run, then publish it.")
                return redirect("procedures:detail", procedure.slug)
    return render(request, "procedures/edit.html", {
        "procedure": procedure, "version": version, "form": form, "rules": rules, "steps": steps,
    }, status=status)  # fmt: skip


@login_required
@post_only(lambda slug: reverse("procedures:detail", args=[slug]))
def procedure_publish(request, slug):
    person = request.user
    _need(person, Action.VIEW_CONFIGURATION)
    procedure = get_object_or_404(Procedure, slug=slug)
    try:
        services.procedure_publish(actor=person, procedure=procedure)
    except Forbidden as exc:
        messages.error(request, exc.message)
        return _detail_with(request, procedure, 403)
    except Conflict as exc:
        messages.error(request, exc.message)
        return _detail_with(request, procedure, 409)
    messages.success(request, "Published: new incidents follow this version; open ones keep theirs.")
    return redirect("procedures:detail", procedure.slug)


def _detail_with(request, procedure, status):
    response = procedure_detail(request, procedure.slug)
    response.status_code = status
    return response


def _timeline(result):
    """The dry run's answer as one list of moments, in time order."""
    events = [{"at": result["at"], "kind": "arrive", "text": f"Registered; routed to {result['team']} ({result['rule']}), P{result['priority']}."}]
    for clock, warn, due in (("Response", "response_warn_at", "response_due_at"), ("Resolution", "resolve_warn_at", "resolve_due_at")):
        events.append({"at": result[warn], "kind": "warning", "text": f"{clock} target turns to warning."})
        events.append({"at": result[due], "kind": "due", "text": f"{clock} target due."})
    for step in result["escalation"]:
        label = escalation.ACTION_LABELS.get(step["action"], step["action"])
        events.append({"at": step["at"], "kind": "step", "text": f"{label}: {', '.join(step['targets'])}."})
    for deadline in result["deadlines"]:
        events.append({"at": deadline["due_at"], "kind": "deadline", "text": f"Deadline: {deadline['name']}."})
    for message in result["messages"]:
        events.append({"at": message["at"], "kind": "message", "text": f"Email to {message['to']}: {message['subject']}"})
    order = {"arrive": 0, "warning": 1, "due": 2, "step": 3, "deadline": 4, "message": 5}
    return sorted(events, key=lambda e: (e["at"], order[e["kind"]]))


@login_required
def procedure_dry_run(request, slug):
    """ "Register this at Friday 17:55": what the draft (or the published version) would
    do, drawn as a timeline. Changes nothing."""
    person = request.user
    _need(person, Action.DRAFT_PROCEDURE)
    procedure = get_object_or_404(Procedure, slug=slug)
    form = forms.DryRunForm(request.GET or None, procedure=procedure)
    result = timeline = None
    status = 200
    if request.GET:
        if form.is_valid():
            sample, at = form.sample()
            result = procedure_simulate(actor=person, procedure=procedure, sample=sample, at=at)
            timeline = _timeline(result)
        else:
            status = 400
    return render(request, "procedures/dry_run.html", {
        "procedure": procedure, "form": form, "result": result, "timeline": timeline,
    }, status=status)  # fmt: skip
