"""How fast the metrics answer over a year of incidents (figures, not pass/fail).

    make bench-metrics                                   # 100,000 incidents
    .venv/bin/python benchmarks/metrics.py --incidents 100000 [--repeat 3] [--plans]

Uses its own database, `<DATABASE_URL's name>_metrics` (created if missing, migrated,
seeded with the demo organisation, then topped up by dataset.py, which writes the metric
columns the services write), so no dev, test or shared bench database is touched. Times
`reporting.metrics.metrics` over the last 365 days for the process owner (everything) and
the incident manager (their teams), without grouping and with each grouping, and prints
the plan of the grouped aggregate and of the backlog query.
"""

import argparse
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


def database_url(source):
    parts = urlsplit(source)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(f"DATABASE_URL must be a PostgreSQL URL for the benchmark, not {parts.scheme}://")
    name = parts.path.lstrip("/") or "firebreak"
    return urlunsplit(parts._replace(path=f"/{name}_metrics")), f"{name}_metrics"


def ensure_database(url, name):
    import psycopg
    from psycopg import sql

    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres")).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare(env, incidents):
    def run(*args):
        subprocess.run([PYTHON, *args], cwd=ROOT, env=env, check=True)

    run("manage.py", "migrate", "--noinput", "-v0")
    run("manage.py", "seed_demo")
    run("benchmarks/dataset.py", "--target", str(incidents))


def measure(repeat, plans):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from incidents.models import Incident
    from reporting import metrics
    from skills.models import Person

    today = timezone.localdate()
    year = metrics.Period(today - timedelta(days=364), today)
    owner, manager = Person.objects.get(username="owner5"), Person.objects.get(username="manager4")
    print(f"incidents: {Incident.objects.count()}; period {year.start_date} .. {year.end_date}")
    print(f"{'who':<10} {'group_by':<10} {'median ms':>10} {'min ms':>8} {'queries':>8} {'groups':>7}")
    for person in (owner, manager):
        for group_by in (None, *metrics.GROUPS):
            timings = []
            for _ in range(repeat):
                connection.queries_log.clear()
                connection.force_debug_cursor = True
                started = time.perf_counter()
                result = metrics.metrics(actor=person, period=year, group_by=group_by)
                timings.append((time.perf_counter() - started) * 1000)
                queries = len(connection.queries)
                connection.force_debug_cursor = False
            print(
                f"{person.username:<10} {group_by or '-':<10} {statistics.median(timings):>10.1f} "
                f"{min(timings):>8.1f} {queries:>8} {len(result['groups']):>7}"
            )
    if plans:
        scoped = metrics.scoped_incidents(owner)
        grouped = (
            metrics.cohort(scoped, year)
            .values("team__slug")
            .annotate(**metrics._aggregates(postgres=True))
            .order_by("team__slug")
        )
        print("\n-- plan: the year grouped by team (owner5)\n" + grouped.explain(analyze=True, buffers=True))
        backlog = scoped.filter(created_at__lt=year.end).filter(
            Q(resolved_at__gte=year.end) | Q(resolved_at__isnull=True)
        )
        print("\n-- plan: the backlog at the period's end (owner5)\n" + backlog.explain(analyze=True, buffers=True))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 100_000)))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN ANALYZE of the main queries")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_only:
        measure(args.repeat, args.plans)
        return
    url, name = database_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak"))
    ensure_database(url, name)
    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "false", "EMAIL_HOST": "",
           "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key", "PYTHONUNBUFFERED": "1"}  # fmt: skip
    prepare(env, args.incidents)
    command = [PYTHON, __file__, "--measure-only", "--repeat", str(args.repeat), *(["--plans"] if args.plans else [])]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


if __name__ == "__main__":
    main()
