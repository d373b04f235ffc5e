"""Requesters' own pages (reporters, stakeholders): their incidents with the public
updates, a reply, the answer to a resolution, and a plain report form. No queue, no SFIA
words, no API links. Thin like the other views: parse, call a service, render."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from incidents import forms, lifecycle, presenters, services, uploads
from incidents.pagination import cursor_decode, cursor_encode, keyset_rows
from incidents.selectors import access_incident, attachments_for, incidents_visible_to, timeline_for
from skills.errors import Conflict, Forbidden, TooLarge
from skills.http import post_only
from skills.policy import Action, can, why_not

PAGE_SIZE = 25
require_POST = post_only(lambda reference: reverse("incidents:my_incident", args=[reference]))

# Statuses in a requester's words.
PLAIN_STATUS = {
    "new": "Received", "assigned": "Someone is on it", "in_progress": "Being worked on",
    "on_hold": "Waiting", "resolved": "Fixed: please confirm", "closed": "Closed", "cancelled": "Cancelled",
}  # fmt: skip


def _mine(person):
    # The list shows the incident's own columns only: no related rows fetched.
    return incidents_visible_to(person).filter(reporter=person).select_related(None).prefetch_related(None)


@login_required
def mine(request):
    """The incidents the person reported, newest first, one keyset page at a time."""
    person = request.user
    try:  # the keyset the queue and the API share
        cursor = cursor_decode(request.GET.get("cursor"), "created_at")
    except ValueError:
        cursor = None
    if cursor is not None and cursor[2]:
        cursor = None
    rows, has_more = keyset_rows(_mine(person), "created_at", True, cursor, PAGE_SIZE)
    for incident in rows:
        incident.plain_status = PLAIN_STATUS[incident.status]
    return render(request, "requesters/mine.html", {
        "incidents": rows,
        "next_cursor": cursor_encode("created_at", rows[-1]) if has_more else None,
        "may_report": can(person, Action.REGISTER),
    })  # fmt: skip


def _window_open(incident, now):
    return incident.resolved_at is not None and now <= incident.resolved_at + timedelta(days=settings.REOPEN_WINDOW_DAYS)


def _render_incident(request, incident, *, status=200, reply_form=None, confirm_form=None, attach_form=None):
    person = request.user
    now = timezone.now()
    events = timeline_for(person, incident, newest_first=True).filter(is_public=True)
    may_confirm = (
        incident.status == "resolved" and can(person, Action.CONFIRM_RESOLUTION, incident) and _window_open(incident, now)
    )
    may_reply = incident.status in ("new", "assigned", "in_progress", "on_hold", "resolved") and can(
        person, Action.COMMENT, incident
    )
    return render(request, "requesters/incident.html", {
        "incident": incident,
        "plain_status": PLAIN_STATUS[incident.status],
        "timeline": presenters.public_rows(events),
        "reply_form": (reply_form or forms.ReplyForm(auto_id="id_reply_%s")) if may_reply else None,
        "confirm_form": (confirm_form or forms.ConfirmForm(auto_id="id_confirm_%s")) if may_confirm else None,
        "window_days": settings.REOPEN_WINDOW_DAYS,
        "attachments": list(attachments_for(person, incident)),
        "attach_form": (attach_form or forms.AttachmentForm(auto_id="id_attach_%s"))
        if lifecycle.allows("attach", incident) and can(person, Action.ATTACH, incident) else None,
        "attach_limit": uploads.size_text(settings.ATTACHMENT_MAX_BYTES),
    }, status=status)  # fmt: skip


@login_required
def incident(request, reference):
    return _render_incident(request, access_incident(request.user, reference))


def _answer(request, incident, call, *, reply_form=None, confirm_form=None, success):
    form = reply_form or confirm_form
    if not form.is_valid():
        return _render_incident(request, incident, status=400, reply_form=reply_form, confirm_form=confirm_form)
    try:
        call(form.cleaned_data)
    except (Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
        code = 409 if isinstance(exc, Conflict) else 403
        return _render_incident(request, incident, status=code)
    messages.success(request, success(form.cleaned_data))
    return redirect("incidents:my_incident", incident.reference)


@login_required
@require_POST
def reply(request, reference):
    """A reply: a public comment on the timeline; the people working on it are told."""
    person = request.user
    incident = access_incident(person, reference)
    return _answer(
        request, incident, reply_form=forms.ReplyForm(request.POST, auto_id="id_reply_%s"),
        call=lambda data: services.incident_comment(actor=person, incident=incident, body=data["body"]),
        success=lambda data: "Your reply was added.",
    )  # fmt: skip


@login_required
@require_POST
def confirm(request, reference):
    """Confirm the fix, or say it is not fixed (reopens it within the window)."""
    person = request.user
    incident = access_incident(person, reference)
    return _answer(
        request, incident, confirm_form=forms.ConfirmForm(request.POST, auto_id="id_confirm_%s"),
        call=lambda data: services.incident_confirm_resolution(
            actor=person, incident=incident, fixed=data["fixed"], reason=data.get("reason", "")
        ),
        success=lambda data: "Thank you: we have noted that it is fixed." if data["fixed"]
        else "Sorry it is not fixed: it is open again and the team has been told.",
    )  # fmt: skip


@login_required
@require_POST
def attach(request, reference):
    """Attach a file (a screenshot, a log) to one's own incident."""
    person = request.user
    incident = access_incident(person, reference)
    form = forms.AttachmentForm(request.POST, request.FILES, auto_id="id_attach_%s")
    if not form.is_valid():
        return _render_incident(request, incident, status=400, attach_form=form)
    upload = form.cleaned_data["file"]
    try:
        attachment = services.attachment_add(
            actor=person, incident=incident, name=upload.name, content=upload,
            declared_type=upload.content_type or "", channel="web",
        )  # fmt: skip
    except (Conflict, Forbidden) as exc:
        messages.error(request, exc.message)
        return _render_incident(request, incident, status=409 if isinstance(exc, Conflict) else 403)
    except TooLarge as exc:
        form.add_error("file", exc.message)
        return _render_incident(request, incident, status=413, attach_form=form)
    except ValidationError as exc:
        form.add_error("file", exc.message_dict.get("file", exc.messages) if hasattr(exc, "error_dict") else exc.messages)
        return _render_incident(request, incident, status=400, attach_form=form)
    if attachment.state == attachment.State.PENDING:
        messages.success(request, f"Thank you: “{attachment.name}” is attached. It shows here once our virus scan has passed it.")
    else:
        messages.success(request, f"Thank you: “{attachment.name}” is attached.")
    return redirect("incidents:my_incident", incident.reference)


@login_required
def report(request):
    """Report a problem in plain words: "How bad is it?" instead of impact and urgency."""
    person = request.user
    if not can(person, Action.REGISTER):
        raise PermissionDenied(why_not(person, Action.REGISTER))
    data = request.POST if request.method == "POST" else None
    form = forms.RequesterReportForm(data, initial={"registration_key": uuid.uuid4()})
    status = 200
    if data is not None:
        status = 400
        if form.is_valid():
            try:
                incident = services.incident_register(actor=person, **form.service_kwargs())
            except ValidationError as exc:
                for field, errors in (exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, f"Thank you. Your report is {incident.reference}; we will keep you posted.")
                if can(person, Action.VIEW, incident):
                    return redirect("incidents:my_incident", incident.reference)
                return redirect(reverse("incidents:mine"))
    return render(request, "requesters/report.html", {"form": form}, status=status)
