"""Engine benchmark: figures, not pass/fail.

    make bench-engine        # or: .venv/bin/python benchmarks/engine.py [--incidents 10000] [--subscribers 10000]

1. 10,000 incidents whose response target passes in the same minute: seconds from the
   first sweep until every one is marked breached (its step run, its timeline and its
   escalation notice written), until every notice is expanded into its two messages, and
   until both incident managers' emails are accepted by a local SMTP server, with 1
   worker and with 2 workers (each a Celery worker process with concurrency 1;
   `--workers 1,2,4`), and each worker's largest RSS (its main process and its pool
   process) during the run. `--profile N` instead runs the sweep of N such incidents,
   then the expansion of their notices, in this process under cProfile.
2. One public update on a major incident whose service has 10,000 subscribers: the update
   request's own latency (it writes one fan-out row; workers expand it into outbox rows),
   then seconds until all 10,000 emails are handed to the local SMTP server, with 1 and
   with 2 workers. The request latency is also measured over `--requests` (50) updates
   posted to the API (`POST /api/v1/incidents/<ref>/updates/` through Django's test client:
   the whole middleware stack, no network) before any worker runs: p50, p95, max.

Uses its own database (firebreak_bench_engine, made afresh each run) and a private Redis.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_ENGINE_DB", "firebreak_bench_engine")  # its own database, made afresh


def log(message):
    print(f"[engine-bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare_database(base_url):
    parts = urlsplit(base_url)
    bench_url = urlunsplit(parts._replace(path=f"/{DB}"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    return bench_url


def django_setup(env):
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)


class RssSampler:
    """The largest resident set of each worker (its main process and its pool children)
    while a scenario runs, sampled from /proc every half second."""

    def __init__(self, processes):
        self.processes, self.peak, self.stop_event = processes, {}, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    @staticmethod
    def _rss_kb(pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    @staticmethod
    def _children(pid):
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found

    def sample(self):
        for process in self.processes.running:
            if not process.name.startswith("bench-") or "beat" in process.name:
                continue
            sizes = [self._rss_kb(process.pid)] + [self._rss_kb(child) for child in self._children(process.pid)]
            for n, size in enumerate(sizes):
                key = (process.name, "main" if n == 0 else "pool")
                self.peak[key] = max(self.peak.get(key, 0), size)

    def run(self):
        while not self.stop_event.wait(0.5):
            self.sample()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(5)

    def report(self):
        """Per worker: the largest RSS of its main and of its pool process, in MB."""
        workers = {}
        for (name, role), size in sorted(self.peak.items()):
            workers.setdefault(name, {})[f"{role}_rss_mb"] = round(size / 1024, 1)
        return workers


def make_breaching(count, now):
    """`count` open incidents whose response target passes within the same minute."""
    from incidents.engine import next_timer_at
    from incidents.models import Incident
    from procedures.models import Category, ProcedureVersion
    from skills.models import Person

    category = Category.objects.get(slug="hardware")
    version = ProcedureVersion.objects.get(procedure__slug="hardware", state="published")
    version.escalation = [{"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}}]
    version.save()
    agent = Person.objects.get(username="agent1")
    due = now + timedelta(seconds=20)
    rows = []
    for n in range(count):
        incident = Incident(
            title=f"Breaching {n}", description="benchmark", reporter=agent, created_by=agent, channel="api",
            category=category, impact=2, urgency=2, priority=3, team=version.team, procedure_version=version,
            escalation_policy=version.escalation, created_at=due - timedelta(minutes=45), updated_at=now,
            response_due_at=due + timedelta(seconds=n % 60), response_warn_at=due - timedelta(minutes=11),
            response_warned=True, resolve_due_at=due + timedelta(hours=3), resolve_warn_at=due + timedelta(hours=2),
        )  # fmt: skip
        incident.next_timer_at = next_timer_at(incident, set())
        rows.append(incident)
    Incident.objects.bulk_create(rows, batch_size=2000)
    return due + timedelta(seconds=59)


def reset_breaching():
    """Remove the previous run's incidents and everything that points at them (the
    subscriber scenario leaves a timeline and fan-outs behind)."""
    from incidents.models import EscalationStepRun, FanOut, Incident, OutboundMessage, TimelineEvent

    OutboundMessage.objects.all().delete()
    FanOut.objects.all().delete()
    EscalationStepRun.objects.all().delete()
    TimelineEvent.objects.all().delete()
    Incident.objects.all().delete()


def run_breach_scenario(env, tmp, count, workers):
    from django.utils import timezone

    from incidents.models import FanOut, Incident, OutboundMessage
    from tests.processes.harness import Processes, wait_for

    reset_breaching()
    last_due = make_breaching(count, timezone.now())
    processes = Processes(env, tmp)
    try:
        for n in range(workers):
            processes.worker(f"bench-worker-{workers}-{n}", concurrency=1)
        time.sleep(6)  # let the workers connect before the clock starts
        wait_for(lambda: timezone.now() >= last_due, 120, "the targets to pass")
        with RssSampler(processes) as rss:
            processes.beat(f"bench-beat-{workers}")
            started = time.monotonic()
            wait_for(lambda: not Incident.objects.filter(response_breached=False).exists(), 900, "every breach", 0.2)
            marked = time.monotonic() - started
            wait_for(lambda: not FanOut.objects.filter(expanded_at__isnull=True).exists(), 900, "every notice expanded", 0.2)
            expanded = time.monotonic() - started
            wait_for(lambda: OutboundMessage.objects.filter(state="sent").count() >= 2 * count, 900, "every email", 0.2)
            escalated = time.monotonic() - started
    finally:
        processes.stop()
    peak = rss.report()
    return {"incidents": count, "workers": workers, "marked_s": round(marked, 1), "expanded_s": round(expanded, 1),
            "escalated_s": round(escalated, 1),
            "per_second": round(count / escalated, 1), "rss": peak,
            "max_worker_rss_mb": max((max(w.values()) for w in peak.values()), default=None)}  # fmt: skip


APPS = ("incidents", "procedures", "skills", "reporting")


def profile_breaches(count, top=30, batch=None):
    """The sweep of `count` breaching incidents, then the expansion of their notices, run in
    this process twice: first timed (wall seconds, this process's CPU seconds, seconds
    waiting on the database's answers, statements), then under cProfile (the functions
    that cost the most, own time then cumulative; cProfile inflates Python calls several
    times over, so read its shares, not its seconds)."""
    import cProfile
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents import engine, fanout

    figures = {"incidents": count}
    for profiled in (False, True):
        reset_breaching()
        moment = make_breaching(count, timezone.now()) + timedelta(seconds=1)
        for name, work in (("sweep", lambda at=moment: engine.sweep_timers(at, batch=batch, budget_seconds=3600)),
                           ("expansion", lambda: fanout.expand_due(budget_seconds=3600))):  # fmt: skip
            profiler = cProfile.Profile() if profiled else None
            with CaptureQueriesContext(connection) as queries:
                started, cpu = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                done = work()
                if profiler:
                    profiler.disable()
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            if profiler:
                stats = pstats.Stats(profiler, stream=sys.stdout)
                stats.sort_stats("tottime").print_stats(top)
                stats.sort_stats("cumulative").print_stats(top)
                continue
            waited, kinds = 0.0, {}
            for query in queries:
                words = query["sql"].split()
                table = next((w.strip('"') for w in words[1:8] if w.strip('"').split("_")[0] in APPS), "")
                kind = kinds.setdefault(f"{words[0]} {table}".strip(), [0, 0.0])
                kind[0] += 1
                kind[1] += float(query["time"])
                waited += float(query["time"])
            figures[name] = {"done": done, "seconds": round(elapsed, 2), "cpu_s": round(cpu, 2), "db_wait_s": round(waited, 2),
                             "ms_per_incident": round(1000 * elapsed / count, 3), "statements": len(queries),
                             "db_wait_by_statement": {k: [n, round(t, 2)] for k, (n, t) in sorted(kinds.items(), key=lambda i: -i[1][1])}}  # fmt: skip
            log(f"{name}: {json.dumps(figures[name])}")
    return figures


def update_latencies(person, incident, requests):
    """Seconds per public update posted to the API, before any worker runs (the first, a
    cold start of the process's first request, is not counted)."""
    from django.test import Client

    from skills.services import token_issue

    _, raw = token_issue(person=person, name="engine benchmark")
    client, url = Client(), f"/api/v1/incidents/{incident.reference}/updates/"
    latencies = []
    for n in range(requests + 1):
        started = time.monotonic()
        answer = client.post(url, {"body": f"Warm-up {n}"}, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {raw}")  # fmt: skip
        elapsed = time.monotonic() - started
        assert answer.status_code == 200, (answer.status_code, answer.content[:300])
        if n:
            latencies.append(elapsed)
    return sorted(latencies)


def percentile(values, share):
    """The nearest-rank percentile of sorted `values`."""
    return values[max(0, min(len(values) - 1, round(share * len(values) + 0.5) - 1))]


def run_subscriber_scenario(env, tmp, subscribers, workers, smtp_seconds=900, requests=50):

    from django.utils import timezone

    from incidents import services
    from incidents.models import FanOut, Incident, OutboundMessage
    from incidents.subscriptions import subscribe_many
    from procedures.models import Category, Service
    from skills.models import Person
    from tests.processes.harness import Processes, wait_for

    reset_breaching()
    owner5 = Person.objects.get(username="owner5")
    email = Service.objects.get(slug="email")
    subscribe_many(actor=owner5, service=email, emails=[f"stakeholder{n}@example.com" for n in range(subscribers)])
    incident = services.incident_register(
        actor=owner5, title="Email down for everyone", category=Category.objects.get(slug="outage"), service=email,
        impact=1, urgency=1,
    )  # fmt: skip
    services.incident_declare_major(actor=owner5, incident=incident, reason="Benchmark")
    FanOut.objects.all().update(expanded_at=timezone.now())  # measure the update alone
    OutboundMessage.objects.all().delete()
    latencies = update_latencies(owner5, incident, requests)
    FanOut.objects.all().update(expanded_at=timezone.now())
    processes = Processes(env, tmp)
    try:
        for n in range(workers):
            processes.worker(f"bench-subs-worker-{n}", concurrency=1)
        processes.beat("bench-subs-beat")
        time.sleep(6)
        started = time.monotonic()
        services.incident_add_public_update(actor=owner5, incident=Incident.objects.get(pk=incident.pk), body="Restoring mail")
        queued = time.monotonic() - started
        wait_for(lambda: not FanOut.objects.filter(expanded_at__isnull=True).exists(), 900, "the expansion", 0.2)
        expanded = time.monotonic() - started
        total = OutboundMessage.objects.count()
        # Wait for every email, or stop after `smtp_seconds` and count what was handed by then.
        sent = 0
        while time.monotonic() - started < expanded + smtp_seconds:
            sent = OutboundMessage.objects.filter(state="sent").count()
            if sent >= total:
                break
            time.sleep(0.5)
        handed = time.monotonic() - started
    finally:
        processes.stop()
    return {"subscribers": subscribers, "messages": total, "workers": workers, "update_s": round(queued, 3),
            "requests": len(latencies), "update_p50_ms": round(1000 * percentile(latencies, 0.5), 1),
            "update_p95_ms": round(1000 * percentile(latencies, 0.95), 1), "update_max_ms": round(1000 * latencies[-1], 1),
            "expanded_s": round(expanded, 1), "handed": sent, "handed_s": round(handed, 1),
            "all_handed_to_smtp_s": round(handed, 1) if sent >= total else None,
            "per_second": round(min(sent, total) / handed, 1)}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--only", choices=["breaches", "subscribers"], help="run one scenario")
    parser.add_argument("--workers", default="1,2", help="worker counts to run each scenario with, e.g. 1,2,4")
    parser.add_argument("--requests", type=int, default=50, help="update requests timed before the workers start")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="instead: profile the sweep and the expansion of N breaching incidents in-process (cProfile)")
    parser.add_argument("--sweep-batch", type=int, metavar="N", help="with --profile: the sweep's batch (default: SLA_SWEEP_BATCH)")
    parser.add_argument("--smtp-seconds", type=int, default=900,
                        help="stop waiting for the SMTP hand-off after this long; report how many were handed")  # fmt: skip
    args = parser.parse_args()

    from tests.processes.harness import Redis, Sink

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    bench_url = prepare_database(base)
    tmp = Path(tempfile.mkdtemp(prefix="firebreak-engine-"))
    redis, sink = Redis(tmp), Sink()
    redis.start()
    results = {"when": datetime.now(UTC).isoformat(), "breaches": [], "subscribers": []}
    with sink:
        env = {
            **os.environ, "DATABASE_URL": bench_url, "SECRET_KEY": "bench", "DEBUG": "false",
            "CELERY_BROKER_URL": redis.url, "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(sink.port),
            "SLA_SWEEP_SECONDS": "1", "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", "DB_CONN_MAX_AGE": "60",
            "ALLOWED_HOSTS": "testserver,127.0.0.1", "API_THROTTLE_RATE": "off",
        }  # fmt: skip
        django_setup(env)
        try:
            if args.profile:  # the kicks go to the private Redis, where no worker takes them
                results["profile"] = profile_breaches(args.profile, batch=args.sweep_batch)
                out = ROOT / "benchmarks" / "results"
                out.mkdir(parents=True, exist_ok=True)
                (out / f"engine-profile-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(results, indent=2))
                return
            counts = [int(n) for n in args.workers.split(",")]
            for workers in counts if args.only != "subscribers" else ():
                log(f"{args.incidents} incidents breaching in one minute, {workers} worker(s)...")
                results["breaches"].append(run_breach_scenario(env, tmp, args.incidents, workers))
                log(json.dumps(results["breaches"][-1]))
            for workers in counts if args.only != "breaches" else ():
                log(f"one major-incident update to {args.subscribers} subscribers, {workers} worker(s)...")
                results["subscribers"].append(run_subscriber_scenario(
                    env, tmp, args.subscribers, workers, args.smtp_seconds, args.requests))
                log(json.dumps(results["subscribers"][-1]))
        finally:
            redis.stop()
    print()
    print("Breaches in one minute   workers  marked (s)  notices expanded (s)  marked+escalated+mailed (s)  incidents/s"
          "  largest worker RSS (MB)")  # fmt: skip
    for row in results["breaches"]:
        print(f"{row['incidents']:>22}  {row['workers']:>7}  {row['marked_s']:>10}  {row['expanded_s']:>20}  {row['escalated_s']:>27}"
              f"  {row['per_second']:>11}  {row['max_worker_rss_mb']:>23}")
    for subs in results["subscribers"]:
        print(f"\nMajor-incident update to {subs['subscribers']} subscribers ({subs['messages']} messages, {subs['workers']} worker(s)):"
              f" request {subs['update_s']} s (API: p50 {subs['update_p50_ms']} ms, p95 {subs['update_p95_ms']} ms,"
              f" max {subs['update_max_ms']} ms over {subs['requests']}),"
              f" expanded after {subs['expanded_s']} s, "
              + (f"all handed to SMTP after {subs['all_handed_to_smtp_s']} s ({subs['per_second']}/s)"
                 if subs["all_handed_to_smtp_s"] is not None
                 else f"{subs['handed']} handed to SMTP when the wait stopped after {subs['handed_s']} s ({subs['per_second']}/s)"))  # fmt: skip
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"engine-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
