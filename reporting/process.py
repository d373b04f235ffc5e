"""The process-performance report (level 5): the figures a process owner takes to a
service review. Built from the metrics, the timeline's closing events and the reviews."""

from django.db.models import Count, Q

from incidents.models import TimelineEvent
from reporting import metrics
from reporting.models import Review, ReviewAction
from skills.policy import Action, can

SLOWEST = 5
OVERRIDES_SHOWN = 50


def _slowest(groups):
    ranked = [g for g in groups if g["mttr"]["working"]["median"] is not None]
    ranked.sort(key=lambda g: g["mttr"]["working"]["median"], reverse=True)
    return ranked[:SLOWEST]


def process_report(*, actor, period, now):
    """None when `actor` may not read process reports."""
    if not can(actor, Action.VIEW_REPORTS):
        return None
    scoped = metrics.scoped_incidents(actor)
    closings = (
        TimelineEvent.objects.db_manager(hints={"reporting": True})
        .filter(kind=TimelineEvent.Kind.CLOSED, at__gte=period.start, at__lt=period.end, incident__in=scoped.values("pk"))
    )
    compliance = closings.aggregate(closed=Count("id"), overridden=Count("id", filter=Q(data__has_key="override_reason")))
    overrides = list(
        closings.filter(data__has_key="override_reason").select_related("actor", "incident").order_by("-at", "-id")[:OVERRIDES_SHOWN]
    )
    majors = list(
        scoped.filter(is_major=True, created_at__gte=period.start, created_at__lt=period.end)
        .select_related("service", "team")
        .order_by("created_at", "id")
    )
    reviews = {
        r.incident_id: r
        for r in Review.objects.db_manager(hints={"reporting": True})
        .filter(incident__in=[m.pk for m in majors])
        .annotate(
            actions_total=Count("actions"),
            actions_done=Count("actions", filter=Q(actions__done_at__isnull=False)),
            actions_overdue=Count("actions", filter=ReviewAction.overdue_q(now, "actions__")),
        )
    }
    actions = (
        ReviewAction.objects.db_manager(hints={"reporting": True})
        .filter(review__in=[r.pk for r in reviews.values()])
        .select_related("owner")
        .order_by("due_at", "id")
    )
    listed = {}
    for action in actions:
        action.state = "done" if action.done_at else "overdue" if action.is_overdue(now) else "open"
        listed.setdefault(action.review_id, []).append(action)
    for review in reviews.values():
        review.action_list = listed.get(review.pk, [])
    for major in majors:
        major.review_row = reviews.get(major.pk)
    by_procedure = metrics.metrics(actor=actor, period=period, group_by="procedure")
    by_level = metrics.metrics(actor=actor, period=period, group_by="level")
    by_category = metrics.metrics(actor=actor, period=period, group_by="category")
    return {
        "period": period,
        "total": by_procedure["total"],
        "compliance": {
            "closed": compliance["closed"],
            "overridden": compliance["overridden"],
            "followed_pct": metrics.share(compliance["closed"] - compliance["overridden"], compliance["closed"]),
            "overrides": overrides,
        },
        "by_procedure": by_procedure["groups"],
        "by_level": by_level["groups"],
        "slowest_categories": _slowest(by_category["groups"]),
        "majors": majors,
    }
