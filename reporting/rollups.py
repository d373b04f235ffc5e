"""Daily roll-ups of the metrics' summable figures (`MetricsDay`), monthly histograms of
their durations (`MetricsMonth`), and which days and months of a period they may answer for.

One row per registration day, per value of each grouping, per team and security flag:
counts and sums of the columns the incidents services write at each milestone, so a
year of figures is a sum over a few thousand rows instead of a scan of every incident.
Percentiles cannot be summed: per month that is over, histograms of the durations
(`reporting.percentiles`) say which few values of the incidents to read for them. The
backlog at a period's end is not a property of a registration day and is read from the
incidents.

Rows are rebuilt, never edited: `rebuild` recomputes whole days from the incidents in one
transaction (idempotent; under an advisory lock on PostgreSQL so two builders never
interleave), and `refresh` (the beat job) rebuilds the days whose incidents changed since
they were built, fills the recent days not built yet, and stamps the rest as checked.
A day answers from here only while no incident registered on it has changed since its
`built_at` (every incidents service moves `updated_at` on every change): the metrics find
those days with one range scan of the `incident_updated` index and read them from the
incidents, so the figures are the same whichever way they come. Months likewise, with
their own `MetricsMonthBuilt` stamp (PostgreSQL only).
"""

from datetime import datetime, time, timedelta

from django.db import connections, router, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from incidents.models import Incident, Status
from reporting import percentiles
from reporting.models import MetricsDay, MetricsDayBuilt, MetricsMonth, MetricsMonthBuilt

# The incident column each grouping rolls up by (reporting.metrics.GROUPS names them).
DIMENSIONS = {
    "team": "team_id",
    "category": "category_id",
    "service": "service_id",
    "priority": "priority",
    "procedure": "procedure_version_id",
    "channel": "channel",
    "level": "resolved_level",
}
# Every incident is in exactly one team row (its team or none): the totals come from here.
TOTAL_DIMENSION = "team"

# A change is stamped (`updated_at`) when its transaction starts and seen when it commits:
# a build trusts only the changes stamped this long before it started.
MARGIN = timedelta(minutes=10)
# The beat job keeps this many recent days built, filling at most FILL_PER_RUN a run.
KEEP_DAYS = 400
FILL_PER_RUN = 31
# ... and the months of those days histograms, once each month is over, this many a run.
FILL_MONTHS_PER_RUN = 1
LOCK_KEY = 0x5EED_0010  # pg_advisory_xact_lock: one builder at a time


def sums():
    """The summable figures of a set of incidents (the `MetricsDay` columns)."""
    breached = Q(response_breached=True) | Q(resolution_breached=True)
    return {
        "count": Count("id"),
        "acknowledged": Count("ack_seconds"),
        "ack_working_n": Count("ack_working_seconds"),
        "resolved": Count("resolve_seconds"),
        "resolve_working_n": Count("resolve_working_seconds"),
        "ack_sum": Sum("ack_seconds", default=0),
        "ack_working_sum": Sum("ack_working_seconds", default=0),
        "resolve_sum": Sum("resolve_seconds", default=0),
        "resolve_working_sum": Sum("resolve_working_seconds", default=0),
        "response_decided": Count("id", filter=Q(ack_seconds__isnull=False) | Q(response_breached=True)),
        "response_met": Count("id", filter=Q(ack_seconds__isnull=False, response_breached=False)),
        "resolution_decided": Count("id", filter=Q(resolve_seconds__isnull=False) | Q(resolution_breached=True)),
        "resolution_met": Count("id", filter=Q(resolve_seconds__isnull=False, resolution_breached=False)),
        "breaches": Count("id", filter=breached),
        "escalations": Sum("escalation_count", default=0),
        "escalated_incidents": Count("id", filter=Q(escalation_count__gt=0)),
        "reopened": Count("id", filter=Q(reopen_count__gt=0)),
        "ever_resolved": Count("id", filter=Q(resolve_seconds__isnull=False) | Q(reopen_count__gt=0)),
        "first_line": Count("id", filter=Q(resolved_first_line=True)),
        "major_incidents": Count("id", filter=Q(is_major=True)),
        "major_resolved": Count("resolve_seconds", filter=Q(is_major=True)),
        "major_resolve_sum": Sum("resolve_seconds", filter=Q(is_major=True), default=0),
    }


SUM_FIELDS = tuple(sums())


def day_start(day, tz=None):
    return timezone.make_aware(datetime.combine(day, time.min), tz or timezone.get_current_timezone())


def day_ranges(days):
    """Q over `created_at` for a set of dates, one range per run of consecutive days."""
    condition = Q(pk__in=[])
    for first, last in _runs(sorted(days)):
        condition |= Q(created_at__gte=day_start(first), created_at__lt=day_start(last + timedelta(days=1)))
    return condition


def next_month(month):
    """The first day of the month after `month` (a date)."""
    return (month.replace(day=1) + timedelta(days=32)).replace(day=1)


def _month_start(month, tz=None):
    return day_start(month.replace(day=1), tz)


def day_runs(days):
    """The runs of consecutive days among `days`, each a list of days."""
    return [[first + timedelta(days=n) for n in range((last - first).days + 1)] for first, last in _runs(sorted(days))]


def _runs(days):
    run = []
    for day in days:
        if run and day != run[-1] + timedelta(days=1):
            yield run[0], run[-1]
            run = []
        run.append(day)
    if run:
        yield run[0], run[-1]


def by_day(queryset, *fields):
    """The summable figures of `queryset` per registration day (in the current time zone)
    and values of `fields`."""
    tz = timezone.get_current_timezone()
    return (
        queryset.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", *fields)
        .annotate(**sums())
        .order_by()
    )


def key_of(value):
    """A group's key as the roll-ups keep it: the id or value as text, "" for none."""
    return "" if value is None else str(value)


# --- building ---------------------------------------------------------------------------------


def rebuild(first, last, *, now=None):
    """Recompute the roll-up of every day from `first` to `last` (dates, both included) in
    the current time zone, from the incidents as they are now. Returns the number of days."""
    if last < first:
        return 0
    started = now or timezone.now()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    using = router.db_for_write(MetricsDay)
    months = [month for month in _months_touched(first, last) if _is_over(month, started)]
    with transaction.atomic(using=using):
        _lock(using)
        _rebuild(days, started - MARGIN, using)
        _rebuild_months(months, started - MARGIN, using)
    return len(days)


def _months_touched(first, last):
    month, out = first.replace(day=1), []
    while month <= last:
        out.append(month)
        month = next_month(month)
    return out


def _is_over(month, moment):
    return _month_start(next_month(month)) <= moment


def _lock(using):
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


def _rebuild(days, built_at, using):
    tz = timezone.get_current_timezone()
    zone = str(tz)
    registered = Incident.objects.using(using).filter(day_ranges(days)).exclude(status=Status.CANCELLED)
    rows = []
    for dimension, column in DIMENSIONS.items():
        for row in by_day(registered, column, "team_id", "is_security"):
            rows.append(
                MetricsDay(
                    day=row["day"], dimension=dimension, key=key_of(row[column]), team_id=row["team_id"],
                    is_security=row["is_security"], **{name: row[name] for name in SUM_FIELDS},
                )
            )  # fmt: skip
    for start, end in _runs(days):
        MetricsDay.objects.using(using).filter(day__gte=start, day__lte=end).delete()
        MetricsDayBuilt.objects.using(using).filter(day__gte=start, day__lte=end).delete()
    MetricsDay.objects.using(using).bulk_create(rows, batch_size=2000)
    MetricsDayBuilt.objects.using(using).bulk_create(
        [MetricsDayBuilt(day=day, built_at=built_at, time_zone=zone) for day in days], batch_size=2000
    )


def _rebuild_months(months, built_at, using):
    """Recompute the histograms (`MetricsMonth`) of `months` (first days) from the
    incidents: one INSERT ... SELECT per month and grouping. PostgreSQL only (SQLite, the
    embedded mode, sorts its percentiles in Python and keeps no histograms)."""
    if not months or connections[using].vendor != "postgresql":
        return
    zone = str(timezone.get_current_timezone())
    MetricsMonth.objects.using(using).filter(month__in=months).delete()
    MetricsMonthBuilt.objects.using(using).filter(month__in=months).delete()
    for month in months:
        registered = (
            Incident.objects.using(using)
            .filter(created_at__gte=_month_start(month), created_at__lt=_month_start(next_month(month)))
            .exclude(status=Status.CANCELLED)
        )
        for dimension, column in DIMENSIONS.items():
            percentiles.build_month(
                registered.annotate(metric_key=F(column)), month=month, dimension=dimension, using=using
            )
    MetricsMonthBuilt.objects.using(using).bulk_create(
        [MetricsMonthBuilt(month=month, built_at=built_at, time_zone=zone, buckets=percentiles.SCHEME) for month in months]
    )


def analyze():
    """ANALYZE the roll-up tables (PostgreSQL), so their reads are planned for their size."""
    using = router.db_for_write(MetricsDay)
    connection = connections[using]
    if connection.vendor == "postgresql":
        tables = [connection.ops.quote_name(model._meta.db_table) for model in (MetricsDay, MetricsMonth)]
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE " + ", ".join(tables))


def changes(since, *, start, end, using):
    """(registration day, updated_at) of the incidents registered in [start, end) that
    changed at or after `since`: one range scan of `incident_updated`."""
    tz = timezone.get_current_timezone()
    return (
        Incident.objects.using(using)
        .filter(updated_at__gte=since, created_at__gte=start, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values_list("day", "updated_at")
        .order_by()
    )


def changed_days(built, *, start, end, using):
    """The days of `built` ({day: built_at}) with an incident registered in [start, end)
    that changed at or after the day's `built_at`."""
    if not built:
        return set()
    found = changes(min(built.values()), start=start, end=end, using=using)
    return {day for day, updated in found if day in built and updated >= built[day]}


def changed_months(built, *, using):
    """The months of `built` ({first day: built_at}) with an incident registered in them
    that changed at or after the month's `built_at`."""
    if not built:
        return set()
    start, end = _month_start(min(built)), _month_start(next_month(max(built)))
    found = changes(min(built.values()), start=start, end=end, using=using)
    months = ((day.replace(day=1), updated) for day, updated in found)
    return {month for month, updated in months if month in built and updated >= built[month]}


def refresh(*, now=None, keep_days=KEEP_DAYS, fill=FILL_PER_RUN, fill_months=FILL_MONTHS_PER_RUN):
    """The beat job: rebuild the built days whose incidents changed since their build,
    the days built in another time zone, and up to `fill` of the last `keep_days` days not
    built yet (newest first); then stamp every other built day as checked up to now. The
    same for the months' histograms, once a month is over (`fill_months` new ones a run).
    Idempotent. Returns the number of days rebuilt."""
    started = now or timezone.now()
    stamp = started - MARGIN
    zone = str(timezone.get_current_timezone())
    using = router.db_for_write(MetricsDay)
    today = timezone.localdate(started)
    with transaction.atomic(using=using):
        _lock(using)
        built = dict(
            MetricsDayBuilt.objects.using(using).filter(time_zone=zone).values_list("day", "built_at")
        )
        other_zone = set(MetricsDayBuilt.objects.using(using).exclude(time_zone=zone).values_list("day", flat=True))
        oldest = min(built) if built else today
        stale = changed_days(
            built, start=day_start(oldest), end=day_start(today + timedelta(days=1)), using=using
        )
        recent = [today - timedelta(days=n) for n in range(keep_days)]
        missing = [day for day in recent if day not in built][:fill]
        days = sorted(stale | other_zone | set(missing))
        if days:
            _rebuild(days, stamp, using)
        MetricsDayBuilt.objects.using(using).filter(time_zone=zone).update(built_at=stamp)
        if connections[using].vendor == "postgresql":
            _refresh_months(started, stamp, recent[-1] if recent else today, fill_months, using)
    return len(days)


def _refresh_months(started, stamp, oldest, fill, using):
    """Rebuild the built months changed since their build or built in another time zone
    or with other buckets, and up to `fill` months over and not built yet (newest first)
    from the one holding `oldest`; stamp the rest."""
    zone = str(timezone.get_current_timezone())
    current = MetricsMonthBuilt.objects.using(using).filter(time_zone=zone, buckets=percentiles.SCHEME)
    built = dict(current.values_list("month", "built_at"))
    other = set(MetricsMonthBuilt.objects.using(using).values_list("month", flat=True)) - set(built)
    over = [month for month in _months_touched(oldest, timezone.localdate(started)) if _is_over(month, started)]
    missing = [month for month in reversed(over) if month not in built and month not in other][:fill]
    months = sorted(changed_months(built, using=using) | other | set(missing))
    _rebuild_months(months, stamp, using)
    current.update(built_at=stamp)
