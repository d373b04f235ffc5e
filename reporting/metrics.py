"""The figures of the incident management process over a period: read from the columns
the incidents services write at each milestone (`incidents.durations`), aggregated in
the database, grouped and trended. Reads go to the reporting replica when there is one.

The cohort of a period is the incidents registered in it (cancelled ones are duplicates
or not incidents, and are left out). Durations are in seconds: `wall` is wall-clock time
from registration, `working` is working time on the incident's calendar without the time
on hold. The backlog is what was still unresolved at the period's end, by age then.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import Count, F, Q, Sum, Value
from django.utils import timezone

from incidents.models import Incident, Status
from reporting import percentiles as histograms
from reporting import rollups
from reporting.models import MetricsDay, MetricsDayBuilt, MetricsMonthBuilt
from reporting.percentiles import TOTAL
from reporting.rollups import SUM_FIELDS
from skills.policy import Action, can, incident_visibility, team_ids

MAX_YEARS = 5
WEEKLY_AFTER_DAYS = 92  # a longer period trends by week
PERCENTILES = (("median", 0.5), ("p90", 0.9))
DURATIONS = {"mtta": ("ack_seconds", "ack_working_seconds"), "mttr": ("resolve_seconds", "resolve_working_seconds")}
BACKLOG_BUCKETS = (("under_1d", 0, 1), ("1d_to_7d", 1, 7), ("7d_to_30d", 7, 30), ("over_30d", 30, None))
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Grouping:
    fields: tuple  # of Incident lookups
    label: object  # the row's values -> the group's key
    column: str  # the Incident column the group is read and rolled up by

    def key(self, row):
        return self._label([row[f] for f in self.fields])

    def _label(self, values):
        if all(v is None for v in values):
            return NONE_LABEL
        return self.label(*values)

    def labels(self, keys, using):
        """{key: label} for keys (`rollups.key_of` of the column's values) seen only in
        the roll-ups: one query for a relation, none for a plain column."""
        out = {key: NONE_LABEL for key in keys if not key}
        keys = [key for key in keys if key]
        if not self.column.endswith("_id"):
            field = Incident._meta.get_field(self.column)
            return out | {key: self._label([field.to_python(key)]) for key in keys}
        relation = self.column.removesuffix("_id")
        model = Incident._meta.get_field(relation).related_model
        paths = [f.removeprefix(f"{relation}__") for f in self.fields]
        rows = model._default_manager.using(using).filter(pk__in=[int(k) for k in keys]).values_list("pk", *paths)
        return out | {str(pk): self._label(values) for pk, *values in rows}

    def order(self, label, key):
        """Sorts as `order_by(*fields)` on PostgreSQL does (no value last)."""
        if not key:
            return (1,)
        if not self.column.endswith("_id") and self.column != "channel":
            return (0, int(key))
        if self.column == "procedure_version_id":
            slug, number = label.rsplit(" v", 1)
            return (0, slug, int(number))
        return (0, label)


def _plain(value):
    return str(value)


GROUPS = {
    "team": Grouping(("team__slug",), _plain, "team_id"),
    "category": Grouping(("category__slug",), _plain, "category_id"),
    "service": Grouping(("service__slug",), _plain, "service_id"),
    "priority": Grouping(("priority",), lambda p: f"P{p}", "priority"),
    "procedure": Grouping(
        ("procedure_version__procedure__slug", "procedure_version__number"),
        lambda slug, number: f"{slug} v{number}",
        "procedure_version_id",
    ),
    "channel": Grouping(("channel",), _plain, "channel"),
    "level": Grouping(("resolved_level",), lambda level: f"level {level}", "resolved_level"),
}


def percentile_cont(values, fraction):
    """The same percentile in Python (for SQLite, the embedded mode)."""
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class Period:
    start_date: date
    end_date: date  # inclusive

    @property
    def start(self):
        return timezone.make_aware(datetime.combine(self.start_date, time.min))

    @property
    def end(self):
        return timezone.make_aware(datetime.combine(self.end_date + timedelta(days=1), time.min))

    @property
    def days(self):
        return (self.end_date - self.start_date).days + 1

    @property
    def trend_unit(self):
        return "week" if self.days > WEEKLY_AFTER_DAYS else "day"


def scoped_incidents(actor):
    """The incidents whose figures `actor` may see: level 5 everyone's, level 4 their
    teams'; security incidents only for those who may see them. Read from the reporting
    database when there is one."""
    queryset = Incident.objects.db_manager(hints={"reporting": True}).all()
    if not can(actor, Action.VIEW_METRICS):
        return queryset.none()
    queryset = queryset.filter(incident_visibility(actor).q())
    if not can(actor, Action.VIEW_REPORTS):
        queryset = queryset.filter(team_id__in=team_ids(actor))
    return queryset


PERCENTILE_COLUMNS = {  # column -> (figure, clock)
    "ack_seconds": ("mtta", "wall"),
    "ack_working_seconds": ("mtta", "working"),
    "resolve_seconds": ("mttr", "wall"),
    "resolve_working_seconds": ("mttr", "working"),
}
MEANS = {  # figure -> (sum, how many)
    "mtta_wall_mean": ("ack_sum", "acknowledged"),
    "mtta_working_mean": ("ack_working_sum", "ack_working_n"),
    "mttr_wall_mean": ("resolve_sum", "resolved"),
    "mttr_working_mean": ("resolve_working_sum", "resolve_working_n"),
    "major_duration_mean": ("major_resolve_sum", "major_resolved"),
}


def _percentile_names():
    return [f"{name}_{clock}_{label}" for name, clock in PERCENTILE_COLUMNS.values() for label, _ in PERCENTILES]


_PERCENTILES_SQL = """SELECT {n}, 1, NULL,
  percentile_cont(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY s.{column}) FROM ({cohort}) s"""
_PERCENTILES_GROUPED_SQL = """SELECT {n}, GROUPING(s.metric_key), s.metric_key,
  percentile_cont(ARRAY[{fractions}]::float8[]) WITHIN GROUP (ORDER BY s.{column}) FROM ({cohort}) s
  GROUP BY GROUPING SETS ((), (s.metric_key))"""


def _percentiles(registered, column, grouped, postgres):
    """{group key or TOTAL: {figure: value}}: the medians and 90th percentiles, exact, from
    the incidents (they cannot be summed from roll-ups). On PostgreSQL one statement: per
    duration column one sort per group (percentile_cont over an array of fractions), the
    total and the groups together (GROUPING SETS); the columns are the branches of a UNION
    ALL, which PostgreSQL runs side by side in its parallel workers (Parallel Append)."""
    if not postgres:
        return _percentiles_in_python(registered, column)
    columns = list(PERCENTILE_COLUMNS)
    inner = registered.annotate(metric_key=F(column)).values("metric_key", *columns).order_by()
    try:
        sql, params = inner.query.get_compiler(using=registered.db).as_sql()
    except EmptyResultSet:  # someone who may see nothing
        return {}
    fractions = ", ".join(repr(float(fraction)) for _, fraction in PERCENTILES)
    template = _PERCENTILES_GROUPED_SQL if grouped else _PERCENTILES_SQL
    # Only constants (the column's number and name, the fractions) and Django's compiled SQL.
    branches = [template.format(n=n, column=c, fractions=fractions, cohort=sql) for n, c in enumerate(columns)]
    out = {}
    with connections[registered.db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), list(params) * len(columns))
        for n, is_total, key, found in cursor.fetchall():
            name, clock = PERCENTILE_COLUMNS[columns[n]]
            figures = out.setdefault(TOTAL if is_total else rollups.key_of(key), {})
            for (label, _), value in zip(PERCENTILES, found or [None] * len(PERCENTILES), strict=True):
                figures[f"{name}_{clock}_{label}"] = value
    return out


def _percentiles_from_months(registered, period, months, grouping, group_by, scope):
    """The same figures from the monthly histograms of `months` (complete months of the
    period the roll-ups may answer for) and the incidents (`reporting.percentiles`), or
    None when a bucket read disagrees with its count (then the caller sorts)."""
    month_days = {day for month in months for day in _days_of_month(month)}
    rest = {period.start_date + timedelta(days=n) for n in range(period.days)} - month_days
    runs = [registered.filter(rollups.day_ranges(run)) for run in rollups.day_runs(rest)]
    found = histograms.exact(
        registered, runs,
        column=grouping.column, grouped=group_by is not None, dimension=group_by or rollups.TOTAL_DIMENSION,
        months=months, scope=scope, fractions=[fraction for _, fraction in PERCENTILES], using=registered.db,
    )  # fmt: skip
    if found is None:
        return None
    return {
        key: {
            f"{name}_{clock}_{label}": value
            for column, (name, clock) in PERCENTILE_COLUMNS.items()
            for (label, _), value in zip(PERCENTILES, by_column[column], strict=True)
        }
        for key, by_column in found.items()
    }


def _days_of_month(month):
    day = month
    while day.month == month.month:
        yield day
        day += timedelta(days=1)


def _percentiles_in_python(queryset, column):
    """The same, in Python, where the database has none (SQLite, the embedded mode)."""
    found = {}
    for row in queryset.values(column, *PERCENTILE_COLUMNS):
        for key in (TOTAL, rollups.key_of(row[column])):
            bucket = found.setdefault(key, {c: [] for c in PERCENTILE_COLUMNS})
            for c in PERCENTILE_COLUMNS:
                bucket[c].append(row[c])
    out = {}
    for key, values in found.items():
        out[key] = {
            f"{name}_{clock}_{label}": percentile_cont(values[c], fraction)
            for c, (name, clock) in PERCENTILE_COLUMNS.items()
            for label, fraction in PERCENTILES
        }
    return out


def _round(value):
    return None if value is None else round(float(value), 1)


def share(part, whole):
    return None if not whole else round(100.0 * part / whole, 1)


def _figures(raw):
    """The published shape of one group's figures, from the raw aggregates."""
    out = {
        "count": raw["count"],
        "acknowledged": raw["acknowledged"],
        "resolved": raw["resolved"],
    }
    for name in DURATIONS:
        out[name] = {
            clock: {stat: _round(raw.get(f"{name}_{clock}_{stat}")) for stat in ("mean", "median", "p90")}
            for clock in ("wall", "working")
        }
    out |= {
        "response_sla_met_pct": share(raw["response_met"], raw["response_decided"]),
        "resolution_sla_met_pct": share(raw["resolution_met"], raw["resolution_decided"]),
        "breaches": raw["breaches"],
        "escalations": raw["escalations"] or 0,
        "escalated_incidents": raw["escalated_incidents"],
        "reopen_rate_pct": share(raw["reopened"], raw["ever_resolved"]),
        "first_line_resolution_pct": share(raw["first_line"], raw["resolved"]),
        "major_incidents": raw["major_incidents"],
        "major_duration_mean": _round(raw["major_duration_mean"]),
    }
    return out


def _from_sums(sums, percentiles):
    """The raw aggregates of one group from its summed figures and its percentiles."""
    raw = dict(sums)
    for name, (total, n) in MEANS.items():
        raw[name] = sums[total] / sums[n] if sums[n] else None
    return raw | percentiles


def _backlog(scoped, period, grouping):
    """{group key: ({bucket: count}, label)}: incidents registered before the period's end
    and neither resolved nor closed (nor cancelled) by then, by their age at the end. Two
    disjoint parts, each an index-only scan of its own covering index: resolved after the
    end (`incident_resolved`), and not resolved (`incident_unresolved_created`)."""
    end = period.end
    buckets = {}
    for name, low, high in BACKLOG_BUCKETS:
        condition = Q(created_at__lte=end - timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=end - timedelta(days=high))
        buckets[name] = Count("id", filter=condition)
    before = scoped.filter(created_at__lt=end)
    parts = (
        before.filter(resolved_at__gte=end),
        before.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=end), resolved_at__isnull=True),
    )
    fields = [grouping.column, *grouping.fields, *buckets]
    try:
        compiled = [
            part.values(grouping.column, *grouping.fields).annotate(**buckets).values_list(*fields).order_by()
            .query.get_compiler(using=scoped.db).as_sql()
            for part in parts
        ]  # fmt: skip
    except EmptyResultSet:  # someone who may see nothing
        return {}
    out = {}
    with connections[scoped.db].cursor() as cursor:  # both parts in one round trip
        cursor.execute(" UNION ALL ".join(sql for sql, _ in compiled), [p for _, ps in compiled for p in ps])
        for values in cursor.fetchall():
            row = dict(zip(fields, values, strict=True))
            counts, _ = out.setdefault(rollups.key_of(row[grouping.column]), ({n: 0 for n in buckets}, grouping.key(row)))
            for name in buckets:
                counts[name] += row[name]
    return out


TREND_SUMS = ("count", "resolved", "breaches", "acknowledged", "ack_sum", "resolve_sum", "resolve_working_sum")


def _trend_points(buckets):
    def mean(total, n):
        return _round(total / n) if n else None

    return [
        {
            "period": bucket.isoformat(),
            "count": sums["count"],
            "resolved": sums["resolved"],
            "breaches": sums["breaches"],
            "mtta_wall_mean": mean(sums["ack_sum"], sums["acknowledged"]),
            "mttr_wall_mean": mean(sums["resolve_sum"], sums["resolved"]),
            "mttr_working_mean": mean(sums["resolve_working_sum"], sums["resolved"]),
        }
        for bucket, sums in sorted(buckets.items())
    ]


def _add(into, sums):
    for name in SUM_FIELDS:
        into[name] += sums[name] or 0


def cohort(scoped, period):
    """The incidents registered in `period` (cancelled ones left out)."""
    return scoped.filter(created_at__gte=period.start, created_at__lt=period.end).exclude(status=Status.CANCELLED)


def rollup_scope(actor):
    """The filter on `MetricsDay` rows equal to `scoped_incidents(actor)`, or None when the
    roll-ups cannot express it (then everything is read from the incidents)."""
    if not can(actor, Action.VIEW_METRICS):
        return None
    clauses = incident_visibility(actor).clauses
    if clauses == ((),):
        scope = {}
    elif clauses == ((("is_security", False),),):
        scope = {"is_security": False}
    else:
        return None
    if not can(actor, Action.VIEW_REPORTS):
        scope["team_id__in"] = list(team_ids(actor))
    return scope


def rolled_up(period, using, *, months=True):
    """(days, months) of `period` the roll-ups may answer for: days built in the current
    time zone, and (when `months`) complete months whose histograms were built in it with
    the current buckets, on which no incident registered has changed since they were
    built. Two queries: what is built (days and months together), and what changed."""
    zone = str(timezone.get_current_timezone())
    built = (
        MetricsDayBuilt.objects.using(using)
        .filter(day__gte=period.start_date, day__lte=period.end_date, time_zone=zone)
        .annotate(kind=Value("day"))
        .values_list("kind", "day", "built_at")
        .order_by()
    )
    candidates = _complete_months(period) if months else []
    if candidates:
        built = built.union(
            MetricsMonthBuilt.objects.using(using)
            .filter(month__in=candidates, time_zone=zone, buckets=histograms.SCHEME)
            .annotate(kind=Value("month"))
            .values_list("kind", "month", "built_at")
            .order_by(),
            all=True,
        )
    found = {"day": {}, "month": {}}
    for kind, day, built_at in built:
        found[kind][day] = built_at
    days, months_built = found["day"], found["month"]
    if not days and not months_built:
        return set(), set()
    changed_days, changed_months = set(), set()
    since = min([*days.values(), *months_built.values()])
    for day, updated in rollups.changes(since, start=period.start, end=period.end, using=using):
        if day in days and updated >= days[day]:
            changed_days.add(day)
        month = day.replace(day=1)
        if month in months_built and updated >= months_built[month]:
            changed_months.add(month)
    return set(days) - changed_days, set(months_built) - changed_months


def rolled_up_days(period, using):
    """The days of `period` the daily roll-ups may answer for (`rolled_up`)."""
    return rolled_up(period, using, months=False)[0]


def rolled_up_months(period, using):
    """The complete months of `period` the histograms may answer for (`rolled_up`)."""
    return rolled_up(period, using)[1]


def _complete_months(period):
    months, month = [], period.start_date.replace(day=1)
    if month < period.start_date:
        month = rollups.next_month(month)
    while rollups.next_month(month) - timedelta(days=1) <= period.end_date:
        months.append(month)
        month = rollups.next_month(month)
    return months


def rollup_rows(dimension, days, scope, using):
    """The roll-ups' summed figures per (day, key) of `dimension` on `days`, within `scope`."""
    return (
        MetricsDay.objects.using(using)
        .filter(dimension=dimension, day__in=sorted(days), **scope)
        .values("day", "key")
        .annotate(**{name: Sum(name) for name in SUM_FIELDS})
        .order_by()
    )


# Sorting a year for the percentiles wants more than PostgreSQL's default 4 MB; compiling
# the aggregates (JIT) costs more than it saves on these plans.
WORK_MEM = "128MB"


def metrics(*, actor, period, group_by=None):
    """The figures `actor` may see for incidents registered in `period`: the total, one
    entry per group when `group_by` names one of GROUPS, each with its backlog at the
    period's end and its trend. A dozen queries whatever the size of the desk: the
    summable figures and the trend from the daily roll-ups for the days they hold
    (`reporting.rollups`) and from the incidents for the others; the percentiles, exact,
    from the monthly histograms of the complete months and a few buckets' values of the
    incidents (`reporting.percentiles`), or sorted from the incidents when no month is
    rolled up; the backlog from the incidents. One snapshot (REPEATABLE READ) when this
    is the outermost transaction."""
    scoped = scoped_incidents(actor)
    connection = connections[scoped.db]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=scoped.db):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if outermost:  # every read sees one snapshot: the histograms' counts and the values agree
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [WORK_MEM])
        return _metrics(scoped, period, group_by, rollup_scope(actor))


def _metrics(scoped, period, group_by, scope):
    using = scoped.db
    registered = cohort(scoped, period)
    postgres = connections[using].vendor == "postgresql"
    grouping = GROUPS[group_by or rollups.TOTAL_DIMENSION]
    dimension = group_by or rollups.TOTAL_DIMENSION
    labels = {}

    # The summable figures per group and day: the roll-ups' days, then the incidents' rest.
    days, months = rolled_up(period, using, months=postgres) if scope is not None else (set(), set())
    per_key = {}  # key -> {day: sums}

    def take(key, day, row):
        sums = per_key.setdefault(key, {}).setdefault(day, dict.fromkeys(SUM_FIELDS, 0))
        _add(sums, row)

    if days:
        for row in rollup_rows(dimension, days, scope, using):
            take(row["key"], row["day"], row)
    everyday = {period.start_date + timedelta(days=n) for n in range(period.days)}
    rest = everyday - days
    if rest:
        raw = registered if not days else registered.filter(rollups.day_ranges(rest))
        for row in rollups.by_day(raw, grouping.column, *grouping.fields):
            key = rollups.key_of(row[grouping.column])
            labels[key] = grouping.key(row)
            take(key, row["day"], row)

    percentiles = None
    if months:
        percentiles = _percentiles_from_months(registered, period, months, grouping, group_by, scope)
    if percentiles is None:
        percentiles = _percentiles(registered, grouping.column, group_by is not None, postgres)
    backlog = _backlog(scoped, period, grouping)
    for key, (_, label) in backlog.items():
        labels[key] = label
    unlabelled = {key for key in per_key if key not in labels}
    if unlabelled:
        labels |= grouping.labels(unlabelled, using)

    week = period.trend_unit == "week"
    empty_backlog = {name: 0 for name, _, _ in BACKLOG_BUCKETS}
    totals, trends = {}, {}
    all_sums, all_trend, all_backlog = dict.fromkeys(SUM_FIELDS, 0), {}, dict(empty_backlog)
    for key, by_day in per_key.items():
        totals[key] = dict.fromkeys(SUM_FIELDS, 0)
        trends[key] = {}
        for day, sums in by_day.items():
            bucket = day - timedelta(days=day.weekday()) if week else day
            _add(totals[key], sums)
            _add(all_sums, sums)
            for into in (trends[key], all_trend):
                point = into.setdefault(bucket, dict.fromkeys(TREND_SUMS, 0))
                for name in TREND_SUMS:
                    point[name] += sums[name]
    for counts, _ in backlog.values():
        for name, n in counts.items():
            all_backlog[name] += n

    result = {
        "from": period.start_date.isoformat(),
        "to": period.end_date.isoformat(),
        "group_by": group_by,
        "trend_unit": period.trend_unit,
        "total": {
            **_figures(_from_sums(all_sums, percentiles.get(TOTAL, {}))),
            "backlog": all_backlog, "trend": _trend_points(all_trend),
        },
        "groups": [],
    }  # fmt: skip
    if group_by is None:
        return result
    registered_keys = sorted((key for key in per_key if totals[key]["count"]), key=lambda k: grouping.order(labels[k], k))
    for key in registered_keys:
        raw = _from_sums(totals[key], percentiles.get(key, {}))
        result["groups"].append(
            {
                "key": labels[key], **_figures(raw), "backlog": backlog.get(key, (empty_backlog, None))[0],
                "trend": _trend_points(trends[key]),
            }
        )  # fmt: skip
    # Groups with a backlog but nothing registered in the period still show their backlog.
    names = [*SUM_FIELDS, *MEANS, *(_percentile_names() if postgres else ())]
    zero = _figures({name: 0 if name != "major_duration_mean" else None for name in names})
    for key in sorted(set(backlog) - set(registered_keys), key=lambda k: str(labels[k])):
        result["groups"].append({"key": labels[key], **zero, "backlog": backlog[key][0], "trend": []})
    return result


# --- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "group", "count", "acknowledged", "resolved",
    *(f"{name}_{clock}_{stat}" for name in DURATIONS for clock in ("wall", "working") for stat in ("mean", "median", "p90")),
    "response_sla_met_pct", "resolution_sla_met_pct", "breaches", "escalations", "escalated_incidents",
    "reopen_rate_pct", "first_line_resolution_pct", "major_incidents", "major_duration_mean",
    *(f"backlog_{name}" for name, _, _ in BACKLOG_BUCKETS),
)  # fmt: skip


def csv_rows(result):
    """One row per group and a last row for the total, in CSV_COLUMNS order."""
    entries = [*result["groups"], {**result["total"], "key": "total"}]
    for entry in entries:
        flat = {"group": entry["key"]}
        for column in CSV_COLUMNS[1:]:
            if column.startswith("backlog_"):
                flat[column] = entry["backlog"][column.removeprefix("backlog_")]
            elif column.split("_")[0] in DURATIONS and column.count("_") == 2:
                name, clock, stat = column.split("_")
                flat[column] = entry[name][clock][stat]
            else:
                flat[column] = entry[column]
        yield [flat[c] for c in CSV_COLUMNS]


# --- reading the period ----------------------------------------------------------------------

FIELD_FROM, FIELD_TO, FIELD_GROUP = "from", "to", "group_by"
BAD_DATE = "Enter a date as YYYY-MM-DD."
MISSING = "This parameter is required: the period needs a start and an end."
REVERSED = "The end of the period must be on or after its start."
TOO_LONG = "The period may be at most five years."
BAD_GROUP = "Group by one of: {choices}."


def parse_period(params, *, default=None):
    """(Period, group_by) from query parameters, or ValueError({parameter: [message]})
    naming every bad parameter. `default` (a Period) stands in when both dates are absent."""
    errors = {}
    raw_from, raw_to = params.get(FIELD_FROM, "").strip(), params.get(FIELD_TO, "").strip()
    dates = {}
    if default is not None and not raw_from and not raw_to:
        dates = {FIELD_FROM: default.start_date, FIELD_TO: default.end_date}
    else:
        for name, raw in ((FIELD_FROM, raw_from), (FIELD_TO, raw_to)):
            if not raw:
                errors[name] = [MISSING]
                continue
            try:
                dates[name] = date.fromisoformat(raw) if len(raw) == 10 else None
            except ValueError:
                dates[name] = None
            if dates[name] is None:
                errors[name] = [BAD_DATE]
    if not errors:
        if dates[FIELD_TO] < dates[FIELD_FROM]:
            errors[FIELD_TO] = [REVERSED]
        elif dates[FIELD_TO] >= _years_after(dates[FIELD_FROM], MAX_YEARS):
            errors[FIELD_TO] = [TOO_LONG]
    group_by = params.get(FIELD_GROUP, "").strip() or None
    if group_by is not None and group_by not in GROUPS:
        errors[FIELD_GROUP] = [BAD_GROUP.format(choices=", ".join(GROUPS))]
    if errors:
        raise ValueError(errors)
    return Period(dates[FIELD_FROM], dates[FIELD_TO]), group_by


def _years_after(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def default_period(now=None):
    """The last 30 days, today included."""
    today = timezone.localdate(now or timezone.now())
    return Period(today - timedelta(days=29), today)


__all__ = ["GROUPS", "Period", "metrics", "parse_period", "csv_rows", "scoped_incidents"]
