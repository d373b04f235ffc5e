"""Firebreak API benchmark: figures, not pass/fail. See benchmarks/README.md.

    make bench                       # or: DATABASE_URL=... SECRET_KEY=... .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --duration 10 --warmup 2 --clients 2

1. Derives a database named firebreak_bench from DATABASE_URL (creates it if missing),
   migrates it and runs seed_demo there; dev and test databases are never touched.
2. Tops it up to 100,000 incidents (benchmarks/dataset.py), then VACUUM ANALYZE.
3. Starts gunicorn (2 workers) on a free loopback port, waits for /readyz.
4. Issues API tokens for agent1 and engineer3 (manage.py issue_token).
5. Drives each scenario from a separate process (benchmarks/load.py): warm-up, then a
   fixed time with N closed-loop keep-alive clients; prints requests, req/s, p50/p95/p99/max
   and errors; writes everything to benchmarks/results/<timestamp>.json.
6. Prints EXPLAIN (ANALYZE, BUFFERS) summaries of the list querysets and the SQL each
   request runs (benchmarks/explain.py).
7. Stops gunicorn (also on Ctrl-C or error), deletes the incidents the run created and
   revokes its tokens, so every run starts from the same data.
"""

import argparse
import hashlib
import json
import math
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
RESULTS = HERE / "results"
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
BENCH_DB = "firebreak_bench"  # set by main() from --incidents (see database_name)
TARGET_P95_MS = 50.0
NOISY_PCT = 10  # CPU share used by processes other than ours above which a run is flagged

CATEGORIES = ["hardware", "network", "software", "how-to", "security", "outage"]
SERVICES = [None, "email", "vpn", "payroll", "website"]
TITLES = [
    "Laptop will not power on", "VPN drops every few minutes", "Outlook crashes on start",
    "How do I map a network drive?", "Phishing email reported", "Payroll application shows error 500",
    "Printer jams on every print job", "Wi-Fi is painfully slow on floor 3", "Website returns errors",
    "Teams freezes when opening attachments", "Monitor flickers constantly", "DNS resolves the wrong address",
]  # fmt: skip
SEARCH_TERMS = [
    "vpn", "printer jam", "password", "payroll error", "phishing", "blue screen", "outlook crash",
    "certificate", "wi-fi slow", "month-end", "ransomware", "docking station",
]  # fmt: skip


def log(message):
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- database -----------------------------------------------------------------------------


def database_name(incidents):
    """One database per data-set size, built once and reused: firebreak_bench (100,000),
    firebreak_bench_1m (1,000,000), firebreak_bench_<n> otherwise. BENCH_DATABASE names
    another one (say, a copy made with CREATE DATABASE ... TEMPLATE firebreak_bench_1m)."""
    if os.environ.get("BENCH_DATABASE"):
        return os.environ["BENCH_DATABASE"]
    if incidents == 100_000:
        return "firebreak_bench"
    if incidents % 1_000_000 == 0:
        return f"firebreak_bench_{incidents // 1_000_000}m"
    return f"firebreak_bench_{incidents}"


def bench_database_url(url):
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit(
            f"DATABASE_URL must be a PostgreSQL URL for the benchmark, not {parts.scheme}://"
        )
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def connect(url, **kwargs):
    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), **kwargs)


def ensure_database(bench_url, rebuild=False):
    maintenance = urlunsplit(urlsplit(bench_url)._replace(path="/postgres"))
    with connect(maintenance, autocommit=True) as conn:
        if rebuild:
            log(f"dropping database {BENCH_DB}")
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            log(f"creating database {BENCH_DB}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))
        server = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)",
                [["shared_buffers", "work_mem", "random_page_cost", "effective_cache_size", "jit"]],
            ).fetchall()
        )
    return {"server_version": server, "settings": settings}


def migrations_fingerprint():
    """Each migration file's hash, as JSON. A new file only needs `migrate`; a file that
    changed or vanished since the database was built (say, an initial migration was
    regenerated) means the bench database is built again instead of being trusted."""
    return json.dumps(
        {
            str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(ROOT.glob("*/migrations/*.py"))
        },
        sort_keys=True,
    )


def needs_rebuild(stored, current):
    """True when a migration the bench database was built with changed or vanished (or the
    record is missing or from the old whole-tree hash); new migrations are only applied."""
    if stored is None:
        return True
    try:
        before = json.loads(stored)
    except ValueError:
        return True
    now = json.loads(current)
    return any(now.get(name) != digest for name, digest in before.items())


def stored_fingerprint(bench_url):
    """(has a schema, fingerprint recorded by the run that built it or None)."""
    with connect(bench_url) as conn:
        tables = {
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        if "bench_meta" not in tables:
            return bool(tables), None
        row = conn.execute("SELECT value FROM bench_meta WHERE key = 'migrations'").fetchone()
        return True, row[0] if row else None


def store_fingerprint(bench_url, fingerprint):
    with connect(bench_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value text NOT NULL)"
        )
        conn.execute(
            "INSERT INTO bench_meta VALUES ('migrations', %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [fingerprint],
        )


def manage(env, *args, capture=False):
    command = [PYTHON, str(ROOT / "manage.py"), *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, check=False, text=True, capture_output=capture
    )
    if result.returncode != 0:
        detail = (result.stderr or "").strip() if capture else ""
        raise SystemExit(f"manage.py {' '.join(args)} failed ({result.returncode}) {detail}")
    return result.stdout if capture else None


def helper(env, script, *args, stdin=None, timeout=None):
    """Run a helper in benchmarks/ and parse the JSON it prints on stdout."""
    result = subprocess.run(
        [PYTHON, str(HERE / script), *args], cwd=ROOT, env=env, input=stdin, text=True,
        stdout=subprocess.PIPE, check=False, timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"benchmarks/{script} failed with exit code {result.returncode}")
    return json.loads(result.stdout)


# --- the server ---------------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """Firebreak under gunicorn; `command`, `cwd` and `ready_path` start another WSGI app
    the same way (the peer of --peer)."""

    def __init__(self, env, workers, log_path, command=None, cwd=ROOT, ready_path="/readyz"):
        self.env, self.workers, self.log_path = env, workers, log_path
        self.port = free_port()
        self.process = None
        self.command, self.cwd, self.ready_path = command, cwd, ready_path

    def start(self):
        self.log_file = open(self.log_path, "w")  # closed in stop()
        command = self.command(self.workers, self.port) if self.command else [
            GUNICORN, "servicedesk.wsgi", "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
            "--log-level", "warning", "--timeout", "60",
        ]  # fmt: skip
        # A session of its own: Ctrl-C reaches this script, which stops gunicorn in order.
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log(f"gunicorn pid {self.process.pid}, {self.workers} workers on 127.0.0.1:{self.port}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"gunicorn exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                conn = HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.ready_path)
                response = conn.getresponse()
                body = response.read()
                conn.close()
                if response.status == 200:
                    log(f"gunicorn ready: {body.decode()}")
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"gunicorn did not become ready in 60 s; see {self.log_path}")

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            log(f"gunicorn stopped (pid {self.process.pid})")
        self.process = None
        self.log_file.close()


# --- scenarios ----------------------------------------------------------------------------


def create_bodies(count=60):
    bodies = []
    for n in range(count):
        body = {
            "title": f"{TITLES[n % len(TITLES)]} (bench {n})",
            "description": "Raised by the benchmark. It started this morning and affects my whole team.",
            "category": CATEGORIES[n % len(CATEGORIES)],
            "impact": 1 + n % 3,
            "urgency": 1 + (n // 3) % 3,
        }
        service = SERVICES[(n // 9) % len(SERVICES)]
        if service is not None:
            body["service"] = service
        bodies.append(body)
    return bodies


OPEN = "status=new&status=assigned&status=in_progress&status=on_hold"


def busiest_incident(bench_url):
    """The reference of an incident with the most timeline events (dataset.py gives a few
    hundred open ones 50 each), visible to engineer3's team."""
    with connect(bench_url) as conn:
        row = conn.execute(
            """
            SELECT e.incident_id FROM incidents_timelineevent e
            JOIN incidents_incident i ON i.id = e.incident_id
            JOIN skills_team t ON t.id = i.team_id AND t.slug = 'infrastructure'
            GROUP BY e.incident_id ORDER BY count(*) DESC, e.incident_id DESC LIMIT 1
            """
        ).fetchone()
    return f"INC-{row[0]:06d}" if row else None


def scenarios(tokens, detail=None):
    agent = {"Authorization": f"Bearer {tokens['agent1']}"}
    engineer = {"Authorization": f"Bearer {tokens['engineer3']}"}
    list_path = "/api/v1/incidents/?"
    return [
        {
            "name": "A create",
            "what": "POST /api/v1/incidents/ as agent1, bodies varying category/service/impact/urgency",
            "requests": [
                {"method": "POST", "path": "/api/v1/incidents/", "headers": agent, "body": body}
                for body in create_bodies()
            ],
        },
        {
            "name": "B1 list team+in_progress",
            "what": "GET ?team=infrastructure&status=in_progress (first page) as engineer3",
            "plans": [("team=infrastructure&status=in_progress", "engineer3")],
            "requests": [
                {
                    "method": "GET",
                    "path": list_path + "team=infrastructure&status=in_progress",
                    "headers": engineer,
                }
            ],
        },
        {
            "name": "B2 list team+new,assigned",
            "what": "GET ?team=infrastructure&status=new&status=assigned (first page) as engineer3",
            "plans": [("team=infrastructure&status=new&status=assigned", "engineer3")],
            "requests": [
                {
                    "method": "GET",
                    "path": list_path + "team=infrastructure&status=new&status=assigned",
                    "headers": engineer,
                }
            ],
        },
        {
            "name": "C list q= search",
            "what": f"GET ?q=<term> (first page) as agent1, {len(SEARCH_TERMS)} terms in turn",
            "plans": [(urlencode({"q": term}), "agent1") for term in SEARCH_TERMS],
            "breakdown": True,
            "requests": [
                {
                    "method": "GET",
                    "path": list_path + "q=" + term.replace(" ", "+"),
                    "headers": agent,
                }
                for term in SEARCH_TERMS
            ],
        },
        {
            "name": "B3 list breached, open",
            "what": "GET ?breached=true&status=<each open status> (first page) as engineer3",
            "plans": [(f"breached=true&{OPEN}", "engineer3")],
            "requests": [{"method": "GET", "path": list_path + f"breached=true&{OPEN}", "headers": engineer}],
        },
    ] + (
        [
            {
                "name": "D detail (50 events)",
                "what": f"GET /api/v1/incidents/{detail}/ and its /timeline/ in turn, as engineer3",
                "requests": [
                    {"method": "GET", "path": f"/api/v1/incidents/{detail}/", "headers": engineer},
                    {"method": "GET", "path": f"/api/v1/incidents/{detail}/timeline/", "headers": engineer},
                ],
            }
        ]
        if detail
        else []
    )


def percentile(ordered, p):
    """Nearest rank: the smallest sample with at least p% of the samples at or below it."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# --- CPU accounting: was the machine ours while we measured? -----------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_ticks():
    """Busy CPU ticks of the whole machine (everything but idle and iowait), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)


def _process_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _children(pid):
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


class CpuMeter:
    """Splits the machine's CPU time during a scenario into ours (gunicorn, the load
    generator, the bench database's backends) and everyone else's. Linux only."""

    def __init__(self, bench_url, server_pid):
        self.bench_url, self.server_pid = bench_url, server_pid
        self.enabled = Path("/proc/stat").exists()

    def _our_pids(self):
        pids = [self.server_pid, *_children(self.server_pid)]
        try:
            with connect(self.bench_url, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [BENCH_DB],
                ).fetchall()
            pids += [row[0] for row in rows]
        except psycopg.Error:
            pass
        return pids

    def start(self):
        if not self.enabled:
            return
        self.started = time.monotonic()
        self.busy = _busy_ticks()
        self.ours = {pid: _process_ticks(pid) for pid in self._our_pids()}
        self.children = resource.getrusage(resource.RUSAGE_CHILDREN)

    def stop(self):
        if not self.enabled:
            return {}
        elapsed = time.monotonic() - self.started
        busy = (_busy_ticks() - self.busy) / CLOCK_TICKS
        ours = (
            sum(_process_ticks(pid) - self.ours.get(pid, 0) for pid in self._our_pids())
            / CLOCK_TICKS
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ours += (children.ru_utime + children.ru_stime) - (
            self.children.ru_utime + self.children.ru_stime
        )
        capacity = elapsed * (os.cpu_count() or 1)
        return {
            "machine_busy_pct": round(100 * busy / capacity, 1),
            "ours_pct": round(100 * min(ours, busy) / capacity, 1),
            "others_pct": round(100 * max(busy - ours, 0) / capacity, 1),
        }


def run_scenario(env, scenario, port, args, meter=None):
    spec = {
        "host": "127.0.0.1", "port": port, "clients": args.clients, "warmup": args.warmup,
        "duration": args.duration, "max_requests": args.max_requests, "requests": scenario["requests"],
    }  # fmt: skip
    log(
        f"scenario {scenario['name']}: {args.warmup}s warm-up + {args.duration}s with {args.clients} clients"
    )
    if meter:
        meter.start()
    raw = helper(env, "load.py", stdin=json.dumps(spec), timeout=args.warmup + args.duration + 120)
    cpu = meter.stop() if meter else {}
    latencies = sorted(latency for latency, _, _ in raw["samples"])
    errors = sum(1 for _, status, _ in raw["samples"] if not 200 <= status < 300)
    statuses = {}
    for _, status, _ in raw["samples"]:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    count = len(latencies)
    by_request = []
    if scenario.get("breakdown"):
        for index, request in enumerate(scenario["requests"]):
            own = sorted(latency for latency, _, i in raw["samples"] if i == index)
            by_request.append({
                "path": request["path"], "requests": len(own), "p50_ms": percentile(own, 50),
                "p95_ms": percentile(own, 95), "max_ms": own[-1] if own else math.nan,
            })  # fmt: skip
    return {
        "name": scenario["name"],
        "what": scenario["what"],
        "requests": count,
        "seconds": round(raw["elapsed"], 3),
        "throughput_rps": round(count / raw["elapsed"], 1) if raw["elapsed"] else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else math.nan,
        "mean_ms": round(sum(latencies) / count, 3) if count else math.nan,
        "errors": errors,
        "statuses": statuses,
        "error_samples": raw["errors"],
        "cpu": cpu,
        "by_request": by_request,
        "latencies_ms": [latency for latency, _, _ in raw["samples"]],
    }


# --- reporting ----------------------------------------------------------------------------


def table(results, clients, workers):
    header = (
        f"{'scenario':<27} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'errors':>6} {'other CPU':>9}"
    )
    lines = [
        f"Load: {clients} closed-loop keep-alive clients per scenario, gunicorn {workers} sync workers",
        header,
        "-" * len(header),
    ]
    noisy = []
    for r in results:
        others = r.get("cpu", {}).get("others_pct")
        lines.append(
            f"{r['name']:<27} {r['requests']:>8} {r['throughput_rps']:>7.1f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} "
            f"{r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['errors']:>6} {'-' if others is None else f'{others:.0f}%':>9}"
        )
        if others is not None and others > NOISY_PCT:
            noisy.append(r["name"])
    if noisy:
        lines.append(
            f"WARNING: other processes used over {NOISY_PCT}% of the CPU during {', '.join(noisy)}: "
            "those figures are pessimistic; run again on a quiet machine."
        )
    for r in results:
        if r.get("by_request"):
            lines.append(f"{r['name']}, per request:")
            for b in r["by_request"]:
                lines.append(
                    f"  {b['path']:<45} {b['requests']:>6} req  p50 {b['p50_ms']:>7.1f}  p95 {b['p95_ms']:>7.1f}"
                    f"  max {b['max_ms']:>7.1f} ms"
                )
    return "\n".join(lines)


PLAN_DETAIL = ("Index Cond:", "Recheck Cond:", "Filter:", "Rows Removed by Filter:", "Sort Method:")


def compact(plan, width=150):
    """The plan's nodes with their actual rows and times, and the conditions on them."""
    lines = []
    for line in plan.splitlines():
        text = line.strip()
        if "(cost=" in line:
            line = re.sub(r"\s*\(cost=[^)]*\)", "", line)
        elif not text.startswith(PLAN_DETAIL):
            continue
        lines.append(line if len(line) <= width else line[: width - 3] + "...")
    return lines


def plan_report(plans, profiles, full=False):
    lines = [
        "",
        "Query plans: EXPLAIN (ANALYZE, BUFFERS) of the API's list queryset (first page, 26 rows, warm)",
    ]
    for p in plans:
        if "error" in p:
            lines.append(f"  {p['name']}  [{p['query']} as {p['username']}]: failed: {p['error']}")
            continue
        s = p["summary"]
        buffers = ", ".join(f"{k}={v}" for k, v in s["buffers"].items()) or "-"
        scans = [scan for scan in s["scans"] if "incident" in scan]
        lines.append(
            f"  {p['name']:<27} [{p['query']}]  execution {s['execution_ms']:.2f} ms, planning {s['planning_ms']:.2f} ms"
        )
        lines.append(
            f"      incidents via: {', '.join(scans) or 'none'}; sort node: {'yes' if s['sort'] else 'no'}; "
            f"rows removed by filter: {s['rows_removed_by_filter']}; buffers {buffers}"
        )
        if full:
            lines.extend(f"      {line}" for line in p["plan"].splitlines())
        elif not p["name"].startswith("C"):
            lines.extend(f"      {line}" for line in compact(p["plan"]))
    lines.append("")
    lines.append(
        "SQL per request (one request of each kind, in-process with the test client, warm):"
    )
    for prof in profiles:
        if "error" in prof:
            lines.append(f"  {prof['name']:<27} failed: {prof['error']}")
            continue
        lines.append(
            f"  {prof['name']:<27} status {prof['status']}, {prof['query_count']} queries, "
            f"{prof['sql_ms']:.1f} ms in SQL, {prof['in_process_ms']:.1f} ms in all"
        )
        for q in prof["queries"]:
            text = q["sql"] if len(q["sql"]) <= 140 else q["sql"][:137] + "..."
            lines.append(f"      {q['ms']:6.2f} ms  {text}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 100_000))
    )
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 4)))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 2)))
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", 3)))
    parser.add_argument(
        "--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 25))
    )
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="per scenario, a safety bound"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated scenario name prefixes, e.g. A,B1"
    )
    parser.add_argument(
        "--keep-created", action="store_true", help="keep the incidents scenario A creates"
    )
    parser.add_argument(
        "--full-plans", action="store_true", help="print every plan in full (always in the JSON)"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the bench database and build it again"
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="build (or check) the data set, then stop"
    )
    parser.add_argument(
        "--peer", choices=["helpdesk"], help="side by side with a peer (benchmarks/peer.py)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --peer: interleaved runs of each scenario"
    )
    args = parser.parse_args()
    global BENCH_DB
    BENCH_DB = database_name(args.incidents)

    source_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    bench_url = bench_database_url(source_url)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": "off",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "EMAIL_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()

    server_info = ensure_database(bench_url, rebuild=args.rebuild)
    fingerprint = migrations_fingerprint()
    has_schema, stored = stored_fingerprint(bench_url)
    if has_schema and needs_rebuild(stored, fingerprint):
        log("the migrations changed since the bench database was built: building it again")
        ensure_database(bench_url, rebuild=True)
    log(f"database {BENCH_DB} (PostgreSQL {server_info['server_version']}): migrate, seed_demo")
    manage(env, "migrate", "--noinput", "-v0")
    pending = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "makemigrations", "--check", "--dry-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    schema_warning = None
    if pending.returncode != 0:
        schema_warning = (
            "the models have changes without a migration: expect errors where they are used"
        )
        log(f"WARNING: {schema_warning}\n{pending.stdout.strip()}")
    store_fingerprint(bench_url, fingerprint)
    manage(env, "seed_demo", capture=True)
    log(f"dataset: ensuring {args.incidents} incidents")
    dataset = helper(env, "dataset.py", "--target", str(args.incidents), timeout=3600)
    log(
        f"dataset: {dataset['incidents']} incidents, {dataset['open']} open; infrastructure {dataset['infrastructure_by_status']}"
    )
    if args.prepare_only:
        return 0

    with connect(bench_url) as conn:
        watermark = conn.execute("SELECT coalesce(max(id), 0) FROM incidents_incident").fetchone()[
            0
        ]
    token_name = f"benchmark {stamp}"
    tokens = {
        username: manage(env, "issue_token", username, "--name", token_name, capture=True).strip()
        for username in ("agent1", "engineer3")
    }

    if args.peer:
        return compare(args, env, bench_url, tokens, token_name, watermark, stamp, dataset, server_info)

    chosen = scenarios(tokens, busiest_incident(bench_url))
    if args.only:
        prefixes = [p.strip() for p in args.only.split(",") if p.strip()]
        chosen = [s for s in chosen if any(s["name"].startswith(p) for p in prefixes)]

    server = Gunicorn(env, args.workers, RESULTS / f"{stamp}-gunicorn.log")
    results, analysis = [], {"plans": [], "profiles": []}
    interrupted = False
    try:
        server.start()
        # The reads run first, on the data as seeded; then the creates add to it.
        for scenario in sorted(chosen, key=lambda s: s["name"].startswith("A")):
            r = run_scenario(
                env, scenario, server.port, args, CpuMeter(bench_url, server.process.pid)
            )
            results.append(r)
            log(
                f"  {r['requests']} requests, {r['throughput_rps']} req/s, p95 {r['p95_ms']:.1f} ms, {r['errors']} errors"
            )
        results.sort(key=lambda r: r["name"])
        server.stop()
        if not args.keep_created:  # the plans are for the data as seeded, not with the creates
            cleanup(bench_url, watermark, None, keep=False)
        log("explain: query plans and SQL per request")
        explain_spec = {
            "plans": [
                {"name": s["name"], "query": query, "username": username}
                for s in chosen
                for query, username in s.get("plans", ())
            ],
            "profiles": [
                {
                    "name": s["name"],
                    "method": s["requests"][0]["method"],
                    "path": s["requests"][0]["path"],
                    "body": s["requests"][0].get("body"),
                    "token": s["requests"][0]["headers"]["Authorization"].removeprefix("Bearer "),
                }
                for s in chosen
            ],  # fmt: skip
        }
        try:
            analysis = helper(env, "explain.py", stdin=json.dumps(explain_spec), timeout=300)
        except (SystemExit, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            log(f"explain failed, the load figures stand: {exc}")
            analysis = {"plans": [], "profiles": [], "error": str(exc)}
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping")
    finally:
        server.stop()
        try:
            cleanup(bench_url, watermark, token_name, keep=args.keep_created)
        except psycopg.Error as exc:
            log(f"cleanup failed (run with --rebuild next time for a fresh dataset): {exc}")

    report = {
        "timestamp": stamp,
        "git_commit": git_commit(),
        "config": {
            "database": BENCH_DB,
            "incidents_target": args.incidents,
            "clients": args.clients,
            "gunicorn_workers": args.workers,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "postgres": server_info,
            "target_p95_ms": TARGET_P95_MS,
            "interrupted": interrupted,
            "schema_warning": schema_warning,
        },  # fmt: skip
        "dataset": dataset,
        "scenarios": results,
        "plans": analysis["plans"],
        "profiles": analysis["profiles"],
        "total_seconds": round(time.monotonic() - started, 1),
    }
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(table(results, args.clients, args.workers))
    print(f"(target: p95 under {TARGET_P95_MS:.0f} ms for create and the filtered lists)")
    print(
        f"Dataset: {dataset['incidents']} incidents, {dataset['open']} open; infrastructure: "
        + ", ".join(f"{k} {v}" for k, v in sorted(dataset["infrastructure_by_status"].items()))
    )
    if schema_warning:
        print(f"WARNING: {schema_warning}")
    if analysis.get("error"):
        print(f"EXPLAIN step failed: {analysis['error']}")
    print(plan_report(analysis["plans"], analysis["profiles"], full=args.full_plans))
    print()
    print(f"Results: {path.relative_to(ROOT)}  ({report['total_seconds']} s in all)")
    return 130 if interrupted else 0


# --- side by side (--peer) ---------------------------------------------------------------


def comparison_scenarios(tokens):
    """The scenarios of the comparison, in Firebreak's API (peer.scenarios has the peer's)."""
    agent = {"Authorization": f"Bearer {tokens['agent1']}"}
    engineer = {"Authorization": f"Bearer {tokens['engineer3']}"}
    return {
        "create": [
            {"method": "POST", "path": "/api/v1/incidents/", "headers": agent, "body": body}
            for body in create_bodies()
        ],
        "open": [{"method": "GET", "path": f"/api/v1/incidents/?{OPEN}", "headers": agent}],
        "team open": [
            {"method": "GET", "path": f"/api/v1/incidents/?team=infrastructure&{OPEN}", "headers": engineer}
        ],
    }  # fmt: skip


COMPARED = {
    "create": "create via the API (agent, 60 bodies in turn)",
    "open": "open tickets, first page via the API (agent: every queue)",
    "team open": "one team's (queue's) open tickets, first page (its engineer)",
}


def compare(args, env, bench_url, tokens, token_name, watermark, stamp, dataset, server_info):
    """Firebreak and the peer on the same machine, database server, data size, gunicorn
    workers and load: each scenario run `--rounds` times, Firebreak and the peer in turn, so
    what the rest of the machine does weighs on both alike. The reads first (all rounds),
    then the creates, so the rows the creates add do not change the lists measured."""
    import peer

    peer_db = peer.database_name()
    peer_url = urlunsplit(urlsplit(bench_url)._replace(path=f"/{peer_db}"))
    with connect(urlunsplit(urlsplit(bench_url)._replace(path="/postgres")), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [peer_db]).fetchone():
            log(f"creating database {peer_db}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(peer_db)))
    seeded = peer.prepare(peer_url, dataset["incidents"])
    ours, theirs = comparison_scenarios(tokens), peer.scenarios(seeded)
    servers = {
        "firebreak": Gunicorn(env, args.workers, RESULTS / f"{stamp}-gunicorn.log"),
        "helpdesk": Gunicorn(
            peer.environment(peer_url), args.workers, RESULTS / f"{stamp}-helpdesk-gunicorn.log",
            command=peer.server_command, cwd=peer.PROJECT, ready_path="/healthz",
        ),
    }  # fmt: skip
    runs = []
    try:
        for server in servers.values():
            server.start()
        for name in ("open", "team open", "create"):
            for round_ in range(1, args.rounds + 1):
                for side, requests in (("firebreak", ours[name]), ("helpdesk", theirs[name])):
                    load = os.getloadavg()[0]
                    r = run_scenario(
                        env, {"name": f"{side} {name}", "what": COMPARED[name], "requests": requests},
                        servers[side].port, args,
                    )  # fmt: skip
                    r.update(side=side, scenario=name, round=round_, load_before=round(load, 2),
                             load_after=round(os.getloadavg()[0], 2))  # fmt: skip
                    runs.append(r)
                    log(
                        f"  {side} {name} #{round_}: {r['throughput_rps']} req/s, p95 {r['p95_ms']:.1f} ms, "
                        f"{r['errors']} errors, load {r['load_before']}"
                    )
    except KeyboardInterrupt:
        log("interrupted: stopping")
    finally:
        for server in servers.values():
            server.stop()
        try:
            cleanup(bench_url, watermark, token_name, keep=args.keep_created)
            peer.cleanup(connect, peer_url, seeded["watermark"])
        except psycopg.Error as exc:
            log(f"cleanup failed: {exc}")
    for r in runs:
        r.pop("latencies_ms", None)  # the figures, not every sample (the JSON stays small)
    report = {
        "timestamp": stamp, "git_commit": git_commit(), "peer": f"django-helpdesk {peer.HELPDESK_VERSION}",
        "config": {"clients": args.clients, "gunicorn_workers": args.workers, "warmup_s": args.warmup,
                   "duration_s": args.duration, "rounds": args.rounds, "cpus": os.cpu_count(),
                   "postgres": server_info},
        "firebreak_dataset": dataset, "peer_dataset": {k: v for k, v in seeded.items() if k != "tokens"},
        "runs": runs,
    }  # fmt: skip
    path = RESULTS / f"peer-{stamp}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print()
    print(comparison_table(runs, args, dataset, seeded))
    print(f"\nResults: {path.relative_to(ROOT)}")
    return 0


def comparison_table(runs, args, dataset, seeded):
    lines = [
        f"Side by side: Firebreak and django-helpdesk, {dataset['incidents']} vs {seeded['tickets']} tickets "
        f"({dataset['open']} vs {seeded['open']} open), {args.clients} closed-loop clients, gunicorn "
        f"{args.workers} workers, {args.duration:g} s per run, runs interleaved",
        f"{'scenario':<10} {'#':>2} {'Firebreak req/s':>15} {'p95 ms':>7} {'load':>5}   "
        f"{'helpdesk req/s':>14} {'p95 ms':>7} {'load':>5}   {'ratio req/s':>11}",
    ]
    medians = {}
    for name in COMPARED:
        for round_ in range(1, args.rounds + 1):
            pair = {r["side"]: r for r in runs if r["scenario"] == name and r["round"] == round_}
            if len(pair) < 2:
                continue
            ours, theirs = pair["firebreak"], pair["helpdesk"]
            ratio = ours["throughput_rps"] / theirs["throughput_rps"] if theirs["throughput_rps"] else math.inf
            medians.setdefault(name, []).append(ratio)
            lines.append(
                f"{name:<10} {round_:>2} {ours['throughput_rps']:>15.1f} {ours['p95_ms']:>7.1f} {ours['load_before']:>5.1f}   "
                f"{theirs['throughput_rps']:>14.1f} {theirs['p95_ms']:>7.1f} {theirs['load_before']:>5.1f}   {ratio:>10.2f}x"
                + (f"  ERRORS {ours['errors']}/{theirs['errors']}" if ours["errors"] or theirs["errors"] else "")
            )
    lines.append("Ratio (Firebreak's req/s over the peer's, median of the rounds):")
    for name, ratios in medians.items():
        lines.append(f"  {name:<10} {statistics.median(ratios):.2f}x  ({COMPARED[name]})")
    return "\n".join(lines)


def cleanup(bench_url, watermark, token_name, keep):
    """Put the data back as the run found it: the created incidents go, the tokens are revoked."""
    with connect(bench_url, autocommit=True) as conn:
        if token_name:
            conn.execute(
                "UPDATE skills_apitoken SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL",
                [token_name],
            )
        if keep:
            return
        # Every table with a foreign key to incidents (timeline, outbox, tasks, ...): Django
        # emulates CASCADE in Python, so the rows that point at new incidents go first.
        children = conn.execute(
            """
            SELECT cl.relname, a.attname
            FROM pg_constraint c
            JOIN pg_class cl ON cl.oid = c.conrelid
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            WHERE c.contype = 'f' AND c.confrelid = 'incidents_incident'::regclass
            """
        ).fetchall()
        with conn.transaction():
            for table_name, column in children:
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE {} > %s").format(
                        sql.Identifier(table_name), sql.Identifier(column)
                    ),
                    [watermark],
                )
            deleted = conn.execute(
                "DELETE FROM incidents_incident WHERE id > %s", [watermark]
            ).rowcount
        tables = sql.SQL(", ").join(
            sql.Identifier(name) for name in ["incidents_incident", *{t for t, _ in children}]
        )
        conn.execute(sql.SQL("VACUUM ANALYZE {}").format(tables))
        log(f"cleanup: deleted the {deleted} incidents this run created")


def git_commit():
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _terminate(signum, frame):
    raise KeyboardInterrupt  # so that `finally` stops gunicorn on SIGTERM as on Ctrl-C


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
