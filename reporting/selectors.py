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


def _through_incident(actor):
    """The policy's visibility rule, read through the review's incident."""
    visibility = incident_visibility(actor)
    if level_of(actor) is None or not visibility.clauses:
        return Q(pk__in=[])
    clauses = [Q(*((f"incident__{path}", value) for path, value in clause)) for clause in visibility.clauses]
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


def overdue_actions(actor, *, now=None, limit=50):
    """Open review actions past their due date, oldest first, among the reviews `actor` may see."""
    now = now or timezone.now()
    return (
        ReviewAction.objects.filter(done_at__isnull=True, due_at__lte=now, review__in=reviews_visible_to(actor).values("pk"))
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
