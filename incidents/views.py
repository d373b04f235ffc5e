"""The browser UI for incidents: thin. Parse with a form, read with a selector, change with a
service, ask `can` every permission question, render."""


import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt

from incidents import downloads, forms, lifecycle, live, presenters, services, uploads
from incidents.actions import ACTIONS
from incidents.bulk import BULK_ACTIONS, incidents_bulk_act
from incidents.filters import IncidentFilter
from incidents.models import OPEN_STATUSES
from incidents.pagination import cursor_decode, cursor_encode, keyset_rows
from incidents.saved_views import clean_query, saved_view_delete, saved_view_save, saved_views_for
from incidents.selectors import (
    access_attachment,
    access_incident,
    attachments_for,
    comms_lead_candidates,
    delivery_progress,
    incident_version,
    incidents_counts_by_team_and_status,
    incidents_visible_to,
    open_mandatory_tasks,
    similar_open_incidents,
    timeline_for,
)
from procedures.selectors import priority_matrix
from skills.errors import Conflict, Forbidden, TooLarge
from skills.http import post_only
from skills.policy import Action, can, level_of, team_ids, why_not
from skills.selectors import people_matching, staff_in_team

PAGE_SIZE = 25


def _incident_page(reference, **kwargs):
    return reverse("incidents:detail", args=[reference])


# A GET on an action URL gets a page that links back to the incident, not a blank 405.
require_POST = post_only(_incident_page)


# --- the queue ---------------------------------------------------------------------------

# A GET on a queue action URL gets a page that links back to the queue.
queue_post_only = post_only(lambda **kwargs: reverse("incidents:queue"))


def _queue_counts(form, person):
    """The side panel: open incidents per status and per team, each under the other
    filters (the status counts leave out the status filter, the team counts the team
    filter). Both come from one grouped count per (team, status) of the open incidents
    under the remaining filters. Only open incidents count, as the panel's heading says:
    under `status=all` or a closed status the teams show their open ones."""
    cleaned = getattr(form, "cleaned_data", None) or {}
    open_values = [status.value for status in OPEN_STATUSES]
    query = {**form.filter_data(person, without=("status", "team")), "status": open_values}
    filtered = IncidentFilter(query, queryset=incidents_visible_to(person), actor=person)
    statuses_counted = {cleaned["status"]} if cleaned.get("status") in open_values else set(open_values)
    team = cleaned.get("team")
    by_status, by_team = {}, {}
    for slug, name, status, n in incidents_counts_by_team_and_status(filtered.qs):
        if team is None or slug == team.slug:
            by_status[status] = by_status.get(status, 0) + n
        if status in statuses_counted:
            by_team[slug, name] = by_team.get((slug, name), 0) + n
    return {
        "statuses": [(status.value, status.label, by_status.get(status.value, 0)) for status in OPEN_STATUSES],
        "teams": sorted(((slug, name or "No team", n) for (slug, name), n in by_team.items()), key=lambda row: row[1]),
    }


@login_required
def queue(request):
    """The incidents the person may see, filtered and sorted, one keyset page at a time,
    with counts per status and team. Live: a poll whose answer would not change gets a 304."""
    person = request.user
    etag = live.etag_for(request, bool(request.htmx), live.latest_change())
    unchanged = live.not_modified(request, etag)
    if unchanged is not None:
        return unchanged
    form = forms.QueueFilterForm(request.GET)
    form.is_valid()  # invalid filters are shown with their errors and left out
    filterset = IncidentFilter(form.filter_data(person), queryset=incidents_visible_to(person), actor=person)
    field, descending = form.ordering()
    try:
        cursor = cursor_decode(request.GET.get("cursor"), field)
    except ValueError:
        cursor = None
    if cursor is not None and cursor[2]:
        cursor = None  # the page only walks forwards; "First page" goes back
    # The ids off the (covering) index first, then those rows with what the page draws.
    rows, has_more = keyset_rows(
        filterset.qs, field, descending, cursor, PAGE_SIZE, rows_of=incidents_visible_to(person)
    )
    now = timezone.now()
    # Each row links twice to its page: one reverse() for the page, not fifty (references
    # are URL-safe: INC- and digits).
    head, tail = reverse("incidents:detail", args=["-"]).rsplit("-", 1)
    for incident in rows:
        incident.marks = presenters.clock_marks(incident, now)
        incident.url = f"{head}{incident.reference}{tail}"
    context = {
        "form": form,
        "incidents": rows,
        "next_cursor": cursor_encode(field, rows[-1]) if has_more else None,
        "is_first_page": cursor is None,
        "may_register": can(person, Action.REGISTER),
        "counts": _queue_counts(form, person),
        "may_bulk": level_of(person) is not None,
        "bulk_forms": _bulk_forms(person) if level_of(person) is not None else None,
        "saved_view_form": forms.SavedViewForm(person=person, initial={"query": request.GET.urlencode()}),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "incidents/_queue_results.html" if partial else "incidents/queue.html"
    return live.mark(render(request, template, context), etag)


# --- bulk actions and saved views --------------------------------------------------------------


def _bulk_forms(person, data=None):
    """The form of each bulk action, with the ids of the bulk bar."""
    made = {}
    for name in BULK_ACTIONS:
        # One <form> holds every action's fields: the browser must not demand the others'.
        options = {"auto_id": f"id_bulk_{name}_%s", "use_required_attribute": False}
        if name == "assign":
            made[name] = forms.AssignForm(data, may_allocate_person=can(person, Action.ALLOCATE_PERSON), **options)
        elif name == "close":
            made[name] = forms.CloseForm(data, **options)
        else:
            made[name] = ACTIONS[name].form(data, **options)
    return made


@login_required
@queue_post_only
def bulk(request):
    """Run one action on the selected incidents, each through its own service, and report
    per reference what was done and what was refused and why."""
    person = request.user
    form = forms.BulkForm(request.POST)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, f"Bulk action: {error}")
        return _back_to_queue(request, status=400)
    name = form.cleaned_data["action"]
    action_form = _bulk_forms(person, request.POST)[name]
    if not action_form.is_valid():
        for field, field_errors in action_form.errors.items():
            label = action_form.fields[field].label if field in action_form.fields else ACTIONS[name].label
            for error in field_errors:
                messages.error(request, f"{label or field}: {error}")
        return _back_to_queue(request, status=400)
    outcomes = incidents_bulk_act(
        actor=person, references=form.cleaned_data["incidents"], action=name, data=_service_kwargs(action_form)
    )
    done = [o for o in outcomes if o.ok]
    refused = [o for o in outcomes if not o.ok]
    if done:
        messages.success(request, f"{ACTIONS[name].label}: done on {', '.join(o.reference for o in done)}.")
    for outcome in refused:
        messages.error(request, f"{outcome.reference} refused: {outcome.message}")
    return _back_to_queue(request, status=200)


def _back_to_queue(request, *, status):
    """Back to the queue the person came from (its filters kept)."""
    back = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) or not back.startswith("/"):
        back = reverse("incidents:queue")
    if request.htmx:
        response = HttpResponse(status=204 if status == 200 else status)
        response["HX-Location"] = back
        return response
    return redirect(back)


@login_required
@queue_post_only
def saved_view_create(request):
    person = request.user
    form = forms.SavedViewForm(request.POST, person=person)
    if not form.is_valid():
        for field, field_errors in form.errors.items():
            for error in field_errors:
                messages.error(request, f"Saved view {form.fields[field].label.lower()}: {error}")
        return redirect(reverse("incidents:queue") + "?" + clean_query(request.POST.get("query", "")))
    try:
        view = saved_view_save(
            actor=person, name=form.cleaned_data["name"], query=form.cleaned_data["query"],
            team=form.cleaned_data["share"],
        )  # fmt: skip
    except Forbidden as exc:
        messages.error(request, exc.message)
        return redirect(reverse("incidents:queue"))
    shared = f" and shared with {view.team.name}" if view.team else ""
    messages.success(request, f"Saved the view {view.name!r}{shared}.")
    return redirect(view.get_absolute_url())


@login_required
@queue_post_only
def saved_view_remove(request, view_id):
    person = request.user
    view = get_object_or_404(saved_views_for(person), pk=view_id)
    try:
        saved_view_delete(actor=person, view=view)
    except Forbidden as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deleted the view {view.name!r}.")
    return redirect("incidents:queue")


# --- registration --------------------------------------------------------------------------


def _add_service_errors(form, exc):
    """Put a service's ValidationError on the form, by field where the form has it."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        form.add_error(field if field in form.fields else None, field_messages)


def _hints(person, title, *, exclude=None):
    """Open incidents like `title` that the person may see (for the register page)."""
    if len(title.strip()) < 3:
        return []
    return similar_open_incidents(person, title, limit=5, exclude=exclude)


@login_required
def register(request):
    """Register an incident (a reporter's own, or a call taken by staff)."""
    person = request.user
    if not can(person, Action.REGISTER):
        raise PermissionDenied(why_not(person, Action.REGISTER))
    # Staff may register on someone's behalf; the service refuses anyone else.
    data = request.POST if request.method == "POST" else None
    may_name_reporter = can(person, Action.REGISTER_FOR_OTHERS)
    initial = {"registration_key": uuid.uuid4()}
    form = forms.IncidentRegisterForm(data, may_name_reporter=may_name_reporter, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            link_to = None
            if form.cleaned_data["link_to"]:
                link_to = _visible_or_none(person, form.cleaned_data["link_to"])
                if link_to is None:
                    form.add_error(None, "The incident to link to is not there any more.")
            try:
                if not form.errors:
                    incident = services.incident_register(actor=person, link_to=link_to, **form.service_kwargs())
            except ValidationError as exc:
                _add_service_errors(form, exc)
            except Forbidden as exc:
                messages.error(request, exc.message)
                status = 403
            else:
                if not form.errors:
                    if getattr(incident, "repeated_submission", False):
                        messages.info(request, f"{incident.reference} was already registered from this form.")
                    else:
                        messages.success(request, f"{incident.reference} registered.")
                    if can(person, Action.VIEW, incident):
                        return redirect(incident)
                    # A security incident goes to the response team, out of the reporter's sight.
                    return redirect("incidents:queue")
    title = form["title"].value() or ""
    context = {
        "form": form,
        "matrix": {f"{i}{u}": p for (i, u), p in priority_matrix().items()},
        "hints": _hints(person, title) if data else [],
        "may_link": can(person, Action.LINK),
        "link_to": (data or {}).get("link_to", ""),
        "for_caller": may_name_reporter,
    }
    return render(request, "incidents/register.html", context, status=status)


def _visible_or_none(person, reference):
    try:
        return access_incident(person, reference)
    except Http404:
        return None


@login_required
def similar(request):
    """The register page's hints: open incidents like the title typed so far, among those
    the person may see."""
    person = request.user
    if not can(person, Action.REGISTER):
        raise PermissionDenied(why_not(person, Action.REGISTER))
    form = forms.SimilarForm(request.GET)
    title = form.cleaned_data["title"] if form.is_valid() else ""
    context = {
        "hints": _hints(person, title), "may_link": can(person, Action.LINK), "link_to": "",
        "for_caller": can(person, Action.REGISTER_FOR_OTHERS),
    }  # fmt: skip
    return render(request, "incidents/_similar.html", context)


@login_required
def callers(request):
    """The caller lookup: active people whose name, username or email starts with the text."""
    person = request.user
    if not can(person, Action.REGISTER_FOR_OTHERS):
        raise PermissionDenied(why_not(person, Action.REGISTER_FOR_OTHERS))
    form = forms.SimilarForm({"title": request.GET.get("reporter", "")})
    text = form.cleaned_data["title"] if form.is_valid() else ""
    return render(request, "incidents/_callers.html", {"people": people_matching(text) if text else []})


@login_required
@require_POST
def affected(request, reference):
    """"This is the same": add the caller (or me) as affected by an open incident instead
    of registering another one."""
    person = request.user
    incident = access_incident(person, reference)
    caller = None
    if can(person, Action.REGISTER_FOR_OTHERS) and request.POST.get("reporter", "").strip():
        field = forms.CallerField(queryset=forms.Person.objects.filter(is_active=True), required=False,
                                  error_messages={"invalid_choice": "There is no active person with that username or email address."})  # fmt: skip
        try:
            caller = field.clean(request.POST["reporter"])
        except ValidationError as exc:
            messages.error(request, f"Caller: {' '.join(exc.messages)}")
            return redirect("incidents:register")
    try:
        services.incident_add_affected(actor=person, incident=incident, person=caller)
    except (Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
        return _render_detail(request, incident, status=409 if isinstance(exc, Conflict) else 403)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _render_detail(request, incident, status=400)
    who = "You are" if caller is None or caller == person else f"{caller.username} is"
    messages.success(request, f"{who} recorded as affected by {incident.reference}; no new incident was registered.")
    return redirect(incident)


# --- one incident ----------------------------------------------------------------------------


def _allowed(person, incident):
    """What `can` allows this person on this incident, by action name (state aside)."""
    allowed = {name: can(person, action.policy, incident) for name, action in ACTIONS.items()}
    for name, policy in (
        ("allocate_person", Action.ALLOCATE_PERSON),
        ("reassign_team", Action.REASSIGN_TEAM),
        ("complete_task", Action.COMPLETE_TASK),
        ("record_deadline", Action.RECORD_DEADLINE),
        ("override_checklist", Action.OVERRIDE_CHECKLIST),
        ("watch", Action.WATCH),
        ("edit", Action.EDIT),
        ("attach", Action.ATTACH),
    ):
        allowed[name] = can(person, policy, incident)
    return allowed


def _make_form(action, person, incident, allowed, data=None, *, open_mandatory=None):
    auto_id = f"id_{action.name.replace('-', '_')}_%s"  # several forms share one page
    if action.form is forms.AssignForm:
        team_staff = staff_in_team(incident.team).order_by("username") if incident.team_id else None
        return forms.AssignForm(
            data, auto_id=auto_id, team_staff=team_staff, may_allocate_person=allowed["allocate_person"]
        )
    if action.form is forms.CloseForm:
        # The override reason only where it can help: mandatory tasks open, and level 4.
        may_override = allowed["override_checklist"]
        if may_override and open_mandatory is None:
            open_mandatory = open_mandatory_tasks(incident).exists()
        return forms.CloseForm(data, auto_id=auto_id, may_override=may_override and bool(open_mandatory))
    if action.form is forms.DeclareMajorForm:
        return forms.DeclareMajorForm(data, auto_id=auto_id, comms_leads=comms_lead_candidates(incident))
    return action.form(data, auto_id=auto_id)


def _service_kwargs(form):
    if hasattr(form, "service_kwargs"):
        return form.service_kwargs()
    return dict(form.cleaned_data)


def _deadline_rows(incident, now, *, may_record, bound):
    rows = []
    for deadline in incident.deadlines.select_related("met_by"):
        key = f"deadline-{deadline.pk}"
        form = None
        if may_record and deadline.met_at is None:
            form = bound.get(key) or forms.DeadlineMetForm(auto_id=f"id_deadline_{deadline.pk}_%s")
        rows.append({
            "deadline": deadline,
            "state": presenters.deadline_state(deadline, now),
            "late": deadline.met_at is not None and deadline.met_at > deadline.due_at,
            "form": form,
            "open": key in bound,
        })  # fmt: skip
    return rows


COMPOSED = ("notes", "updates")  # offered by the composer, not as panels

TIMELINE_FILTERS = {
    "all": ("All", None),
    "public": ("Public", presenters.is_public_entry),
    "notes": ("Notes", presenters.is_note),
    "system": ("System", presenters.is_system_entry),
}


def _composer(person, incident, allowed, bound):
    """The always-open composer: the kinds of message this person may post here now."""
    if "compose" in bound:
        return bound["compose"]
    kinds = [
        kind for kind, name in ((forms.ComposeForm.NOTE, "notes"), (forms.ComposeForm.UPDATE, "updates"))
        if allowed[name] and ACTIONS[name].is_offered(incident)
    ]  # fmt: skip
    return forms.ComposeForm(kinds=kinds, auto_id="id_compose_%s") if kinds else None


def _may_take(person, incident, allowed):
    """Offer "Assign to me": staff who may allocate a person, on an open incident of a
    team they belong to (or no team), not already theirs."""
    if not allowed["allocate_person"] or not lifecycle.allows("assign", incident) or incident.assignee_id == person.pk:
        return False
    return incident.team_id is None or incident.team_id in team_ids(person)


def _render_detail(request, incident, *, status=200, bound=None):
    person = request.user
    bound = bound or {}
    now = timezone.now()
    allowed = _allowed(person, incident)
    shown = request.GET.get("timeline", "all")
    if shown not in TIMELINE_FILTERS:
        shown = "all"
    keep = TIMELINE_FILTERS[shown][1]
    timeline = [row for row in presenters.timeline_rows(timeline_for(person, incident, newest_first=True))
                if keep is None or keep(row["event"])]  # fmt: skip
    tasks = list(incident.tasks.select_related("done_by"))
    open_mandatory = [task for task in tasks if task.mandatory and task.done_at is None]
    panels = []
    for name, action in ACTIONS.items():
        if name in COMPOSED or not allowed[name] or not action.is_offered(incident):
            continue
        form = bound.get(name)
        panels.append({
            "action": action,
            "form": form or _make_form(action, person, incident, allowed, open_mandatory=bool(open_mandatory)),
            "open": form is not None,
        })  # fmt: skip
    watchers = list(incident.watchers.select_related("person").order_by("person__username"))
    is_staff_view = level_of(person) is not None
    context = {
        "incident": incident,
        "marks": presenters.clock_marks(incident, now),
        "timeline": timeline,
        "timeline_filters": [(key, label) for key, (label, _) in TIMELINE_FILTERS.items()],
        "timeline_shown": shown,
        "composer": _composer(person, incident, allowed, bound),
        "edit_form": (bound.get("edit") or forms.IncidentEditForm(incident=incident, auto_id="id_edit_%s"))
        if allowed["edit"] and lifecycle.allows("edit", incident) else None,
        "edit_open": "edit" in bound,
        "may_take": _may_take(person, incident, allowed),
        "allowed": allowed,
        "buttons": [p for p in panels if not p["form"].fields],
        "panels": [p for p in panels if p["form"].fields],
        "is_staff_view": is_staff_view,
        "reassign_refusal": None if allowed["reassign_team"] else why_not(person, Action.REASSIGN_TEAM, incident),
        "tasks": tasks,
        "open_mandatory": open_mandatory,
        "may_complete_tasks": allowed["complete_task"] and lifecycle.allows("complete-task", incident),
        "close_blocked": bool(open_mandatory) and lifecycle.allows("close", incident),
        "deadlines": _deadline_rows(incident, now, may_record=allowed["record_deadline"], bound=bound),
        "escalation": presenters.escalation_rows(incident),
        "watching": any(w.person_id == person.pk for w in watchers),
        "watchers": watchers if is_staff_view else None,
        "watcher_count": len(watchers),
        "deliveries": delivery_progress(person, incident),
        "attachments": list(attachments_for(person, incident)),
        "attach_form": (bound.get("attach") or forms.AttachmentForm(auto_id="id_attach_%s"))
        if allowed["attach"] and lifecycle.allows("attach", incident) else None,
        "attach_limit": uploads.size_text(settings.ATTACHMENT_MAX_BYTES),
    }
    template = "incidents/_detail_panel.html" if request.htmx else "incidents/detail.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
def detail(request, reference):
    """The incident page. Live: a poll is answered 304 while the incident and its timeline
    are as they were (one indexed query), else with the page's live parts."""
    if live.is_live_poll(request):
        etag = live.etag_for(request, bool(request.htmx), *incident_version(request.user, reference))
        unchanged = live.not_modified(request, etag)
        if unchanged is not None:
            return unchanged
        return live.mark(_render_detail(request, access_incident(request.user, reference)), etag)
    return _render_detail(request, access_incident(request.user, reference))


def _perform(request, incident, *, key, label, make_form, call, success=None):
    """Run one change on an incident the person may see: parse the form, call the
    service, which decides (the policy with the incident's procedure, the state).
    Refusals and conflicts come back as a message on the incident's page (403, 409, 400)
    with nothing changed; success redirects back, or re-renders the page for htmx."""
    person = request.user
    form = make_form(request.POST)
    if not form.is_valid():
        messages.error(request, f"{label}: check the form below.")
        return _render_detail(request, incident, status=400, bound={key: form})
    try:
        call(form)
    except Conflict as exc:
        messages.error(request, exc.message)
        return _render_detail(request, incident, status=409)
    except Forbidden as exc:
        messages.error(request, exc.message)
        return _render_detail(request, incident, status=403)
    except TooLarge as exc:
        form.add_error(None, exc.message)
        messages.error(request, f"{label}: {exc.message}")
        return _render_detail(request, incident, status=413, bound={key: form})
    except ValidationError as exc:
        _add_service_errors(form, exc)
        messages.error(request, f"{label}: " + " ".join(exc.messages))
        return _render_detail(request, incident, status=400, bound={key: form})
    messages.success(request, success(form) if success else f"{label}: done.")
    if request.htmx:
        # The version first, then the page drawn: the answer shows at least that version,
        # and says so, so the page's next poll is a 304 unless something changed since.
        version = incident_version(person, incident.reference)
        response = _render_detail(request, access_incident(person, incident.reference))
        page = live.current_page(request)
        return live.drawn(response, page and live.etag_for(request, bool(request.htmx), *version, page=page))
    return redirect(incident)


@login_required
@require_POST
def act(request, reference, action):
    """Run one of ACTIONS on an incident."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404("No such action.")
    person = request.user
    incident = access_incident(person, reference)
    return _perform(
        request, incident, key=spec.name, label=spec.label,
        make_form=lambda data: _make_form(spec, person, incident, _allowed(person, incident), data),
        call=lambda form: spec.call(actor=person, incident=incident, data=_service_kwargs(form)),
    )  # fmt: skip


@login_required
@require_POST
def compose(request, reference):
    """The composer: an internal note or a public update, through the same action as
    the API's `notes` and `updates`."""
    person = request.user
    incident = access_incident(person, reference)
    chosen = {}

    def call(form):
        spec = ACTIONS["notes" if form.cleaned_data["kind"] == forms.ComposeForm.NOTE else "updates"]
        chosen["label"] = "Internal note added." if spec.name == "notes" else "Public update posted."
        return spec.call(actor=person, incident=incident, data={"body": form.cleaned_data["body"]})

    return _perform(
        request, incident, key="compose", label="Message",
        make_form=lambda data: forms.ComposeForm(data, auto_id="id_compose_%s"),
        call=call, success=lambda form: chosen["label"],
    )  # fmt: skip


@login_required
@require_POST
def edit(request, reference):
    """Edit the incident's details in place (`incident_update` re-derives the priority and
    due times, and routes again while nobody is assigned)."""
    person = request.user
    incident = access_incident(person, reference)
    return _perform(
        request, incident, key="edit", label="Edit",
        make_form=lambda data: forms.IncidentEditForm(data, auto_id="id_edit_%s"),
        call=lambda form: services.incident_update(actor=person, incident=incident, **form.service_kwargs()),
        success=lambda form: "Details saved.",
    )  # fmt: skip


@login_required
@require_POST
def attach(request, reference):
    """Attach a file (`attachment_add` checks the policy, the type, the content and the size)."""
    person = request.user
    incident = access_incident(person, reference)

    def call(form):
        upload = form.cleaned_data["file"]
        return services.attachment_add(
            actor=person, incident=incident, name=upload.name, content=upload,
            declared_type=upload.content_type or "", channel="web",
        )  # fmt: skip

    return _perform(
        request, incident, key="attach", label="Attach",
        make_form=lambda data: forms.AttachmentForm(data, request.FILES, auto_id="id_attach_%s"),
        call=call, success=lambda form: _attached_message(form.cleaned_data["file"].name),
    )  # fmt: skip


def _attached_message(name):
    if settings.ATTACHMENT_SCANNER:
        return f"“{uploads.clean_name(name)}” is attached: it shows here once the virus scan has passed it."
    return f"“{uploads.clean_name(name)}” is attached."


@login_required
def attachment(request, reference, attachment_id):
    """Download an attachment: 404 unless the person may see the incident and it is available."""
    return downloads.attachment_response(access_attachment(request.user, reference, attachment_id))


@login_required
@require_POST
def task_done(request, reference, position):
    """Mark one checklist task done."""
    person = request.user
    incident = access_incident(person, reference)
    return _perform(
        request, incident, key=f"task-{position}", label=f"Task {position}",
        make_form=forms.EmptyForm,
        call=lambda form: services.incident_complete_task(actor=person, incident=incident, position=position),
    )  # fmt: skip


@login_required
@require_POST
def deadline_met(request, reference, deadline_id):
    """Record that a named deadline (such as notifying the regulator) was met."""
    person = request.user
    incident = access_incident(person, reference)
    return _perform(
        request, incident, key=f"deadline-{deadline_id}", label="Deadline met",
        make_form=lambda data: forms.DeadlineMetForm(data, auto_id=f"id_deadline_{deadline_id}_%s"),
        call=lambda form: services.incident_meet_deadline(
            actor=person, incident=incident, deadline_id=deadline_id, note=form.cleaned_data["note"]
        ),
    )  # fmt: skip


@login_required
@require_POST
def watch(request, reference):
    """Start (watching=1) or stop (watching=0) following the incident's public progress."""
    person = request.user
    incident = access_incident(person, reference)
    return _perform(
        request, incident, key="watch", label="Watch", make_form=forms.WatchForm,
        call=lambda form: services.incident_watch(
            actor=person, incident=incident, watching=form.cleaned_data["watching"]
        ),
        success=lambda form: (
            f"You are watching {incident.reference}: its public updates come to you by email."
            if form.cleaned_data["watching"] else f"You stopped watching {incident.reference}."
        ),
    )  # fmt: skip


@csrf_exempt  # one-click unsubscribe (RFC 8058) posts from the mail client, without a session
def unsubscribe(request, token):
    """Stop an optional subscription from the link in an email. GET asks, POST does it."""
    from django.core import signing

    from incidents.models import ServiceSubscription
    from incidents.notify import UNSUBSCRIBE_SALT
    from incidents.subscriptions import subscription_unsubscribe

    try:
        subscription_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.") from None
    subscription = get_object_or_404(ServiceSubscription.objects.select_related("service"), pk=subscription_id, optional=True)
    done = False
    if request.method == "POST":
        subscription_unsubscribe(subscription_id=subscription.pk)
        done = True
    return render(request, "incidents/unsubscribe.html", {"subscription": subscription, "done": done})
