"""Inbound benchmark: figures, not pass/fail.

    make bench-inbound       # or: .venv/bin/python benchmarks/inbound.py [--incidents 1000] [--calls 20]

An alert storm through Alertmanager's webhook: `--incidents` distinct alerts (1,000) in
`--calls` webhook calls (20), then the same calls again (repeats), then their resolution.
The webhook checks and keeps the alerts; a worker applies them. Reports each phase's
slowest and median call, how long one worker (`apply_pending`, in this process) takes to
apply the phase, and checks every incident was created once and resolved once. Then one
call carrying 100 new alerts. The calls go through the whole Django stack in-process
(authentication, parser, view, PostgreSQL), without a network hop.

Uses its own database (firebreak_bench_inbound, made afresh each run).
"""

import argparse
import copy
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = "firebreak_bench_inbound"
FIRING = ROOT / "tests" / "incidents" / "fixtures" / "alertmanager" / "firing.json"


def log(message):
    print(f"[inbound-bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare_database(base_url):
    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    return urlunsplit(parts._replace(path=f"/{DB}"))


def body(first, count, status):
    template = json.loads(FIRING.read_text())
    alert = template["alerts"][0]
    alerts = []
    for n in range(first, first + count):
        one = copy.deepcopy(alert)
        one["fingerprint"] = f"storm{n:08d}"
        one["labels"] = {**one["labels"], "instance": f"host-{n}:9100"}
        one["status"] = status
        alerts.append(one)
    return {**template, "alerts": alerts, "status": status}


def timed_calls(client, bodies):
    times = []
    for payload in bodies:
        start = time.perf_counter()
        answer = client.post("/api/v1/integrations/alertmanager/", payload, format="json")
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 202, answer.content[:300]
    return times


def report(name, times):
    log(f"{name}: {len(times)} calls, median {statistics.median(times):.0f} ms, slowest {max(times):.0f} ms")
    return {"calls": len(times), "median_ms": round(statistics.median(times)), "max_ms": round(max(times))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1000, help="distinct alerts in the storm")
    parser.add_argument("--calls", type=int, default=20, help="webhook calls the storm comes in")
    args = parser.parse_args()
    if not 1 <= args.incidents <= 100_000:
        parser.error("--incidents is 1 to 100,000")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    os.environ.update({"DATABASE_URL": prepare_database(base), "API_THROTTLE_RATE": "off", "EMAIL_HOST": ""})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from incidents.models import Incident, TimelineEvent
    from skills.models import Person
    from skills.services import token_issue

    setup_test_environment()  # allow the test client's host
    _, token = token_issue(person=Person.objects.get(username="monitoring"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    per_call = -(-args.incidents // args.calls)
    starts = range(0, args.incidents, per_call)
    sizes = [min(per_call, args.incidents - s) for s in starts]
    results = {"incidents": args.incidents, "calls": args.calls}
    from incidents.inbound.alerts import apply_pending

    for phase, status in (("firing", "firing"), ("repeats", "firing"), ("resolution", "resolved")):
        results[phase] = report(phase, timed_calls(client, [body(s, n, status) for s, n in zip(starts, sizes, strict=True)]))
        start = time.perf_counter()
        applied = apply_pending()
        seconds = time.perf_counter() - start
        log(f"{phase}: one worker applied {applied} alerts in {seconds:.1f} s ({applied / seconds:.0f}/s)")
        results[phase]["worker_seconds"] = round(seconds, 2)
    storm = Incident.objects.filter(source_key__contains=":storm")
    created = storm.count()
    resolved = TimelineEvent.objects.filter(incident__in=storm, kind="resolved").count()
    repeated = TimelineEvent.objects.filter(incident__in=storm, kind="source_repeated").count()
    log(f"incidents created {created}, resolved events {resolved}, repeat events {repeated} (expected {args.incidents} each)")
    results["check"] = {"created": created, "resolved": resolved, "repeated": repeated}
    results["one_call_100_new"] = report("one call, 100 new alerts", timed_calls(client, [body(10**7, 100, "firing")]))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
