"""Firebreak browser-pages benchmark: figures, not pass/fail. See benchmarks/README.md.

    make bench-ui                                   # BENCH_INCIDENTS (a million), after make bench-data
    .venv/bin/python benchmarks/ui.py --incidents 20000 --runs 20 --pages-seconds 20

1. The benchmark database of that size, next to DATABASE_URL's (run.py's: firebreak_bench
   for 100,000, firebreak_bench_1m for a million; built once by `make bench-data`, or here
   the same way, and reused). It only reads the incidents.
2. Server side, in-process (Django's test client: the whole middleware stack and view, no
   network): the queue page with each sort and each filter, the dashboard, and the live
   poll that finds nothing changed (queue, incident page, dashboard): p50/p95/max and the
   number of queries, as incident manager `manager4` (level 4) and `owner5` (level 5, who
   also sees security incidents).
3. 50 open pages: gunicorn (2 workers) and 50 pollers (threads, one keep-alive connection
   each) polling every 5 s as static/js/live.js does (with the last ETag) for
   --pages-seconds: what the server answers, its latency, and the CPU the server and the
   database used, as a share of one core.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (the API benchmark's database and server helpers)

LIVE = {"X-Firebreak-Live": "1", "HX-Request": "true"}

QUEUE_CASES = [
    ("newest first", ""), ("sort=due", "sort=due"), ("sort=priority", "sort=priority"),
    ("assignee=none", "assignee=none"), ("assignee=me", "assignee=me"), ("breached=true", "breached=true"),
    ("warning=true", "warning=true"), ("major=true", "major=true"), ("category=hardware", "category=hardware"),
    ("service=vpn", "service=vpn"), ("team=infrastructure", "team=infrastructure"),
    ("team + sort=due", "team=infrastructure&sort=due"), ("team + sort=priority", "team=infrastructure&sort=priority"),
    ("status=in_progress", "status=in_progress"), ("status=all", "status=all"),
    ("status=all + sort=due", "status=all&sort=due"), ("status=all + sort=priority", "status=all&sort=priority"),
    ("priority=1", "priority=1"), ("q=vpn", "q=vpn"), ("q=month-end", "q=month-end"),
    # A word found only in security incidents, which manager4 may not see: no match, at once.
    ("q=ransomware", "q=ransomware"), ("status=all + q=ransomware", "status=all&q=ransomware"),
    ("status=all + q=vpn", "status=all&q=vpn"),
]  # fmt: skip


def _ms(samples):
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(run.percentile(ordered, 95), 2),
        "max": round(ordered[-1], 2),
    }


# --- in-process: server-side time of each page --------------------------------------------


def measure(runs):
    """Runs in a child process with DATABASE_URL set to the bench database."""
    sys.path.insert(0, str(run.ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from incidents.models import OPEN_Q, Incident
    from skills.models import Person

    results = []

    def case(name, person, url, headers=None, expect=200, etag_first=False):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(person)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        if etag_first:
            extra["HTTP_IF_NONE_MATCH"] = client.get(url, **extra)["ETag"]
        for _ in range(3):  # warm-up
            client.get(url, **extra)
        samples, cpu = [], []
        for _ in range(runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            response = client.get(url, **extra)
            samples.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == expect, (name, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url, **extra)
        # CPU: this process's own time (Python: view, ORM, template), which hardly depends
        # on what else the machine runs; the wall time adds PostgreSQL and the queueing.
        row = {"name": name, "as": person.username, "queries": len(queries), **_ms(samples),
               "cpu_p50": round(statistics.median(cpu), 2)}  # fmt: skip
        results.append(row)
        print(f"  {name:<42} {person.username:<9} p50 {row['p50']:7.2f}  p95 {row['p95']:7.2f}  "
              f"max {row['max']:7.2f} ms  CPU p50 {row['cpu_p50']:6.2f} ms  {row['queries']} queries",
              file=sys.stderr, flush=True)

    manager, owner = Person.objects.get(username="manager4"), Person.objects.get(username="owner5")
    # assignee=me as the person with the most open work (the data is only read).
    busiest = (
        Incident.objects.filter(OPEN_Q, assignee__isnull=False).values_list("assignee").annotate(n=Count("pk"))
        .order_by("-n").first()
    )  # fmt: skip
    worker = Person.objects.get(pk=busiest[0]) if busiest else manager
    for name, query in QUEUE_CASES:
        case(f"queue {name}", worker if query == "assignee=me" else manager, f"/?{query}")
    case("queue newest first", owner, "/")
    case("queue sort=due", owner, "/?sort=due")
    case("queue q=ransomware", owner, "/?q=ransomware")
    case("dashboard", manager, "/dashboard/")
    case("dashboard", owner, "/dashboard/")
    case("GET /api/v1/dashboard/", manager, "/api/v1/dashboard/")
    incident = Incident.objects.filter(OPEN_Q).order_by("-pk").first()
    case("live poll, unchanged: queue", manager, "/", LIVE, expect=304, etag_first=True)
    case("live poll, unchanged: queue sort=due", manager, "/?sort=due&team=infrastructure", LIVE, 304, True)
    case("live poll, unchanged: incident page", manager, f"/incidents/{incident.reference}/", LIVE, 304, True)
    case("live poll, unchanged: dashboard", manager, "/dashboard/", LIVE, expect=304, etag_first=True)
    case("live poll, changed: queue (full render)", manager, "/", LIVE)

    # Sessions for the 50 pollers of the next step.
    from django.contrib.sessions.backends.db import SessionStore

    sessions = []
    for person in (manager, owner):
        session = SessionStore()
        session["_auth_user_id"] = str(person.pk)
        session["_auth_user_backend"] = "skills.backends.PersonBackend"
        session["_auth_user_hash"] = person.get_session_auth_hash()
        session.create()
        sessions.append(session.session_key)
    print(json.dumps({"results": results, "sessions": sessions, "incident": incident.reference}))


# --- 50 open pages ------------------------------------------------------------------------


def pollers(port, sessions, incident, count, seconds, interval):
    urls = ["/", "/?sort=due", "/?assignee=none", "/?team=infrastructure&sort=priority", "/dashboard/",
            f"/incidents/{incident}/"]  # fmt: skip
    lock, samples, statuses = threading.Lock(), [], {}
    stop_at = time.monotonic() + seconds

    def page(n):
        url, cookie = urls[n % len(urls)], f"sessionid={sessions[n % len(sessions)]}"
        conn, etag = HTTPConnection("127.0.0.1", port, timeout=10), ""
        time.sleep(interval * n / count)  # pages opened over one interval, as in an office
        while time.monotonic() < stop_at:
            headers = {**LIVE, "Cookie": cookie, "Host": "127.0.0.1"}
            if etag:
                headers["If-None-Match"] = etag
            started = time.perf_counter()
            conn.request("GET", url, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            etag = response.getheader("ETag") or etag
            with lock:
                statuses[response.status] = statuses.get(response.status, 0) + 1
                if etag and response.status == 304:
                    samples.append(elapsed)
            time.sleep(max(0.0, interval - elapsed / 1000))
        conn.close()

    threads = [threading.Thread(target=page, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 1_000_000)))
    parser.add_argument("--runs", type=int, default=30, help="measured requests per page")
    parser.add_argument("--pages", type=int, default=50, help="open pages polling")
    parser.add_argument("--pages-seconds", type=float, default=30)
    parser.add_argument("--interval", type=float, default=5, help="seconds between polls (live.js: 5)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.runs)
    run.BENCH_DB = run.database_name(args.incidents)
    source = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    bench_url = run.bench_database_url(source)
    env = {
        **os.environ, "DATABASE_URL": bench_url, "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key", "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": "off", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15", "EMAIL_HOST": "",
        "SECURE_COOKIES": "false", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    run.ensure_database(bench_url)
    fingerprint = run.migrations_fingerprint()
    has_schema, stored = run.stored_fingerprint(bench_url)
    if has_schema and run.needs_rebuild(stored, fingerprint):
        run.log("the migrations changed since the database was built: building it again")
        run.ensure_database(bench_url, rebuild=True)
    run.manage(env, "migrate", "--noinput", "-v0")
    run.store_fingerprint(bench_url, fingerprint)
    run.manage(env, "seed_demo", capture=True)
    dataset = run.helper(env, "dataset.py", "--target", str(args.incidents), timeout=3600)
    run.log(f"{dataset['incidents']} incidents, {dataset['open']} open")

    run.log(f"server side, in-process ({args.runs} requests each):")
    result = subprocess.run(
        [run.PYTHON, __file__, "--measure", "--runs", str(args.runs)], env=env, stdout=subprocess.PIPE,
        text=True, check=True, cwd=run.ROOT,
    )  # fmt: skip
    measured = json.loads(result.stdout)

    run.log(f"{args.pages} open pages polling every {args.interval:g} s for {args.pages_seconds:g} s (gunicorn, 2 workers)")
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    server = run.Gunicorn(env, 2, run.RESULTS / "ui-gunicorn.log")
    try:
        server.start()
        meter = run.CpuMeter(bench_url, server.process.pid)
        server_ticks = lambda: sum(  # noqa: E731
            run._process_ticks(pid) for pid in [server.process.pid, *run._children(server.process.pid)]
        )
        meter.start()
        before, started = server_ticks(), time.monotonic()
        samples, statuses = pollers(
            server.port, measured["sessions"], measured["incident"], args.pages, args.pages_seconds, args.interval
        )
        elapsed = time.monotonic() - started
        gunicorn_core_pct = 100 * (server_ticks() - before) / run.CLOCK_TICKS / elapsed
        machine = meter.stop()
    finally:
        server.stop()
    pages = {
        "pages": args.pages, "interval_s": args.interval, "seconds": round(elapsed, 1), "statuses": statuses,
        "requests_per_s": round(sum(statuses.values()) / elapsed, 1), "poll_304_ms_over_http": _ms(samples),
        "gunicorn_cpu_pct_of_one_core": round(gunicorn_core_pct, 1), "machine": machine,
    }  # fmt: skip
    print(json.dumps({"incidents": dataset["incidents"], "open": dataset["open"],
                      "pages": measured["results"], "open_pages": pages}, indent=2, default=str))


if __name__ == "__main__":
    main()
