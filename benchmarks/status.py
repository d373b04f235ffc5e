"""Status page benchmark: figures, not pass/fail.

    make bench-status        # or: .venv/bin/python benchmarks/status.py [--incidents 1000000] [--services 50]

Builds its own database (firebreak_bench_status, or BENCH_STATUS_DB; made afresh each
run unless --reuse, which migrates and uses the one the last run built): the demo organisation, `--services` public services, `--incidents` incidents over
the last 180 days of which 1% were public (10 still open, each with three public
updates). Then times `GET /status/`, `/status/summary.json` and `/status/feed.atom` in
process (Django's test client: the view, its queries and the template, no network),
200 requests each, twice: cold (the cache emptied before each request, as when the version
stamp has just changed: the page is computed) and warm (the stamp unchanged: the page comes
from the cache). Prints p50 and p95 in milliseconds of wall time and of this process's CPU
time (the machine may be busy: CPU time is what the request itself costs here, without
PostgreSQL's side), with the queries per page. The cache is Django's: set CACHE_URL to a
Redis database to measure the shared cache a deployment uses.
"""

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_STATUS_DB", "firebreak_bench_status")


def log(message):
    print(f"[status-bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare(base_url, reuse=False):
    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    if not reuse:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{DB}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if not reuse:
        call_command("seed_demo", verbosity=0)


def build(incidents, services):
    from django.db import connection
    from django.utils import timezone

    from incidents import services as incident_services
    from incidents.models import Incident, TimelineEvent
    from procedures.models import Category, Service
    from skills.models import Person

    rng = random.Random(12)
    for n in range(Service.objects.count(), services):
        Service.objects.create(slug=f"service-{n}", name=f"Service {n:02d}")
    Service.objects.update(is_public=True)
    all_services = list(Service.objects.all())
    owner = Person.objects.get(username="owner5")
    template = incident_services.incident_register(
        actor=owner, title="Template", category=Category.objects.get(slug="hardware"), service=all_services[0],
        impact=2, urgency=2,
    )  # fmt: skip
    now = timezone.now()
    fields = {f.attname: getattr(template, f.attname) for f in Incident._meta.concrete_fields if f.attname != "id"}
    fields.pop("search_vector", None)
    batch, made = [], 1
    while made < incidents:
        created = now - timedelta(seconds=rng.randrange(180 * 86400))
        public = rng.random() < 0.01
        row = Incident(**{
            **fields, "title": f"Incident {made}", "service_id": rng.choice(all_services).pk, "created_at": created,
            "updated_at": created, "status": "closed", "closed_at": created + timedelta(hours=5),
            "resolved_at": created + timedelta(hours=4), "priority": rng.choice([1, 2, 3, 4]),
            "is_public": public, "public_id": f"b{made:011x}" if public else None,
            "public_started_at": created if public else None,
            "public_ended_at": created + timedelta(hours=rng.choice([1, 4, 30])) if public else None,
        })  # fmt: skip
        batch.append(row)
        made += 1
        if len(batch) == 5000:
            Incident.objects.bulk_create(batch)
            batch = []
    Incident.objects.bulk_create(batch)
    open_ones = []
    for n in range(10):
        incident = Incident.objects.create(**{
            **fields, "title": f"Open public {n}", "service_id": all_services[n].pk, "created_at": now - timedelta(hours=n),
            "updated_at": now, "status": "in_progress", "is_major": n == 0, "priority": 1 + n % 4, "is_public": True,
            "public_id": f"open{n:08d}", "public_started_at": now - timedelta(hours=n),
        })  # fmt: skip
        open_ones.append(incident)
    TimelineEvent.objects.bulk_create(
        TimelineEvent(incident=incident, kind="public_update", is_public=True, at=now - timedelta(minutes=10 * k),
                      data={"body": f"Update {k} on {incident.title}"})
        for incident in open_ones for k in range(3)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return Incident.objects.count()


def measure(path, requests, cold):
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    from incidents import status_views

    def forget():  # as when the stamp has just changed: nothing cached, here or shared
        cache.clear()
        status_views._LOCAL.clear()

    client = Client()
    client.get(path)  # warm the process (and, warm, the cache)
    if cold:
        forget()
    queries = []
    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        assert client.get(path).status_code == 200
    timings, cpu = [], []
    for _ in range(requests):
        if cold:
            forget()
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        timings.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (time.process_time() - started_cpu))
        assert response.status_code == 200
    timings.sort()
    cpu.sort()

    def pick(values, share):
        return round(values[max(int(len(values) * share) - 1, 0)], 2)

    return {"path": path, "cache": "cold" if cold else "warm", "p50_ms": pick(timings, 0.5),
            "p95_ms": pick(timings, 0.95), "cpu_p50_ms": pick(cpu, 0.5), "cpu_p95_ms": pick(cpu, 0.95),
            "queries": len(queries), "bytes": len(response.content)}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="measure the database the last run built (migrated)")
    args = parser.parse_args()
    prepare(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak"), reuse=args.reuse)
    if args.reuse:
        from incidents.models import Incident

        total = Incident.objects.count()
        log(f"reusing {DB}: {total} incidents; measuring...")
    else:
        log(f"building {args.incidents} incidents on {args.services} public services...")
        started = time.monotonic()
        total = build(args.incidents, args.services)
        log(f"{total} incidents in {time.monotonic() - started:.0f} s; measuring...")
    results = {"when": datetime.now(UTC).isoformat(), "incidents": total, "services": args.services, "pages": []}
    for path in ("/status/", "/status/summary.json", "/status/feed.atom"):
        for cold in (True, False):
            results["pages"].append(measure(path, args.requests, cold))
            log(json.dumps(results["pages"][-1]))
    print(f"\nStatus page, {total} incidents, {args.services} public services ({args.requests} requests each, in process):")
    for row in results["pages"]:
        print(f"  {row['path']:<22} {row['cache']}  p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms"
              f"  (CPU p50 {row['cpu_p50_ms']:>6} ms  p95 {row['cpu_p95_ms']:>6} ms)  {row['queries']} queries")  # fmt: skip
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"status-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
