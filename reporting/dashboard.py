"""Reads for the incident manager's dashboard. Every figure counts only the incidents the
person may see (security incidents only for those who may see them), and names the
queue filters that list exactly those incidents; the overdue review actions are those of
the reviews the person may see, each naming its review."""

from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django.db.models import CharField, Count, F, Func, Q, Subquery
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from incidents.models import OPEN_Q, OPEN_STATUSES, Incident
from incidents.selectors import BREACHED_Q, incidents_at_risk_q, incidents_visible_to
from reporting import selectors
from reporting.models import ReviewAction

DAYS = 14
PRIORITIES = (1, 2, 3, 4, 5)


def queue_url(**filters):
    """The queue filtered to exactly the incidents a figure counts."""
    query = urlencode({k: v for k, v in filters.items() if v is not None})
    return reverse("incidents:queue") + (f"?{query}" if query else "")


def _day_bounds(day):
    zone = timezone.get_current_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


def version(now):
    """What the live stamp of the dashboard is made of besides the minute, in one query:
    the newest `updated_at` of any incident (as `incidents.live.latest_change`), and how
    many review actions are overdue and the newest of them (index-only on the partial
    index `review_action_open`), so an action done, or added already due, shows on the
    next poll rather than at the next minute."""
    # Both aggregates in one pass over the index (MAX alone would walk the primary key
    # backwards past every newer action not yet due).
    count_and_newest = Func(F("id"), template="concat(count(%(expressions)s), ':', max(%(expressions)s))", output_field=CharField())
    overdue = ReviewAction.objects.filter(ReviewAction.overdue_q(now)).order_by().annotate(value=count_and_newest)
    return (
        Incident.objects.order_by("-updated_at")
        .annotate(overdue=Subquery(overdue.values("value")))
        .values_list("updated_at", "overdue")
        .first()
    )


def overdue_actions(actor, *, now):
    """Open review actions past their due date in the reviews `actor` may see (the
    security wall included), oldest first, as plain data: one query."""
    rows = selectors.overdue_actions(actor, now=now).values(
        "pk", "title", "due_on", "owner__username", "review_id", "review__incident_id", "review__incident__title"
    )
    return [
        {
            "id": row["pk"], "title": row["title"], "owner": row["owner__username"], "due_on": row["due_on"],
            "review": row["review_id"], "incident": f"INC-{row['review__incident_id']:06d}",
            "incident_title": row["review__incident__title"], "url": reverse("reporting:review", args=[row["review_id"]]),
        }  # fmt: skip
        for row in rows
    ]


def dashboard_figures(actor, *, now=None):
    """The figures of the dashboard as plain data (the page draws them, the API returns
    them): six queries however many incidents there are."""
    now = now or timezone.now()
    visible = incidents_visible_to(actor).order_by()
    open_visible = visible.filter(OPEN_Q)

    # 1. Open incidents by team and priority, with breached, at-risk and unassigned counts.
    grouped = (
        open_visible.values_list("team__slug", "team__name", "priority")
        .annotate(
            n=Count("*"),
            breached=Count("pk", filter=BREACHED_Q),
            at_risk=Count("pk", filter=incidents_at_risk_q(now)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        )
    )
    teams = {}
    for slug, name, priority, n, breached, at_risk, unassigned in grouped:
        team = teams.setdefault(slug, {
            "team": slug, "name": name or "No team", "open": 0, "breached": 0, "at_risk": 0, "unassigned": 0,
            "by_priority": {str(p): 0 for p in PRIORITIES},
        })  # fmt: skip
        team["by_priority"][str(priority)] += n
        team["open"] += n
        team["breached"] += breached
        team["at_risk"] += at_risk
        team["unassigned"] += unassigned
    team_rows = sorted(teams.values(), key=lambda row: row["name"])
    for row in team_rows:
        slug = row["team"]
        row["links"] = {
            "open": queue_url(team=slug),
            "breached": queue_url(team=slug, breached="true"),
            "at_risk": queue_url(team=slug, warning="true"),
            "unassigned": queue_url(team=slug, assignee="none"),
            "by_priority": {str(p): queue_url(team=slug, priority=p) for p in PRIORITIES},
        } if slug else None  # fmt: skip

    totals = {
        "open": sum(row["open"] for row in team_rows),
        "breached": sum(row["breached"] for row in team_rows),
        "at_risk": sum(row["at_risk"] for row in team_rows),
        "unassigned": sum(row["unassigned"] for row in team_rows),
        "by_priority": {str(p): sum(row["by_priority"][str(p)] for row in team_rows) for p in PRIORITIES},
    }
    total_links = {
        "open": queue_url(),
        "breached": queue_url(breached="true"),
        "at_risk": queue_url(warning="true"),
        "unassigned": queue_url(assignee="none"),
        "by_priority": {str(p): queue_url(priority=p) for p in PRIORITIES},
    }

    # 2. The oldest open incident.
    oldest = open_visible.order_by("created_at", "pk").values("pk", "title", "created_at", "priority").first()
    oldest_open = None
    if oldest is not None:
        reference = f"INC-{oldest['pk']:06d}"
        oldest_open = {
            "reference": reference, "title": oldest["title"], "created_at": oldest["created_at"],
            "priority": oldest["priority"], "url": reverse("incidents:detail", args=[reference]),
        }  # fmt: skip

    # 3. Major incidents in progress, with their communications lead and next update.
    majors = [
        {
            "reference": f"INC-{row['pk']:06d}", "title": row["title"], "status": row["status"],
            "priority": row["priority"], "comms_lead": row["comms_lead__username"],
            "next_update_due_at": row["next_update_due_at"],
            "url": reverse("incidents:detail", args=[f"INC-{row['pk']:06d}"]),
        }  # fmt: skip
        for row in open_visible.filter(is_major=True)
        .order_by("created_at", "pk")
        .values("pk", "title", "status", "priority", "comms_lead__username", "next_update_due_at")[:50]
    ]

    # 4. Created and resolved per day, the last 14 days (today included), in the site's zone.
    today = timezone.localdate(now)
    first = today - timedelta(days=DAYS - 1)
    since, _ = _day_bounds(first)
    created = dict(
        visible.filter(created_at__gte=since).annotate(day=TruncDate("created_at"))
        .values_list("day").annotate(n=Count("*"))
    )  # fmt: skip
    resolved = dict(
        visible.filter(resolved_at__gte=since).annotate(day=TruncDate("resolved_at"))
        .values_list("day").annotate(n=Count("*"))
    )  # fmt: skip
    days = []
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        start, end = _day_bounds(day)
        days.append({
            "date": day, "created": created.get(day, 0), "resolved": resolved.get(day, 0),
            "links": {
                "created": queue_url(status="all", created_after=start.isoformat(), created_before=end.isoformat()),
                "resolved": queue_url(status="all", resolved_after=start.isoformat(), resolved_before=end.isoformat()),
            },
        })  # fmt: skip

    return {
        "generated_at": now,
        "teams": team_rows,
        "totals": totals,
        "total_links": total_links,
        "oldest_open": oldest_open,
        "majors": majors,
        "majors_link": queue_url(major="true"),
        "days": days,
        "overdue_actions": overdue_actions(actor, now=now),
        "overdue_actions_link": reverse("reporting:reviews"),
        "open_statuses": [status.value for status in OPEN_STATUSES],
    }
