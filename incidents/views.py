"""The browser UI for incidents: thin. Parse with a form, read with a selector, change with a
service, ask `can` every permission question, render."""

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents import forms, lifecycle, services
from incidents.filters import IncidentFilter
from incidents.models import Channel, Status
from incidents.selectors import access_incident, incidents_visible_to, timeline_for
from servicedesk.errors import Conflict, Forbidden
from skills.policy import Action, can, level_of, why_not
from skills.selectors import staff_in_team

PAGE_SIZE = 25
DUE_SOON = timedelta(hours=1)


# --- the queue ---------------------------------------------------------------------------


def _parse_cursor(raw):
    """`before=<created_at ISO 8601>,<id>`: the last row of the previous page, or None."""
    if not raw:
        return None
    at, _, pk = raw.rpartition(",")
    try:
        at, pk = parse_datetime(at), int(pk)
    except ValueError:
        return None
    return (at, pk) if at is not None and timezone.is_aware(at) else None


def _sla_marks(incident, now):
    """How each SLA clock looks on screen: breached (marked), overdue (passed, not yet
    marked by the sweep), soon, paused, met, or blank."""

    def running(due):
        if due <= now:
            return "overdue"
        return "soon" if due - now <= DUE_SOON else ""

    if incident.response_breached:
        response = "breached"
    elif incident.acknowledged_at is not None:
        response = "met"
    elif incident.is_open:
        response = running(incident.response_due_at)
    else:
        response = ""
    if incident.resolution_breached:
        resolution = "breached"
    elif incident.resolved_at is not None:
        resolution = "met"
    elif incident.status == Status.ON_HOLD:
        resolution = "paused"  # the due time moves on when work resumes
    elif incident.is_open:
        resolution = running(incident.resolve_due_at)
    else:
        resolution = ""
    return {"response": response, "resolution": resolution}


@login_required
def queue(request):
    """The incidents the person may see, newest first, one keyset page at a time."""
    person = request.user
    form = forms.QueueFilterForm(request.GET)
    form.is_valid()  # invalid filters are shown with their errors and left out
    filterset = IncidentFilter(form.filter_data(person), queryset=incidents_visible_to(person))
    incidents = filterset.qs
    cursor = _parse_cursor(request.GET.get("before"))
    if cursor is not None:
        at, pk = cursor
        incidents = incidents.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    rows = list(incidents.order_by("-created_at", "-pk")[: PAGE_SIZE + 1])
    has_more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    now = timezone.now()
    for incident in rows:
        incident.marks = _sla_marks(incident, now)
    last = rows[-1] if rows else None
    context = {
        "form": form,
        "incidents": rows,
        "next_cursor": f"{last.created_at.isoformat()},{last.pk}" if has_more else None,
        "is_first_page": cursor is None,
        "may_register": can(person, Action.REGISTER),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "incidents/_queue_results.html" if partial else "incidents/queue.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- registration --------------------------------------------------------------------------


def _add_service_errors(form, exc):
    """Put a service's ValidationError on the form, by field where the form has it."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        form.add_error(field if field in form.fields else None, field_messages)


@login_required
def register(request):
    person = request.user
    if not can(person, Action.REGISTER):
        raise PermissionDenied(why_not(person, Action.REGISTER))
    # Staff may register on someone's behalf; the service refuses anyone else.
    data = request.POST if request.method == "POST" else None
    form = forms.IncidentRegisterForm(data, may_name_reporter=can(person, Action.REGISTER_FOR_OTHERS))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                incident = services.incident_register(actor=person, channel=Channel.WEB, **form.service_kwargs())
            except ValidationError as exc:
                _add_service_errors(form, exc)
            except Forbidden as exc:
                messages.error(request, exc.message)
                status = 403
            else:
                messages.success(request, f"{incident.reference} registered.")
                if can(person, Action.VIEW, incident):
                    return redirect(incident)
                # A security incident goes to the response team, out of the reporter's sight.
                return redirect("incidents:queue")
    return render(request, "incidents/register.html", {"form": form}, status=status)


# --- one incident ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentAction:
    """A POST /incidents/<reference>/<name>/ form. The button is offered only where the
    incident's state lets the action go ahead (`incidents.lifecycle`, the table the
    services guard with); the service still decides and says 409."""

    name: str
    label: str
    policy: Action
    service: object
    form: type
    danger: bool = False

    def is_offered(self, incident):
        return lifecycle.allows(self.name, incident)


ACTIONS = {
    action.name: action
    for action in [
        IncidentAction("acknowledge", "Acknowledge", Action.ACKNOWLEDGE, services.incident_acknowledge,
                       forms.EmptyForm),
        IncidentAction("start", "Start work", Action.START, services.incident_start, forms.EmptyForm),
        IncidentAction("resume", "Resume work", Action.RESUME, services.incident_resume, forms.EmptyForm),
        IncidentAction("close", "Close", Action.CLOSE, services.incident_close, forms.CloseForm),
        IncidentAction("assign", "Assign", Action.ALLOCATE_TEAM, services.incident_assign, forms.AssignForm),
        IncidentAction("notes", "Add a work note", Action.NOTE, services.incident_add_note, forms.BodyForm),
        IncidentAction("updates", "Post a public update", Action.PUBLIC_UPDATE,
                       services.incident_add_public_update, forms.BodyForm),
        IncidentAction("hold", "Put on hold", Action.HOLD, services.incident_hold, forms.ReasonForm),
        IncidentAction("prioritise", "Change priority", Action.PRIORITISE, services.incident_prioritise,
                       forms.PrioritiseForm),
        IncidentAction("escalate", "Escalate", Action.ESCALATE, services.incident_escalate, forms.EscalateForm),
        IncidentAction("resolve", "Resolve", Action.RESOLVE, services.incident_resolve, forms.ResolveForm),
        IncidentAction("reopen", "Reopen", Action.REOPEN, services.incident_reopen, forms.ReasonForm),
        IncidentAction("declare-major", "Declare a major incident", Action.DECLARE_MAJOR,
                       services.incident_declare_major, forms.ReasonForm, danger=True),
        IncidentAction("cancel", "Cancel", Action.CANCEL, services.incident_cancel, forms.ReasonForm, danger=True),
    ]
}  # fmt: skip


def _allowed(person, incident):
    """What `can` allows this person on this incident, by action name (state aside)."""
    allowed = {name: can(person, action.policy, incident) for name, action in ACTIONS.items()}
    allowed["allocate_person"] = can(person, Action.ALLOCATE_PERSON, incident)
    allowed["reassign_team"] = can(person, Action.REASSIGN_TEAM, incident)
    return allowed


def _make_form(action, person, incident, allowed, data=None):
    auto_id = f"id_{action.name.replace('-', '_')}_%s"  # several forms share one page
    if action.form is forms.AssignForm:
        team_staff = staff_in_team(incident.team).order_by("username") if incident.team_id else None
        return forms.AssignForm(
            data, auto_id=auto_id, team_staff=team_staff, may_allocate_person=allowed["allocate_person"]
        )
    return action.form(data, auto_id=auto_id)


def _service_kwargs(form):
    if hasattr(form, "service_kwargs"):
        return form.service_kwargs()
    return dict(form.cleaned_data)


def _timeline_rows(events):
    """Each event as a label, an optional text body and a list of (name, value) details."""
    rows = []
    for event in events:
        data = dict(event.data or {})
        body = data.pop("body", None) or data.pop("reason", None) or data.pop("resolution_notes", None)
        details = []
        for key, value in data.items():
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif isinstance(value, dict):
                value = ", ".join(f"{k}: {v if v is not None else '—'}" for k, v in value.items())
            elif isinstance(value, str) and key.endswith("_at"):
                value = parse_datetime(value) or value
            elif value is None or value == "":
                value = "—"
            details.append((key.replace("_", " "), value))
        label = event.kind.replace("_", " ").capitalize()
        rows.append({"event": event, "label": label, "body": body, "details": details})
    return rows


def _render_detail(request, incident, *, status=200, bound=None):
    person = request.user
    allowed = _allowed(person, incident)
    panels = []
    for name, action in ACTIONS.items():
        if not allowed[name] or not action.is_offered(incident):
            continue
        form = bound.get(name) if bound else None
        panels.append({
            "action": action,
            "form": form or _make_form(action, person, incident, allowed),
            "open": form is not None,
        })  # fmt: skip
    context = {
        "incident": incident,
        "marks": _sla_marks(incident, timezone.now()),
        "timeline": _timeline_rows(timeline_for(person, incident)),
        "allowed": allowed,
        "buttons": [p for p in panels if not p["form"].fields],
        "panels": [p for p in panels if p["form"].fields],
        "is_staff_view": level_of(person) is not None,
        "reassign_refusal": None if allowed["reassign_team"] else why_not(person, Action.REASSIGN_TEAM, incident),
    }
    template = "incidents/_detail_panel.html" if request.htmx else "incidents/detail.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def detail(request, reference):
    return _render_detail(request, access_incident(request.user, reference))


@login_required
@require_POST
def act(request, reference, action):
    """Run one action on an incident. Refusals and conflicts come back as a message on the
    incident's page (403, 409, 400) with nothing changed; success redirects back."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    person = request.user
    incident = access_incident(person, reference)
    if not can(person, spec.policy, incident):
        messages.error(request, why_not(person, spec.policy, incident))
        return _render_detail(request, incident, status=403)
    allowed = _allowed(person, incident)
    form = _make_form(spec, person, incident, allowed, data=request.POST)
    if not form.is_valid():
        messages.error(request, f"{spec.label}: check the form below.")
        return _render_detail(request, incident, status=400, bound={spec.name: form})
    try:
        spec.service(actor=person, incident=incident, **_service_kwargs(form))
    except Conflict as exc:
        messages.error(request, exc.message)
        return _render_detail(request, incident, status=409)
    except Forbidden as exc:
        messages.error(request, exc.message)
        return _render_detail(request, incident, status=403)
    except ValidationError as exc:
        _add_service_errors(form, exc)
        messages.error(request, f"{spec.label}: " + " ".join(exc.messages))
        return _render_detail(request, incident, status=400, bound={spec.name: form})
    messages.success(request, f"{spec.label}: done.")
    if request.htmx:
        return _render_detail(request, access_incident(person, reference))
    return redirect(incident)


@csrf_exempt  # one-click unsubscribe (RFC 8058) posts from the mail client, without a session
def unsubscribe(request, token):
    """Stop an optional subscription from the link in an email. GET asks, POST does it."""
    from django.core import signing

    from incidents.models import ServiceSubscription
    from incidents.notify import UNSUBSCRIBE_SALT

    try:
        subscription_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.") from None
    subscription = get_object_or_404(ServiceSubscription.objects.select_related("service"), pk=subscription_id, optional=True)
    done = False
    if request.method == "POST":
        ServiceSubscription.objects.filter(pk=subscription.pk).update(active=False)
        done = True
    return render(request, "incidents/unsubscribe.html", {"subscription": subscription, "done": done})
