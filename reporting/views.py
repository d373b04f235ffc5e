"""The reporting pages: thin. Parse, read with a selector, change with a service, render."""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from incidents import live
from incidents.selectors import access_incident
from reporting import charts, dashboard, metrics, selectors, services
from reporting.forms import (
    PeriodForm,
    ReviewActionForm,
    ReviewCloseForm,
    ReviewRequestForm,
    ReviewWriteUpForm,
)
from reporting.process import process_report
from skills.errors import Conflict, Forbidden
from skills.policy import Action, can, why_not


def _need(person, action):
    if not can(person, action):
        raise PermissionDenied(why_not(person, action))


@login_required
def metrics_page(request):
    """The figures of a period with their charts, and the CSV download."""
    person = request.user
    _need(person, Action.VIEW_METRICS)
    form = PeriodForm(request.GET, default=metrics.default_period())
    status = 400 if form.errors else 200
    result = None
    if not form.errors:
        result = metrics.metrics(actor=person, period=form.period, group_by=form.group_by)
    if result is not None and request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="firebreak-metrics-{form.period.start_date}-{form.period.end_date}.csv"'
        writer = csv.writer(response)
        writer.writerow(metrics.CSV_COLUMNS)
        writer.writerows(metrics.csv_rows(result))
        return response
    context = {"form": form, "result": result}
    if result is not None:
        context["trend_chart"] = charts.columns(result["total"]["trend"])
        context["mttr_chart"] = charts.bars(
            (g["key"], g["mttr"]["working"]["median"]) for g in result["groups"]
        )
        context["count_chart"] = charts.bars((g["key"], g["count"]) for g in result["groups"])
        query = request.GET.copy()
        query["format"] = "csv"
        query.setdefault("from", form.period.start_date.isoformat())
        query.setdefault("to", form.period.end_date.isoformat())
        context["csv_query"] = query.urlencode()
        context["may_see_process"] = can(person, Action.VIEW_REPORTS)
    return render(request, "reporting/metrics.html", context, status=status)


@login_required
def process_page(request):
    """The process-performance report for a period (level 5), printable."""
    person = request.user
    _need(person, Action.VIEW_REPORTS)
    form = PeriodForm(request.GET, default=metrics.default_period(), with_group=False)
    if form.errors:
        return render(request, "reporting/process.html", {"form": form}, status=400)
    report = process_report(actor=person, period=form.period, now=timezone.now())
    return render(request, "reporting/process.html", {"form": form, "report": report})


def _reviews_context(person, request_form=None):
    context = {
        "reviews": list(selectors.reviews_visible_to(person)[:100]),
        "overdue": list(selectors.overdue_actions(person)),
        # Level 5 (a procedure may let others lead its incidents' reviews: their form, sent, comes back).
        "may_open": can(person, Action.LEAD_REVIEW) or request_form is not None,
    }
    if context["may_open"]:
        context["request_form"] = request_form or ReviewRequestForm()
    return context


@login_required
def reviews_page(request):
    person = request.user
    _need(person, Action.VIEW)
    return render(request, "reporting/reviews.html", _reviews_context(person))


@login_required
@require_POST
def review_request(request):
    """Open a review of any incident on demand (level 5): the review's page, or this page
    again with the reason (400 a bad or unknown reference, 403, 409 it has one already)."""
    person = request.user
    _need(person, Action.VIEW)
    form = ReviewRequestForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            incident = access_incident(person, form.cleaned_data["incident"])
            review = services.review_request(actor=person, incident=incident)
        except Http404:
            form.add_error("incident", f"No incident {form.cleaned_data['incident']} that you may see.")
        except Forbidden as exc:
            messages.error(request, exc.message)
            status = 403
        except Conflict as exc:
            messages.error(request, exc.message)
            status = 409
        else:
            messages.success(request, f"Review of {incident.reference} opened.")
            return redirect("reporting:review", pk=review.pk)
    return render(request, "reporting/reviews.html", _reviews_context(person, form), status=status)


def _review_context(person, review, **forms):
    may_lead = can(person, Action.LEAD_REVIEW, review.incident)
    now = timezone.now()
    actions = list(review.actions.all())
    context = {
        "review": review,
        "facts": selectors.review_facts(review),
        "actions": actions,
        "overdue": {action.pk for action in actions if action.is_overdue(now)},
        "may_lead": may_lead and review.is_open,
    }
    if context["may_lead"]:
        context["write_up"] = forms.get("write_up") or ReviewWriteUpForm(
            initial={"impact": review.impact, "causes": "\n".join(review.causes), "went_well": review.went_well,
                     "went_badly": review.went_badly},
        )  # fmt: skip
        context["action_form"] = forms.get("action_form") or ReviewActionForm()
        context["close_form"] = forms.get("close_form") or ReviewCloseForm()
    return context


def _service_errors(form, exc):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        form.add_error(field if field in form.fields else None, field_messages)


@login_required
def review_page(request, pk):
    review = selectors.access_review(request.user, pk)
    return render(request, "reporting/review.html", _review_context(request.user, review))


_FORMS = {"write-up": ("write_up", ReviewWriteUpForm), "actions": ("action_form", ReviewActionForm),
          "close": ("close_form", ReviewCloseForm)}  # fmt: skip


def _call(what, person, review, data):
    if what == "write-up":
        return services.review_update(actor=person, review=review, **data)
    if what == "actions":
        return services.review_add_action(actor=person, review=review, **data)
    return services.review_close(actor=person, review=review, **data)


@login_required
@require_POST
def review_change(request, pk, what):
    """Write up, add an action, or close: a bad form or a refusal re-renders the page
    with nothing changed."""
    person = request.user
    review = selectors.access_review(person, pk)
    if what not in _FORMS:
        raise Http404("No such change.")
    key, form_class = _FORMS[what]
    form = form_class(request.POST)
    status = 400
    if form.is_valid():
        try:
            _call(what, person, review, form.cleaned_data)
        except ValidationError as exc:
            _service_errors(form, exc)
        except Forbidden as exc:
            messages.error(request, exc.message)
            status = 403
        except Conflict as exc:
            messages.error(request, exc.message)
            status = 409
        else:
            messages.success(request, {"write-up": "Review saved.", "actions": "Action added.",
                                       "close": "Review closed; the outcome is on its way."}[what])  # fmt: skip
            return redirect("reporting:review", pk=review.pk)
    review = selectors.access_review(person, pk)
    return render(request, "reporting/review.html", _review_context(person, review, **{key: form}), status=status)


@login_required
@require_POST
def review_action_done(request, pk, action_id):
    person = request.user
    review = selectors.access_review(person, pk)
    action = review.actions.filter(pk=action_id).first()
    if action is None:
        return render(request, "404.html", status=404)
    try:
        services.review_action_done(actor=person, action=action)
    except (Forbidden, Conflict) as exc:
        messages.error(request, exc.message)
        return render(request, "reporting/review.html", _review_context(person, review),
                      status=403 if isinstance(exc, Forbidden) else 409)  # fmt: skip
    messages.success(request, "Action done.")
    return redirect("reporting:review", pk=review.pk)


# --- the incident manager's dashboard ------------------------------------------------------

CHART_HEIGHT = 120
BAR_WIDTH = 12
DAY_WIDTH = 36


def chart(days):
    """Bars of the created-vs-resolved chart, in SVG units (drawn by the template, no JS)."""
    top = max([1, *(max(day["created"], day["resolved"]) for day in days)])
    bars = []
    for index, day in enumerate(days):
        x = index * DAY_WIDTH + 6
        for offset, kind in ((0, "created"), (BAR_WIDTH + 2, "resolved")):
            height = round(day[kind] * CHART_HEIGHT / top)
            bars.append({
                "x": x + offset, "y": CHART_HEIGHT - height, "height": height, "kind": kind,
                "value": day[kind], "date": day["date"],
            })  # fmt: skip
    return {
        "bars": bars, "width": len(days) * DAY_WIDTH, "height": CHART_HEIGHT, "top": top,
        "labels": [{"x": i * DAY_WIDTH + 6, "text": day["date"].strftime("%d")} for i, day in enumerate(days)],
        "bar_width": BAR_WIDTH, "label_y": CHART_HEIGHT + 14, "full_height": CHART_HEIGHT + 18,
    }  # fmt: skip


PRIORITY_NAMES = ("1", "2", "3", "4", "5")


def _cells(counts, links):
    return [{"priority": p, "count": counts[p], "url": links[p] if links else None} for p in PRIORITY_NAMES]


@login_required
def dashboard_page(request):
    """Open work by team and priority, SLA risk, major incidents and the last 14 days.
    Level 4 and up (monitor every queue); live like the queue."""
    person = request.user
    if not can(person, Action.MONITOR_QUEUES):
        raise PermissionDenied(why_not(person, Action.MONITOR_QUEUES))
    # At-risk counts and overdue actions move with the clock and the daily figures with the
    # date: the minute is in the stamp, with the newest incident change and the overdue actions.
    now = timezone.now()
    etag = live.etag_for(request, bool(request.htmx), *(dashboard.version(now) or ()), now.strftime("%Y-%m-%dT%H:%M"))
    unchanged = live.not_modified(request, etag)
    if unchanged is not None:
        return unchanged
    figures = dashboard.dashboard_figures(person, now=now)
    rows = [
        {**row, "cells": _cells(row["by_priority"], row["links"] and row["links"]["by_priority"])}
        for row in figures["teams"]
    ]
    context = {
        "figures": figures, "rows": rows, "chart": chart(figures["days"]), "priorities": PRIORITY_NAMES,
        "total_cells": _cells(figures["totals"]["by_priority"], figures["total_links"]["by_priority"]),
    }  # fmt: skip
    return live.mark(render(request, "reporting/dashboard.html", context), etag)
