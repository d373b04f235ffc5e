"""Every scoped read of reviews. A review is seen by staff who may see its incident (so
reviews of security incidents only by the security team and level 5); `access_review`
answers 404 otherwise."""

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from incidents.models import TimelineEvent
from reporting.models import Review, ReviewAction
from skills.policy import incident_visibility, level_of

Kind = TimelineEvent.Kind
OVERDUE_LIMIT = 50


def _through_incident(actor, to_incident="incident__"):
    """The policy's visibility rule, read through the review's incident (`to_incident`:
    the path from the model queried to the incident). Only staff read reviews."""
    visibility = incident_visibility(actor)
    if level_of(actor) is None or not visibility.clauses:
        return Q(pk__in=[])
    clauses = [Q(*((f"{to_incident}{path}", value) for path, value in clause)) for clause in visibility.clauses]
    combined = clauses[0]
    for clause in clauses[1:]:
        combined |= clause
    return combined


def reviews_visible_to(actor):
    return (
        Review.objects.filter(_through_incident(actor))
        .select_related("incident", "incident__service", "incident__team", "lead", "closed_by")
        .order_by("-opened_at", "-id")
    )


def access_review(actor, pk):
    try:
        return reviews_visible_to(actor).prefetch_related("actions__owner").get(pk=pk)
    except (Review.DoesNotExist, ValueError, TypeError):
        raise Http404("No such review.") from None


def overdue_actions(actor, *, now=None, limit=OVERDUE_LIMIT):
    """Open review actions past their due date (`ReviewAction.overdue_q`: from the day after
    it), oldest first, among the reviews `actor` may
    see (also of closed reviews: actions outlive the meeting). One query: the partial index
    `review_action_open` in due order, each row joined to its review and incident by key
    and checked against the visibility rule, stopping at `limit`."""
    now = now or timezone.now()
    return (
        ReviewAction.objects.filter(_through_incident(actor, "review__incident__"), ReviewAction.overdue_q(now))
        .select_related("owner", "review__incident")
        .order_by("due_at", "id")[:limit]
    )


def review_facts(review):
    """What the timeline says happened, for the review to start from: detection,
    response, escalations, updates, resolution, and the durations."""
    incident = review.incident
    events = list(
        TimelineEvent.objects.filter(
            incident=incident,
            kind__in=[Kind.REGISTERED, Kind.ACKNOWLEDGED, Kind.ESCALATED, Kind.PUBLIC_UPDATE, Kind.DECLARED_MAJOR,
                      Kind.HELD, Kind.RESUMED, Kind.RESOLVED, Kind.REOPENED, Kind.BREACHED, Kind.CLOSED],
        )
        .select_related("actor")
        .order_by("at", "id")
    )  # fmt: skip

    def first(kind):
        return next((e for e in events if e.kind == kind), None)

    def moment(event):
        return event.at if event else None

    def row(event):
        return {"at": event.at, "actor": event.actor.username if event.actor else None, "kind": event.kind, "data": event.data}

    detected = first(Kind.REGISTERED)
    return {
        "detected_at": moment(detected),
        "channel": incident.channel,
        "acknowledged_at": incident.acknowledged_at,
        "declared_major_at": moment(first(Kind.DECLARED_MAJOR)),
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "escalations": [row(e) for e in events if e.kind == Kind.ESCALATED],
        "updates": [row(e) for e in events if e.kind == Kind.PUBLIC_UPDATE],
        "breaches": [row(e) for e in events if e.kind == Kind.BREACHED],
        "reopenings": [row(e) for e in events if e.kind == Kind.REOPENED],
        "durations": {
            "to_acknowledge": incident.ack_seconds,
            "to_acknowledge_working": incident.ack_working_seconds,
            "to_resolve": incident.resolve_seconds,
            "to_resolve_working": incident.resolve_working_seconds,
            "on_hold_working": incident.held_seconds,
        },
        "response_breached": incident.response_breached,
        "resolution_breached": incident.resolution_breached,
    }
