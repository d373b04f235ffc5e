"""The work per request, measured where a busy machine matters least: in-process.

    DATABASE_URL=postgres://... python benchmarks/inprocess.py --incidents 1000000 --repeat 200

Works on the data set run.py built for --incidents (firebreak_bench_1m for a million) on the
server DATABASE_URL names; build it first with `run.py --incidents N --prepare-only`.

Runs each scenario's request --repeat times through Django's test client (the whole stack
below the WSGI server: middleware, token authentication, DRF, the ORM, PostgreSQL) in one
transaction that is rolled back at the end, so the creates leave nothing behind. Reports,
per scenario, the SQL statements of one request, their time as Django sees it, and the
Python CPU time this process spent per request (mean), and the median and 95th percentile
of the whole request's wall time in milliseconds. Statement counts and CPU time hardly
depend on the machine's load; wall times do. Prints a table, and
JSON on stdout with --json.

Used by run.py (the "in-process" table) and on its own while working on a request.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

import run  # noqa: E402
from run import bench_database_url, database_name  # noqa: E402

_early = argparse.ArgumentParser(add_help=False)
_early.add_argument("--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 100_000)))
run.BENCH_DB = database_name(_early.parse_known_args()[0].incidents)
os.environ["DATABASE_URL"] = bench_database_url(
    os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
)

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from incidents.models import Incident, TimelineEvent  # noqa: E402
from skills.models import Person  # noqa: E402
from skills.services import token_issue  # noqa: E402

BODIES = [
    {"title": "VPN drops every few minutes", "description": "Since this morning.", "category": "network",
     "service": "vpn", "impact": 2, "urgency": 2},
    {"title": "Outlook crashes on start", "description": "After the update.", "category": "software",
     "service": "email", "impact": 3, "urgency": 2},
    {"title": "Laptop will not power on", "description": "Tried another charger.", "category": "hardware",
     "impact": 3, "urgency": 3},
]  # fmt: skip
OPEN = "status=new&status=assigned&status=in_progress&status=on_hold"


def scenarios():
    """(name, username, method, path, body or None)."""
    busy = (
        TimelineEvent.objects.values("incident_id")
        .order_by("-incident_id")
        .values_list("incident_id", flat=True)
        .first()
    )
    detail = Incident(pk=busy).reference if busy else None
    found = [
        ("create", "agent1", "POST", "/api/v1/incidents/", BODIES),
        ("team queue (open)", "engineer3", "GET", f"/api/v1/incidents/?team=infrastructure&{OPEN}", None),
        ("team + in_progress", "engineer3", "GET", "/api/v1/incidents/?team=infrastructure&status=in_progress", None),
        ("breached, open", "engineer3", "GET", f"/api/v1/incidents/?breached=true&{OPEN}", None),
        ("search 'vpn'", "agent1", "GET", "/api/v1/incidents/?q=vpn", None),
        ("search 'ransomware'", "agent1", "GET", "/api/v1/incidents/?q=ransomware", None),
    ]
    if detail:
        found += [
            ("detail", "engineer3", "GET", f"/api/v1/incidents/{detail}/", None),
            ("timeline (50 events)", "engineer3", "GET", f"/api/v1/incidents/{detail}/timeline/", None),
        ]
    return found


def measure(client, method, path, bodies, repeat):
    def call(n):
        if method == "POST":
            response = client.post(path, bodies[n % len(bodies)], content_type="application/json")
        else:
            response = client.get(path)
        if response.status_code >= 300:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.content[:300]!r}")
        return response

    for n in range(5):  # warm: imports, caches, prepared plans
        call(n)
    statements = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((sql, (time.perf_counter() - started) * 1000))

    with connection.execute_wrapper(timed):
        call(0)
    times, cpu = [], []
    for n in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        call(n)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    times.sort()
    return {
        "statements": len(statements),
        "sql_ms": round(sum(ms for _, ms in statements), 2),
        "cpu_ms": round(statistics.mean(cpu), 2),
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 2),
        "sql": [sql[:200] for sql, _ in statements],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=100_000, help="which data set (see run.py)")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--only", default="", help="scenario names starting so, comma-separated")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    args = parser.parse_args()
    results = []
    with transaction.atomic():
        tokens = {}
        for name, username, method, path, bodies in scenarios():
            if args.only and not any(name.startswith(p) for p in args.only.split(",")):
                continue
            if username not in tokens:
                tokens[username] = token_issue(person=Person.objects.get(username=username), name="inprocess")[1]
            client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {tokens[username]}")
            results.append({"name": name, "path": path, **measure(client, method, path, bodies, args.repeat)})
        transaction.set_rollback(True)
    out = sys.stderr if args.json else sys.stdout
    print(f"Data set: {run.BENCH_DB}", file=out)
    print(f"| in-process, {args.repeat} requests each | SQL | SQL ms | CPU ms | p50 ms | p95 ms |", file=out)
    print("|---|---:|---:|---:|---:|---:|", file=out)
    for r in results:
        print(f"| {r['name']} | {r['statements']} | {r['sql_ms']:.2f} | {r['cpu_ms']:.2f} | {r['median_ms']:.2f} "
              f"| {r['p95_ms']:.2f} |", file=out)  # fmt: skip
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
