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

from django.db import connections, transaction
from django.db.models import Aggregate, Avg, Count, FloatField, Q, Sum
from django.db.models.functions import TruncDay, TruncWeek
from django.utils import timezone

from incidents.models import Incident, Status
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

    def key(self, row):
        values = [row[f] for f in self.fields]
        if all(v is None for v in values):
            return NONE_LABEL
        return self.label(*values)


def _plain(value):
    return str(value)


GROUPS = {
    "team": Grouping(("team__slug",), _plain),
    "category": Grouping(("category__slug",), _plain),
    "service": Grouping(("service__slug",), _plain),
    "priority": Grouping(("priority",), lambda p: f"P{p}"),
    "procedure": Grouping(
        ("procedure_version__procedure__slug", "procedure_version__number"), lambda slug, number: f"{slug} v{number}"
    ),
    "channel": Grouping(("channel",), _plain),
    "level": Grouping(("resolved_level",), lambda level: f"level {level}"),
}


class Percentile(Aggregate):
    """PostgreSQL's percentile_cont: the continuous percentile (linear interpolation)."""

    function = "percentile_cont"
    name = "Percentile"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


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


def _aggregates(postgres):
    figures = {
        "count": Count("id"),
        "acknowledged": Count("ack_seconds"),
        "resolved": Count("resolve_seconds"),
        "response_decided": Count("id", filter=Q(ack_seconds__isnull=False) | Q(response_breached=True)),
        "response_met": Count("id", filter=Q(ack_seconds__isnull=False, response_breached=False)),
        "resolution_decided": Count("id", filter=Q(resolve_seconds__isnull=False) | Q(resolution_breached=True)),
        "resolution_met": Count("id", filter=Q(resolve_seconds__isnull=False, resolution_breached=False)),
        "breaches": Count("id", filter=Q(response_breached=True) | Q(resolution_breached=True)),
        "escalations": Sum("escalation_count"),
        "escalated_incidents": Count("id", filter=Q(escalation_count__gt=0)),
        "reopened": Count("id", filter=Q(reopen_count__gt=0)),
        "ever_resolved": Count("id", filter=Q(resolve_seconds__isnull=False) | Q(reopen_count__gt=0)),
        "first_line": Count("id", filter=Q(resolved_first_line=True)),
        "major_incidents": Count("id", filter=Q(is_major=True)),
        "major_duration_mean": Avg("resolve_seconds", filter=Q(is_major=True)),
    }
    for name, (wall, working) in DURATIONS.items():
        for clock, column in (("wall", wall), ("working", working)):
            figures[f"{name}_{clock}_mean"] = Avg(column)
            if postgres:
                for label, fraction in PERCENTILES:
                    figures[f"{name}_{clock}_{label}"] = Percentile(column, fraction)
    return figures


def _percentiles_in_python(queryset, grouping, extra=()):
    """{group key: {figure: value}} for the percentiles, where the database has none."""
    columns = [column for pair in DURATIONS.values() for column in pair]
    fields = [*(grouping.fields if grouping else ()), *extra]
    found = {}
    for row in queryset.values(*fields, *columns):
        key = (grouping.key(row) if grouping else None, *(row[f] for f in extra))
        bucket = found.setdefault(key, {c: [] for c in columns})
        for column in columns:
            bucket[column].append(row[column])
    out = {}
    for key, values in found.items():
        out[key] = {}
        for name, (wall, working) in DURATIONS.items():
            for clock, column in (("wall", wall), ("working", working)):
                for label, fraction in PERCENTILES:
                    out[key][f"{name}_{clock}_{label}"] = percentile_cont(values[column], fraction)
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


def _backlog(queryset, period, grouping):
    """{group key: {bucket: count}}: incidents registered before the period's end and
    neither resolved nor closed (nor cancelled) by then, by their age at the end."""
    end = period.end
    open_at_end = Q(created_at__lt=end) & (
        Q(resolved_at__gte=end) | Q(resolved_at__isnull=True, closed_at__isnull=True)
        | Q(resolved_at__isnull=True, closed_at__gte=end)
    )  # fmt: skip
    buckets = {}
    for name, low, high in BACKLOG_BUCKETS:
        condition = Q(created_at__lte=end - timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=end - timedelta(days=high))
        buckets[name] = Count("id", filter=condition)
    rows = queryset.filter(open_at_end)
    rows = rows.values(*grouping.fields).annotate(**buckets) if grouping else [rows.aggregate(**buckets)]
    out = {}
    for row in rows:
        key = grouping.key(row) if grouping else None
        out[key] = {name: row[name] for name, _, _ in BACKLOG_BUCKETS}
    return out


TREND_SUMS = ("count", "resolved", "breaches", "acknowledged", "ack_sum", "resolve_sum", "resolve_working_sum")


def _trend(queryset, period, grouping):
    """{group key: {bucket: sums}} per day or week (sums, so that groups add up)."""
    trunc = TruncWeek if period.trend_unit == "week" else TruncDay
    fields = [*(grouping.fields if grouping else ())]
    rows = (
        queryset.annotate(bucket=trunc("created_at", tzinfo=timezone.get_current_timezone()))
        .values(*fields, "bucket")
        .annotate(
            count=Count("id"),
            resolved=Count("resolve_seconds"),
            breaches=Count("id", filter=Q(response_breached=True) | Q(resolution_breached=True)),
            acknowledged=Count("ack_seconds"),
            ack_sum=Sum("ack_seconds"),
            resolve_sum=Sum("resolve_seconds"),
            resolve_working_sum=Sum("resolve_working_seconds"),
        )
        .order_by()
    )
    out = {}
    for row in rows:
        key = grouping.key(row) if grouping else None
        bucket = row["bucket"]
        bucket = bucket.date() if isinstance(bucket, datetime) else bucket
        sums = out.setdefault(key, {}).setdefault(bucket, dict.fromkeys(TREND_SUMS, 0))
        for name in TREND_SUMS:
            sums[name] += row[name] or 0
    return out


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


def _add_up(per_group):
    """The total of {key: {bucket: sums}} or {key: {name: n}} over the groups."""
    total = {}
    for values in per_group.values():
        for name, value in values.items():
            if isinstance(value, dict):
                into = total.setdefault(name, dict.fromkeys(value, 0))
                for k, v in value.items():
                    into[k] += v
            else:
                total[name] = total.get(name, 0) + value
    return total


def cohort(scoped, period):
    """The incidents registered in `period` (cancelled ones left out)."""
    return scoped.filter(created_at__gte=period.start, created_at__lt=period.end).exclude(status=Status.CANCELLED)


# Sorting a year for the percentiles wants more than PostgreSQL's default 4 MB.
WORK_MEM = "64MB"


def metrics(*, actor, period, group_by=None):
    """The figures `actor` may see for incidents registered in `period`: the total, one
    entry per group when `group_by` names one of GROUPS, each with its backlog at the
    period's end and its trend. A handful of queries whatever the size of the desk."""
    scoped = scoped_incidents(actor)
    with transaction.atomic(using=scoped.db):
        connection = connections[scoped.db]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        return _metrics(scoped, period, group_by)


def _metrics(scoped, period, group_by):
    registered = cohort(scoped, period)
    postgres = connections[registered.db].vendor == "postgresql"
    aggregates = _aggregates(postgres)
    grouping = GROUPS[group_by] if group_by else None
    empty_backlog = {name: 0 for name, _, _ in BACKLOG_BUCKETS}

    total_raw = registered.aggregate(**aggregates)
    if not postgres:
        total_raw |= _percentiles_in_python(registered, None).get((None,), {})
    # Grouped, the total's backlog and trend are the sums of the groups': no second scan.
    backlog = _backlog(scoped, period, grouping)
    trend = _trend(registered, period, grouping)
    backlog_total = _add_up(backlog) or empty_backlog
    trend_total = _add_up(trend)
    result = {
        "from": period.start_date.isoformat(),
        "to": period.end_date.isoformat(),
        "group_by": group_by,
        "trend_unit": period.trend_unit,
        "total": {**_figures(total_raw), "backlog": {**empty_backlog, **backlog_total}, "trend": _trend_points(trend_total)},
        "groups": [],
    }
    if grouping is None:
        return result
    rows = list(registered.values(*grouping.fields).annotate(**aggregates).order_by(*grouping.fields))
    python_percentiles = {} if postgres else _percentiles_in_python(registered, grouping)
    seen = set()
    for row in rows:
        key = grouping.key(row)
        seen.add(key)
        raw = row | python_percentiles.get((key,), {})
        result["groups"].append(
            {
                "key": key, **_figures(raw), "backlog": backlog.get(key, empty_backlog),
                "trend": _trend_points(trend.get(key, {})),
            }
        )  # fmt: skip
    # Groups with a backlog but nothing registered in the period still show their backlog.
    zero = _figures({name: 0 if name != "major_duration_mean" else None for name in aggregates} | {"escalations": 0})
    for key in sorted(set(backlog) - seen, key=str):
        result["groups"].append({"key": key, **zero, "backlog": backlog[key], "trend": []})
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
