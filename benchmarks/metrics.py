"""How fast the metrics answer over a year of incidents (figures, not pass/fail).

    make bench-metrics                                   # 100,000 incidents
    .venv/bin/python benchmarks/metrics.py --incidents 100000 [--repeat 5] [--plans]
    .venv/bin/python benchmarks/metrics.py --database fb_bench_metrics   # an existing copy

Uses its own database, `<DATABASE_URL's name>_metrics` (created if missing, migrated,
seeded with the demo organisation, then topped up by dataset.py, which writes the metric
columns the services write), so no dev, test or shared bench database is touched; or,
with `--database NAME` (`BENCH_DATABASE`), an existing database on the same server, e.g. a
copy of the million (`CREATE DATABASE fb_bench_metrics TEMPLATE firebreak_bench_1m`), which
is only migrated. Times `reporting.metrics.metrics` over the last 365 days (up to the
newest incident) for the process owner (everything) and the incident manager (their
teams), without grouping and with each grouping: median and p95 of the repeats, and
prints the plan of the grouped aggregate and of the backlog query.
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def database_url(source, database=None):
    parts = urlsplit(source)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"DATABASE_URL must be a PostgreSQL URL for the benchmark, not {parts.scheme}://")
    name = database or f"{parts.path.lstrip('/') or 'firebreak'}_metrics"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def ensure_database(url, name):
    import psycopg
    from psycopg import sql

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres")).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(env, incidents, existing=False):
    def run(*args):
        subprocess.run([PYTHON, *args], cwd=ROOT, env=env, check=True)

    run("manage.py", "migrate", "--noinput", "-v0")
    if existing:
        return
    run("manage.py", "seed_demo")
    run("benchmarks/dataset.py", "--target", str(incidents))


def nearest_rank(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))]


def check(metrics, people, year):
    """Every case once more with the roll-ups (days and months) ignored, so everything is
    read from the incidents and the percentiles sorted: the figures must be the same."""
    real, differ = metrics.rolled_up, 0
    for person in people:
        for group_by in (None, *metrics.GROUPS):
            rolled = metrics.metrics(actor=person, period=year, group_by=group_by)
            metrics.rolled_up = lambda period, using, months=True: (set(), set())
            try:
                plain = metrics.metrics(actor=person, period=year, group_by=group_by)
            finally:
                metrics.rolled_up = real
            differ += rolled != plain
            print(f"check {person.username:<10} {group_by or '-':<10} {'same' if rolled == plain else 'DIFFERENT'}")
    print(f"roll-ups and incidents agree in {2 * (1 + len(metrics.GROUPS)) - differ} of {2 * (1 + len(metrics.GROUPS))} cases")


def _load_baseline(path):
    """Another version of reporting/metrics.py (e.g. `git show main:reporting/metrics.py`),
    loaded beside this one to be timed in turn with it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("baseline_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(repeat, plans, checking=False, baseline_path=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count, Q, Sum
    from django.utils import timezone

    from incidents.models import Incident
    from reporting import metrics, rollups
    from reporting.models import MetricsDay
    from reporting.rollups import SUM_FIELDS
    from skills.models import Person

    newest = Incident.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    today = timezone.localdate(newest) if newest else timezone.localdate()
    year = metrics.Period(today - timedelta(days=364), today)
    owner, manager = Person.objects.get(username="owner5"), Person.objects.get(username="manager4")
    built = MetricsDay.objects.filter(day__gte=year.start_date, day__lte=year.end_date).count()
    print(f"incidents: {Incident.objects.count()}; period {year.start_date} .. {year.end_date}; roll-up rows {built}")
    baseline = _load_baseline(baseline_path) if baseline_path else None
    head = f"{'who':<10} {'group_by':<10} {'median ms':>10} {'p95 ms':>8} {'min ms':>8} {'queries':>8} {'groups':>7}"
    print(head + (f" {'base median':>12} {'base p95':>9}" if baseline else ""))
    for person in (owner, manager):
        for group_by in (None, *metrics.GROUPS):
            timings, base = [], []
            for _ in range(repeat):
                if baseline:  # in turn with this code's, so both meet the same load
                    started = time.perf_counter()
                    baseline.metrics(actor=person, period=baseline.Period(year.start_date, year.end_date), group_by=group_by)
                    base.append((time.perf_counter() - started) * 1000)
                connection.queries_log.clear()
                connection.force_debug_cursor = True
                started = time.perf_counter()
                result = metrics.metrics(actor=person, period=year, group_by=group_by)
                timings.append((time.perf_counter() - started) * 1000)
                queries = len(connection.queries)
                connection.force_debug_cursor = False
            print(
                f"{person.username:<10} {group_by or '-':<10} {statistics.median(timings):>10.1f} "
                f"{nearest_rank(timings, 0.95):>8.1f} {min(timings):>8.1f} {queries:>8} {len(result['groups']):>7}"
                + (f" {statistics.median(base):>12.1f} {nearest_rank(base, 0.95):>9.1f}" if baseline else ""),
                flush=True,
            )
    if checking:
        check(metrics, (owner, manager), year)
    if plans:
        from reporting.models import MetricsDay

        scoped = metrics.scoped_incidents(owner)
        registered = metrics.cohort(scoped, year)
        rollup = (
            MetricsDay.objects.filter(dimension="service", day__gte=year.start_date, day__lte=year.end_date)
            .values("day", "key")
            .annotate(**{name: Sum(name) for name in SUM_FIELDS})
        )
        print("\n-- plan: the roll-ups of the year by service (owner5)\n" + rollup.explain(analyze=True, buffers=True))
        print("\n-- plan: the year's summable figures from the incidents, by service and day (owner5)\n"
              + rollups.by_day(registered, "service_id").explain(analyze=True, buffers=True))  # fmt: skip
        unresolved = scoped.filter(created_at__lt=year.end, resolved_at__isnull=True).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gte=year.end)
        )
        print("\n-- plan: the backlog's unresolved part (owner5)\n"
              + unresolved.values("service_id").annotate(n=Count("id")).explain(analyze=True, buffers=True))  # fmt: skip
        for group_by in (None, "service"):
            timed_statements(metrics, owner, year, group_by)


def timed_statements(metrics, person, year, group_by):
    """Each statement of one metrics request with its time, then the plans of the
    percentiles' statements (the months' histograms, the edges' histogram, the buckets'
    values) as they ran."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        metrics.metrics(actor=person, period=year, group_by=group_by)
    print(f"\n-- statements of one request ({person.username}, group_by={group_by or '-'}): ms, statement")
    for query in captured.captured_queries:
        print(f"{float(query['time']) * 1000:8.1f}  {' '.join(query['sql'].split())[:110]}")
    wanted = ("reporting_metricsmonth", "width_bucket")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", [metrics.WORK_MEM])
        for query in captured.captured_queries:
            if any(word in query["sql"] for word in wanted) and query["sql"].lstrip().startswith(("SELECT", "(SELECT")):
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                print(f"\n-- plan: {' '.join(query['sql'].split())[:90]}\n" + "\n".join(r[0] for r in cursor.fetchall()))


def build_rollups():
    """Rebuild the roll-ups of the year (the beat job's and rebuild_metrics' work), timed."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from incidents.models import Incident

    newest = Incident.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    today = timezone.localdate(newest) if newest else timezone.localdate()
    started = time.perf_counter()
    call_command("rebuild_metrics", "--from", (today - timedelta(days=364)).isoformat(), "--to", today.isoformat())
    print(f"roll-ups of the year rebuilt in {time.perf_counter() - started:.1f} s")
    # What the beat job does when an incident of a month that is over changes: that month's
    # days and histograms again, and the days alone for comparison.
    from reporting import rollups
    from reporting.models import MetricsMonth

    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    end = rollups.next_month(month) - timedelta(days=1)
    started = time.perf_counter()
    rollups.rebuild(month, end, now=rollups.day_start(end))  # not over then: its days only
    days = time.perf_counter() - started
    started = time.perf_counter()
    rollups.rebuild(month, end)  # and built as of now again
    both = time.perf_counter() - started
    rows = MetricsMonth.objects.filter(month__gte=today - timedelta(days=364)).count()
    print(f"one month ({month:%Y-%m}) rebuilt in {both:.1f} s, of which its histograms {both - days:.1f} s; "
          f"histogram rows of the year {rows}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 100_000)))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_DATABASE"),
        help="an existing database on DATABASE_URL's server to measure (only migrated, never topped up)",
    )  # fmt: skip
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN ANALYZE of the main queries")
    parser.add_argument("--check", action="store_true", help="compare every case with the roll-ups ignored")
    parser.add_argument(
        "--baseline", metavar="FILE",
        help="another reporting/metrics.py (git show main:reporting/metrics.py > FILE) timed in turn with this one",
    )  # fmt: skip
    parser.add_argument(
        "--rollups", choices=("keep", "build", "drop"), default="keep",
        help="build: rebuild the year's roll-ups first (timed); drop: delete them (the incidents answer alone)",
    )  # fmt: skip
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    if args.build_only:
        build_rollups()
        return
    if args.measure_only:
        measure(args.repeat, args.plans, args.check, args.baseline)
        return
    url, name = database_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak"), args.database)
    if not args.database:
        ensure_database(url, name)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "EMAIL_HOST": "",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    prepare(env, args.incidents, existing=bool(args.database))
    if args.rollups == "build":
        subprocess.run([PYTHON, __file__, "--build-only"], cwd=ROOT, env=env, check=True)
    elif args.rollups == "drop":
        drop = "from reporting.models import MetricsDay, MetricsDayBuilt; MetricsDay.objects.all().delete(); MetricsDayBuilt.objects.all().delete()"
        subprocess.run([PYTHON, "manage.py", "shell", "-c", drop], cwd=ROOT, env=env, check=True)
    command = [PYTHON, __file__, "--measure-only", "--repeat", str(args.repeat), *(["--plans"] if args.plans else []),
               *(["--check"] if args.check else []), *(["--baseline", args.baseline] if args.baseline else [])]  # fmt: skip
    subprocess.run(command, cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
