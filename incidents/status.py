"""The public status page's reads: no login, so nothing here depends on who asks, and
nothing internal leaves: public ids, public titles, public updates and their times only
(never the reference, the internal title unless chosen as the public one, notes or names)."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q

from incidents.models import OPEN_STATUSES, Incident, TimelineEvent
from incidents.notify import public_title
from procedures.models import Service

UPTIME_DAYS = 90
RECENT_DAYS = 14
# The de-facto status-page component states, best first.
OPERATIONAL, DEGRADED, PARTIAL, MAJOR = "operational", "degraded_performance", "partial_outage", "major_outage"
LABELS = {
    OPERATIONAL: "Operational",
    DEGRADED: "Degraded performance",
    PARTIAL: "Partial outage",
    MAJOR: "Major outage",
}
RANK = {OPERATIONAL: 0, DEGRADED: 1, PARTIAL: 2, MAJOR: 3}
PUBLIC_FIELDS = (
    "id", "public_id", "public_title", "public_started_at", "public_ended_at", "status", "is_major", "priority",
    "service_id", "service__name", "service__slug",
)  # fmt: skip


def severity(incident):
    """What a public incident does to its service's state."""
    if incident.is_major:
        return MAJOR
    return PARTIAL if incident.priority <= 2 else DEGRADED


@dataclass
class PublicIncident:
    public_id: str
    title: str
    service: str
    service_slug: str
    state: str
    started_at: object
    ended_at: object
    updates: list = field(default_factory=list)  # (at, body), newest first

    @property
    def is_open(self):
        return self.ended_at is None

    @property
    def state_label(self):
        return LABELS[self.state]


def _public(incident):
    return PublicIncident(
        public_id=incident.public_id,
        title=public_title(incident),
        service=incident.service.name, service_slug=incident.service.slug, state=severity(incident),
        started_at=incident.public_started_at, ended_at=incident.public_ended_at,
    )  # fmt: skip


def public_incidents():
    """Every incident shown to the public: on a public service, marked public."""
    return (
        Incident.objects.filter(is_public=True, service__is_public=True, public_id__isnull=False)
        .select_related("service")
        .only(*PUBLIC_FIELDS)
    )


def _attach_updates(incidents, rows):
    by_pk = {pk: public for pk, public in zip(rows, incidents, strict=True)}
    events = (
        TimelineEvent.objects.filter(incident_id__in=by_pk, kind=TimelineEvent.Kind.PUBLIC_UPDATE, is_public=True)
        .order_by("-at", "-id")
        .values_list("incident_id", "at", "data")
    )
    for incident_id, at, data in events:
        by_pk[incident_id].updates.append((at, str(data.get("body", ""))))


def _load(queryset):
    rows = list(queryset)
    incidents = [_public(row) for row in rows]
    _attach_updates(incidents, [row.pk for row in rows])
    return incidents


@dataclass
class ServiceStatus:
    name: str
    slug: str
    state: str
    days: list  # (date, state) for the last UPTIME_DAYS days, oldest first
    uptime_percent: float

    @property
    def state_label(self):
        return LABELS[self.state]


def _uptime(spans, now):
    """Per day, the worst state any public incident put the service in; and the share of
    the whole window without an outage (partial or major)."""
    first_day = (now - timedelta(days=UPTIME_DAYS - 1)).date()
    days = {first_day + timedelta(days=n): OPERATIONAL for n in range(UPTIME_DAYS)}
    window_start = now - timedelta(days=UPTIME_DAYS)
    down = timedelta()
    for started, ended, state in spans:
        ended = ended or now
        started = max(started, window_start)
        if ended <= started:
            continue
        day = started.date()
        while day <= ended.date():
            if day in days and RANK[state] > RANK[days[day]]:
                days[day] = state
            day += timedelta(days=1)
        if RANK[state] >= RANK[PARTIAL]:
            down += ended - started
    percent = 100 * (1 - down / timedelta(days=UPTIME_DAYS))
    return sorted(days.items()), round(max(percent, 0.0), 2)


def overview(now):
    """Everything the status page shows: each public service's state and 90 days of
    uptime, the open public incidents and the recently ended ones, with their updates."""
    services = list(Service.objects.filter(is_public=True).order_by("name").only("id", "name", "slug"))
    window = now - timedelta(days=UPTIME_DAYS)
    spans = {}
    for row in public_incidents().filter(Q(public_ended_at__isnull=True) | Q(public_ended_at__gte=window)).filter(
        public_started_at__lte=now
    ):
        spans.setdefault(row.service_id, []).append((row.public_started_at, row.public_ended_at, severity(row)))
    open_incidents = _load(
        public_incidents().filter(public_ended_at__isnull=True, status__in=OPEN_STATUSES).order_by("-public_started_at")
    )
    recent = _load(
        public_incidents().filter(public_ended_at__gte=now - timedelta(days=RECENT_DAYS)).order_by("-public_ended_at")[:20]
    )
    states = {}
    for incident in open_incidents:
        if RANK[incident.state] > RANK[states.get(incident.service_slug, OPERATIONAL)]:
            states[incident.service_slug] = incident.state
    rows = []
    for service in services:
        days, percent = _uptime(spans.get(service.pk, []), now)
        rows.append(ServiceStatus(service.name, service.slug, states.get(service.slug, OPERATIONAL), days, percent))
    worst = max((row.state for row in rows), key=RANK.get, default=OPERATIONAL)
    return {"services": rows, "open": open_incidents, "recent": recent, "overall": worst, "overall_label": LABELS[worst]}


def public_incident(public_id):
    """One public incident by its public id, or None."""
    found = _load(public_incidents().filter(public_id=public_id))
    return found[0] if found else None
