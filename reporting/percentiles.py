"""Exact medians and 90th percentiles of the duration columns over a long period, without
sorting every value of it (PostgreSQL only).

`percentile_cont(f)` over n values is v[lo] + (v[hi] - v[lo]) * (f(n - 1) - lo), with
lo = floor(f(n - 1)) and hi = ceil(f(n - 1)) the ranks in ascending order. Which values
hold those ranks needs no sort of the n values:

1. `MetricsMonth` keeps, per complete month, grouping value, team and security flag, how
   many values of each duration column fell in each bucket of `BOUNDS` (log-spaced,
   fixed here). The months of the period are summed from it, the days outside complete
   months (the period's edges, and months changed since they were built) are counted
   from the incidents.
2. Added up bucket by bucket, the counts say which bucket holds rank lo (and hi) of each
   group and column, and its rank within the bucket.
3. Only those buckets' values are read from the incidents, one index range scan per run
   of buckets (`incident_pct_*`: each duration column with what the cohort's filter and
   the groupings read), ranked in PostgreSQL, and the ranks wanted returned. A bucket one
   second wide needs no read: its values are all its lower bound.

The result is `percentile_cont`'s to the last bit (the same float arithmetic), for the
cohort as the caller filtered it (level 4's teams, the security wall). Every bucket read
must hold as many values as its count said: if not (an incident changed outside the
services, or read in another snapshot), `exact` returns None and the caller sorts.
"""

import math
from bisect import bisect_right

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Sum

from reporting.models import MetricsMonth

# Each bucket is at most this much wider than its lower bound (and at least a second).
GROWTH = 1.01
TOP = 2**31  # above every value of a PositiveIntegerField


def _bounds(growth):
    bounds, edge = [0], 1
    while edge < TOP:
        bounds.append(edge)
        edge = max(edge + 1, math.floor(edge * growth))
    return tuple(bounds)


# Bucket b (1-based, PostgreSQL's width_bucket(value, BOUNDS)) holds [BOUNDS[b-1], BOUNDS[b]).
BOUNDS = _bounds(GROWTH)
# Stored with each built month: rows made with other bounds are never read.
SCHEME = f"log{GROWTH}/{len(BOUNDS)}"
# The duration columns and the `MetricsMonth` count of each.
COLUMNS = {
    "ack_seconds": "ack",
    "ack_working_seconds": "ack_working",
    "resolve_seconds": "resolve",
    "resolve_working_seconds": "resolve_working",
}
TOTAL = object()  # the key of the total among the groups' figures


def bucket_of(value):
    """The bucket `value` falls in, as PostgreSQL's width_bucket(value, BOUNDS) says."""
    return bisect_right(BOUNDS, value)


def bucket_range(bucket):
    """[low, high) of a bucket."""
    return BOUNDS[bucket - 1], BOUNDS[bucket] if bucket < len(BOUNDS) else TOP


# --- SQL (only constants and Django's compiled SQL are formatted in: bandit B608) ------------

_VALUES = ", ".join(f"({n}, s.{column})" for n, column in enumerate(COLUMNS))
_COUNTS = ", ".join(COLUMNS.values())
_SUMS = ", ".join(f"sum({name})" for name in COLUMNS.values())
_BUCKETS = ", ".join(f"b{n}" for n in range(len(COLUMNS)))
# The bounds as an SQL constant (integers from code), so no statement sends them as a parameter.
_BOUNDS_SQL = "'{" + ",".join(str(bound) for bound in BOUNDS) + "}'::int[]"
_WIDTHS = ", ".join(f"width_bucket(s.{column}, {_BOUNDS_SQL}) AS b{n}" for n, column in enumerate(COLUMNS))
_FILTERS = ", ".join(f"count(*) FILTER (WHERE u.n = {n})" for n in range(len(COLUMNS)))

# One month's histogram rows of one grouping (`cohort` selects metric_key, team_id,
# is_security and the duration columns).
BUILD_SQL = """INSERT INTO {table} (month, dimension, key, team_id, is_security, bucket, {counts})
SELECT %s::date, %s::varchar, coalesce(s.metric_key::text, ''), s.team_id, s.is_security,
  width_bucket(u.v, {bounds}), {filters}
FROM ({cohort}) s CROSS JOIN LATERAL (VALUES {values}) u(n, v)
WHERE u.v IS NOT NULL GROUP BY 3, 4, 5, 6"""
# The same month and grouping for every team and flag together, from the rows just written.
WHOLE_SQL = """INSERT INTO {table} (month, dimension, key, team_id, is_security, bucket, {counts})
SELECT month, dimension, key, NULL, NULL, bucket, {sums} FROM {table}
WHERE month = %s AND dimension = %s AND is_security IS NOT NULL GROUP BY month, dimension, key, bucket"""
# The histogram of incidents outside the rolled-up months: (key, which column's bucket
# the row counts (GROUPING's bit), bucket per column, count), one hash table per column in
# one pass (GROUPING SETS).
_REST_SQL = """SELECT {key}, GROUPING({buckets}), {buckets}, count(*)
FROM (SELECT s.*, {widths} FROM ({cohort}) s) s
GROUP BY GROUPING SETS ({sets})"""
# The values of the wanted buckets of one column, ranked within their bucket. One index
# range scan per run of buckets (r; OFFSET 0 keeps the planner from flattening the subquery
# and scanning the whole index instead), each value's bucket computed once (s); a value is
# ranked for the total ('t') when its bucket is one the total wants, and for its group
# ('g' + key) when its group wants that bucket ('key:bucket'); the ranks wanted
# ('label:bucket:rank') are returned with their bucket's count (cnt), which must be the
# histogram's.
_FETCH_SQL = """SELECT {n}, z.k, z.b, z.rank, z.v, z.cnt FROM (
  WITH s AS MATERIALIZED (
    SELECT c.* FROM unnest(%s::bigint[], %s::bigint[]) AS r(lo, hi)
    CROSS JOIN LATERAL (
      SELECT c.{column} AS v, width_bucket(c.{column}, {bounds}) AS b{key}
      FROM ({cohort}) c WHERE c.{column} >= r.lo AND c.{column} < r.hi OFFSET 0
    ) c
  )
  {ranked}
) z WHERE z.k || ':' || z.b || ':' || z.rank = ANY(%s::text[])"""
_RANKED_TOTAL = """SELECT 't' AS k, s.b, s.v, row_number() OVER (PARTITION BY s.b ORDER BY s.v) - 1 AS rank,
    count(*) OVER (PARTITION BY s.b) AS cnt
  FROM s WHERE s.b = ANY(%s::int[])"""
_RANKED_GROUPS = """
  UNION ALL
  SELECT 'g' || s.key, s.b, s.v, row_number() OVER (PARTITION BY s.key, s.b ORDER BY s.v) - 1,
    count(*) OVER (PARTITION BY s.key, s.b)
  FROM s WHERE s.key || ':' || s.b = ANY(%s::text[])"""
_GROUPED_FETCH = {"key": ", coalesce(c.metric_key::text, '') AS key", "ranked": _RANKED_TOTAL + _RANKED_GROUPS}
_TOTAL_FETCH = {"key": "", "ranked": _RANKED_TOTAL}


def build_month(cohort, *, month, dimension, using):
    """Write the histogram rows of `month` for one grouping; `cohort` is the month's
    registered incidents annotated with `metric_key` (the grouping's column)."""
    inner = cohort.values("metric_key", "team_id", "is_security", *COLUMNS).order_by()
    try:
        sql, params = inner.query.get_compiler(using=using).as_sql()
    except EmptyResultSet:
        return
    table = connections[using].ops.quote_name(MetricsMonth._meta.db_table)
    statement = BUILD_SQL.format(
        table=table, counts=_COUNTS, bounds=_BOUNDS_SQL, filters=_FILTERS, values=_VALUES, cohort=sql
    )
    with connections[using].cursor() as cursor:
        cursor.execute(statement, [month, dimension, *params])
        cursor.execute(WHOLE_SQL.format(table=table, counts=_COUNTS, sums=_SUMS), [month, dimension])


# --- reading ----------------------------------------------------------------------------------


def exact(registered, rest, *, column, grouped, dimension, months, scope, fractions, using):
    """{TOTAL or group key: {duration column: [percentile_cont(f) for f in fractions]}} of
    `registered` (the period's cohort, as the caller may see it), grouped by `column`'s
    value (`rollups.key_of`) when `grouped`. `months` are rolled up in `MetricsMonth` for
    `dimension` and `scope` (the same cohort as rows); `rest` is the
    cohort's incidents outside them, as querysets (one per run of days). None when a bucket
    read disagrees with its count."""
    counts = _month_counts(dimension, months, scope, grouped, using)
    if rest:
        _add_rest(counts, rest, column, grouped, using)
    if grouped:  # the total is the sum of the groups
        total = counts.setdefault(TOTAL, [{} for _ in COLUMNS])
        for key, columns in counts.items():
            if key is TOTAL:
                continue
            for into, histogram in zip(total, columns, strict=True):
                for bucket, n in histogram.items():
                    into[bucket] = into.get(bucket, 0) + n
    places, known, reads = {}, {}, [({}, set()) for _ in COLUMNS]
    for key, columns in counts.items():
        label = "t" if key is TOTAL else f"g{key}"
        for n, histogram in enumerate(columns):
            size = sum(histogram.values())
            for rank, (bucket, within) in _place(histogram, _ranks(size, fractions)).items():
                low, high = bucket_range(bucket)
                if high - low == 1:  # one second wide: every value in it is `low`
                    known[(key, n, rank)] = low
                    continue
                places[(key, n, rank)] = (label, bucket, within)
                buckets, wanted = reads[n]
                buckets[(label, bucket)] = histogram[bucket]
                wanted.add((label, bucket, within))
    found = _fetch(registered, column, grouped, reads, using)
    if found is None:
        return None
    for place, (label, bucket, within) in places.items():
        if (label, bucket, within, place[1]) not in found:
            return None
        known[place] = found[(label, bucket, within, place[1])]
    out = {}
    for key, columns in counts.items():
        out[key] = {}
        for n, column_name in enumerate(COLUMNS):
            size = sum(columns[n].values())
            out[key][column_name] = [_interpolate(known, key, n, size, f) for f in fractions]
    return out


def _month_counts(dimension, months, scope, grouped, using):
    """{key or TOTAL: [{bucket: count} per column]} of the rolled-up months."""
    fields = ("key", "bucket") if grouped else ("bucket",)
    # Everyone's figures from the rows of every team and flag together; a scope from the
    # rows split by team and flag.
    rows = (
        MetricsMonth.objects.using(using)
        .filter(dimension=dimension, month__in=sorted(months), is_security__isnull=not scope, **scope)
        .values(*fields)
        .annotate(**{f"n_{name}": Sum(name) for name in COLUMNS.values()})
        .order_by()
        .values_list(*fields, *(f"n_{name}" for name in COLUMNS.values()))
    )
    counts = {}
    sql, params = rows.query.get_compiler(using=using).as_sql()
    with connections[using].cursor() as cursor:  # thousands of rows: no converters
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for row in rows:
        key, bucket, found = (row[0], row[1], row[2:]) if grouped else (TOTAL, row[0], row[1:])
        columns = counts.setdefault(key, [{} for _ in COLUMNS])
        for histogram, n in zip(columns, found, strict=True):
            if n:
                histogram[bucket] = histogram.get(bucket, 0) + n
    return counts


def _add_rest(counts, rest, column, grouped, using):
    """Add the histogram of `rest` (querysets of the incidents outside the rolled-up
    months, one per run of days: a UNION ALL of range scans, where one filter with OR'ed
    ranges would scan the whole period) to `counts`."""
    parts, params = [], []
    for queryset in rest:
        inner = queryset.annotate(metric_key=F(column)).values("metric_key", *COLUMNS).order_by()
        try:
            sql, part_params = inner.query.get_compiler(using=using).as_sql()
        except EmptyResultSet:
            continue
        parts.append(f"({sql})")
        params += part_params
    if not parts:
        return
    sql = " UNION ALL ".join(parts)
    key = "coalesce(s.metric_key::text, '')" if grouped else "''::text"
    statement = _REST_SQL.format(
        key=key, buckets=_BUCKETS, widths=_WIDTHS, cohort=sql,
        sets=", ".join(f"({key}, b{n})" if grouped else f"(b{n})" for n in range(len(COLUMNS))),
    )  # fmt: skip
    # GROUPING(b0, b1, b2, b3) has the bits of the columns a row is not grouped by set.
    which = {(1 << len(COLUMNS)) - 1 - (1 << (len(COLUMNS) - 1 - n)): n for n in range(len(COLUMNS))}
    with connections[using].cursor() as cursor:
        cursor.execute(statement, params)
        for key, grouping, *buckets, found in cursor.fetchall():
            n = which[grouping]
            if buckets[n] is None:  # the incidents without this duration
                continue
            histogram = counts.setdefault(key if grouped else TOTAL, [{} for _ in COLUMNS])[n]
            histogram[buckets[n]] = histogram.get(buckets[n], 0) + found


def _ranks(size, fractions):
    """The ranks (0-based, ascending) percentile_cont reads for each fraction."""
    ranks = set()
    for fraction in fractions if size else ():
        position = fraction * (size - 1)
        ranks |= {math.floor(position), math.ceil(position)}
    return ranks


def _place(histogram, ranks):
    """{rank: (bucket, rank within the bucket)} of the wanted ranks."""
    out, below, wanted = {}, 0, sorted(ranks)
    for bucket in sorted(histogram):
        n = histogram[bucket]
        while wanted and wanted[0] < below + n:
            rank = wanted.pop(0)
            out[rank] = (bucket, rank - below)
        below += n
    return out


def _interpolate(known, key, n, size, fraction):
    """percentile_cont's arithmetic (PostgreSQL's float8 lerp), on the values at its ranks."""
    if not size:
        return None
    position = fraction * (size - 1)
    low, high = math.floor(position), math.ceil(position)
    low_value, high_value = float(known[(key, n, low)]), float(known[(key, n, high)])
    return low_value + (position - low) * (high_value - low_value)


def _runs(buckets):
    """[(low, high)] of the runs of consecutive buckets."""
    runs = []
    for bucket in sorted(buckets):
        low, high = bucket_range(bucket)
        if runs and runs[-1][1] == low:
            runs[-1] = (runs[-1][0], high)
        else:
            runs.append((low, high))
    return runs


def _fetch(registered, column, grouped, reads, using):
    """{(label, bucket, rank within it, column number): value} for the wanted ranks, in one
    statement (a UNION ALL branch per column); None if a bucket's count differs."""
    shape = _GROUPED_FETCH if grouped else _TOTAL_FETCH
    fields = ("metric_key",) if grouped else ()
    branches, all_params = [], []
    for n, name in enumerate(COLUMNS):
        buckets, wanted = reads[n]
        if not wanted:
            continue
        inner = registered.annotate(metric_key=F(column)).values(*fields, name).order_by()
        try:
            sql, params = inner.query.get_compiler(using=using).as_sql()
        except EmptyResultSet:
            return {}
        runs = _runs({bucket for _, bucket in buckets})
        branches.append(_FETCH_SQL.format(n=n, column=name, bounds=_BOUNDS_SQL, cohort=sql, **shape))
        total = [bucket for label, bucket in buckets if label == "t"]
        groups = [f"{label[1:]}:{bucket}" for label, bucket in buckets if label != "t"]
        all_params += [
            [low for low, _ in runs], [high for _, high in runs], *params,
            total, *([groups] if grouped else []),
            [f"{label}:{bucket}:{rank}" for label, bucket, rank in sorted(wanted)],
        ]  # fmt: skip
    if not branches:
        return {}
    found = {}
    with connections[using].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"({branch})" for branch in branches), all_params)
        for n, label, bucket, rank, value, size in cursor.fetchall():
            if size != reads[n][0][(label, bucket)]:
                return None
            found[(label, bucket, rank, n)] = value
    return found
