"""The public status page's reads: no login, so nothing here depends on who asks, and
nothing internal leaves: public ids, public titles, public updates and their times only
(never the reference, the internal title unless chosen as the public one, notes or names)."""

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils.safestring import mark_safe

from incidents import maintenance
from incidents.models import OPEN_STATUSES, Incident, MaintenanceWindow, TimelineEvent
from incidents.notify import public_title
from procedures.models import Service

UPTIME_DAYS = 90
RECENT_DAYS = 14
# The de-facto status-page component states, best first.
OPERATIONAL, DEGRADED, PARTIAL, MAJOR = "operational", "degraded_performance", "partial_outage", "major_outage"
MAINTENANCE = "under_maintenance"  # in a maintenance window, unless an incident makes it worse
LABELS = {
    OPERATIONAL: "Operational",
    MAINTENANCE: "Maintenance",
    DEGRADED: "Degraded performance",
    PARTIAL: "Partial outage",
    MAJOR: "Major outage",
}
RANK = {OPERATIONAL: 0, MAINTENANCE: 1, DEGRADED: 2, PARTIAL: 3, MAJOR: 4}
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
class PublicMaintenance:
    public_id: str
    title: str
    description: str
    services: list  # names
    service_slugs: list
    starts_at: object
    ends_at: object
    created_at: object
    updated_at: object
    in_progress: bool

    @property
    def status(self):
        return "in_progress" if self.in_progress else "scheduled"


def _public_window(window, now):
    public = sorted((s for s in window.services.all() if s.is_public), key=lambda s: s.name)
    return PublicMaintenance(
        public_id=window.public_id, title=window.title, description=window.description,
        services=[s.name for s in public], service_slugs=[s.slug for s in public], starts_at=window.starts_at,
        ends_at=window.ends_at, created_at=window.created_at, updated_at=window.updated_at,
        in_progress=window.starts_at <= now < window.ends_at,
    )  # fmt: skip


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

    @property
    def uptime_bar(self):
        """The 90 day cells as one string: 4,500 cells on a page of 50 services cost
        milliseconds this way, a template loop costs far more. States are our constants
        and titles are dates, so there is nothing to escape."""
        cells = "".join(f'<li class="day day-{state}" title="{day:%d %b}"></li>' for day, state in self.days)
        return mark_safe(f'<ol class="uptime" aria-hidden="true">{cells}</ol>')  # noqa: S308  # nosec B308 B703


# Per service: the worst state of each day in the window (one row per service and day
# with a public incident), and the seconds of outage (partial or major) in the window.
# The severity expression mirrors severity(); days are UTC dates, as `now.date()`.
_UPTIME_SQL = """
WITH spans AS (
    SELECT i.service_id,
           CASE WHEN i.is_major THEN 3 WHEN i.priority <= 2 THEN 2 ELSE 1 END AS rank,
           GREATEST(i.public_started_at, %(window)s) AS s,
           COALESCE(i.public_ended_at, %(now)s) AS e
      FROM {incident} i
     WHERE i.is_public AND i.public_id IS NOT NULL
       AND i.public_started_at <= %(now)s
       AND (i.public_ended_at IS NULL OR i.public_ended_at >= %(window)s)
)
SELECT service_id, NULL::date, NULL::int, EXTRACT(EPOCH FROM SUM(e - s))::float8
  FROM spans WHERE e > s AND rank >= 2 GROUP BY service_id
UNION ALL
SELECT service_id, d::date, MAX(rank), NULL
  FROM spans, generate_series(date_trunc('day', s AT TIME ZONE 'UTC'), date_trunc('day', e AT TIME ZONE 'UTC'), interval '1 day') AS d
 WHERE e > s AND d::date BETWEEN %(first_day)s AND %(today)s
 GROUP BY service_id, d::date
"""
_BY_RANK = {1: DEGRADED, 2: PARTIAL, 3: MAJOR}  # the SQL's ranks


def _uptime_rows(now):
    """{service id: ({date: state}, seconds of outage)} for every service with a public
    incident in the window (the caller keeps the public services')."""
    first_day = (now - timedelta(days=UPTIME_DAYS - 1)).date()
    query = _UPTIME_SQL.format(incident=Incident._meta.db_table)
    params = {"now": now, "window": now - timedelta(days=UPTIME_DAYS), "first_day": first_day, "today": now.date()}
    found = {}
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        for service_id, day, rank, seconds in cursor.fetchall():
            days, down = found.setdefault(service_id, ({}, [0.0]))
            if day is None:
                down[0] = seconds or 0.0
            else:
                days[day] = _BY_RANK[rank]
    return found


def _uptime(days_with_incidents, down_seconds, now):
    """Per day, the worst state any public incident put the service in; and the share of
    the whole window without an outage (partial or major)."""
    first_day = (now - timedelta(days=UPTIME_DAYS - 1)).date()
    days = [(day, days_with_incidents.get(day, OPERATIONAL)) for day in (first_day + timedelta(days=n) for n in range(UPTIME_DAYS))]
    percent = 100 * (1 - down_seconds / timedelta(days=UPTIME_DAYS).total_seconds())
    return days, round(max(percent, 0.0), 2)


def overview(now):
    """Everything the status page shows: each public service's state and 90 days of
    uptime, the open public incidents and the recently ended ones, with their updates."""
    services = list(Service.objects.filter(is_public=True).order_by("name").values_list("id", "name", "slug"))
    uptime = _uptime_rows(now)
    open_incidents = _load(
        public_incidents().filter(public_ended_at__isnull=True, status__in=OPEN_STATUSES).order_by("-public_started_at")
    )
    recent = _load(
        public_incidents().filter(public_ended_at__gte=now - timedelta(days=RECENT_DAYS)).order_by("-public_ended_at")[:20]
    )
    windows = [window for window in map(lambda w: _public_window(w, now), maintenance.shown(now)) if window.services]
    states = {}
    for window in windows:
        if window.in_progress:
            for slug in window.service_slugs:
                states[slug] = MAINTENANCE
    for incident in open_incidents:
        if RANK[incident.state] > RANK[states.get(incident.service_slug, OPERATIONAL)]:
            states[incident.service_slug] = incident.state
    rows = []
    for pk, name, slug in services:
        days_with_incidents, down = uptime.get(pk, ({}, [0.0]))
        days, percent = _uptime(days_with_incidents, down[0], now)
        rows.append(ServiceStatus(name, slug, states.get(slug, OPERATIONAL), days, percent))
    worst = max((row.state for row in rows), key=RANK.get, default=OPERATIONAL)
    return {
        "services": rows, "maintenance": windows, "open": open_incidents, "recent": recent, "overall": worst,
        "overall_label": LABELS[worst],
    }  # fmt: skip


_STAMP_SQL = """
SELECT GREATEST((SELECT MAX(updated_at) FROM {incident} WHERE public_id IS NOT NULL),
                (SELECT MAX(updated_at) FROM {maintenance})),
       (SELECT MD5(COALESCE(STRING_AGG(id || ':' || slug || ':' || name, '|' ORDER BY id), ''))
          FROM {service} WHERE is_public)
"""


# A change is stamped when its transaction starts (`updated_at`) but seen when it commits:
# while the newest change is this recent, one that started earlier may still be in flight,
# so a page computed now is not kept (it would be kept under a stamp that later shows it).
SETTLE = timedelta(seconds=2)


def version_stamp(now):
    """(stamp, settled): a short string that changes whenever anything the public pages
    show can change, from one query of index lookups: the newest change of any incident
    that is or was public (a public update, a publication, a resolution and an
    unpublication all move its `updated_at`) or of any maintenance window, the public
    services' names and slugs, and the current minute (open incidents' uptime spans and
    maintenance windows move with the clock). `settled` is
    False while the newest change is younger than SETTLE."""
    query = _STAMP_SQL.format(
        incident=Incident._meta.db_table, service=Service._meta.db_table, maintenance=MaintenanceWindow._meta.db_table
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        newest, services = cursor.fetchone()
    raw = "|".join(str(part) for part in (newest, services, f"{now:%Y%m%d%H%M}"))
    settled = newest is None or newest <= now - SETTLE
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest(), settled


def public_incident(public_id):
    """One public incident by its public id, or None."""
    found = _load(public_incidents().filter(public_id=public_id))
    return found[0] if found else None
