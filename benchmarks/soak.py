"""Soak: does a web worker's memory stay flat? (issue 13, item 5; `make bench-soak`)

    .venv/bin/python benchmarks/soak.py --incidents 1000000 --minutes 10

On the API benchmark's data set (built by `make bench-data`, or BENCH_DATABASE), gunicorn with
`--workers` (2) sync workers takes `--minutes` of mixed API traffic from benchmarks/load.py
(`--clients` closed-loop clients cycling through the team lists, the breached list, text
searches, an incident's detail and timeline, and creates: one create in every eight
requests), while benchmarks/rss.py samples each worker's RSS every `--interval` seconds
(10). Prints, per worker: RSS at the start (after a warm-up), the largest, at the end, and
the slope (least squares, MB per minute) over the whole soak and over its second half (caches
fill early; a leak keeps growing). Then the incidents the soak created are deleted
and its tokens revoked, as run.py does. Results: benchmarks/results/soak-<timestamp>.json.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rss  # noqa: E402
import run  # noqa: E402


def mixed_requests(tokens, detail):
    """One cycle of the soak: reads of every kind, one create in eight requests."""
    chosen = {s["name"][:2].strip(): s["requests"] for s in run.scenarios(tokens, detail)}
    reads = chosen["B1"] + chosen["B2"] + chosen["B3"] + chosen.get("D", [])
    searches, creates = chosen["C"], chosen["A"]
    cycle, s, c = [], 0, 0
    for n in range(7 * len(creates)):
        if n % 7 == 6:
            cycle.append(searches[s % len(searches)])
            s += 1
        else:
            cycle.append(reads[n % len(reads)])
        if n % 7 == 0:
            cycle.append(creates[c % len(creates)])
            c += 1
    return cycle


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=int(os.environ.get("BENCH_INCIDENTS", 100_000)))
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=10, help="seconds between RSS samples")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=int(os.environ.get("BENCH_CLIENTS", 4)))
    parser.add_argument("--warmup", type=float, default=30, help="seconds of traffic before the first sample")
    args = parser.parse_args()
    run.BENCH_DB = run.database_name(args.incidents)
    source_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    bench_url = run.bench_database_url(source_url)
    env = {
        **os.environ, "DATABASE_URL": bench_url, "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-secret-key", "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": "off", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15", "EMAIL_HOST": "",
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    with run.connect(bench_url) as conn:
        incidents, watermark = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM incidents_incident").fetchone()
    if incidents < args.incidents * 0.99:
        raise SystemExit(
            f"{run.BENCH_DB} has {incidents} incidents, not {args.incidents}: build it first "
            f"(make bench-data BENCH_INCIDENTS={args.incidents}, or benchmarks/run.py --prepare-only)"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    token_name = f"soak {stamp}"
    tokens = {
        username: run.manage(env, "issue_token", username, "--name", token_name, capture=True).strip()
        for username in ("agent1", "engineer3")
    }
    requests = mixed_requests(tokens, run.busiest_incident(bench_url))
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    server = run.Gunicorn(env, args.workers, run.RESULTS / f"soak-{stamp}-gunicorn.log")
    loads, report, load_result = [], {}, {}
    try:
        server.start()
        duration = args.minutes * 60
        spec = {"host": "127.0.0.1", "port": server.port, "clients": args.clients, "warmup": args.warmup,
                "duration": duration, "max_requests": 10**9, "requests": requests}  # fmt: skip
        run.log(
            f"soak: {args.warmup:g} s warm-up, then {args.minutes:g} min of mixed traffic, "
            f"{args.clients} clients, {len(requests)} requests a cycle"
        )
        holder = {}
        loader = threading.Thread(
            target=lambda: holder.update(raw=run.helper(env, "load.py", stdin=json.dumps(spec), timeout=duration + args.warmup + 300)),
            daemon=True,
        )  # fmt: skip
        loader.start()
        time.sleep(args.warmup)
        sampler = rss.watch([server.process.pid], interval=args.interval, only_children=True)
        while loader.is_alive():
            loads.append(round(os.getloadavg()[0], 2))
            loader.join(args.interval)
        report = sampler.stop()
        raw = holder.get("raw") or {"samples": [], "elapsed": 0, "errors": []}
        latencies = sorted(latency for latency, _, _ in raw["samples"])
        load_result = {
            "requests": len(latencies),
            "req_per_s": round(len(latencies) / raw["elapsed"], 1) if raw["elapsed"] else 0,
            "p50_ms": run.percentile(latencies, 50), "p95_ms": run.percentile(latencies, 95),
            "errors": sum(1 for _, status, _ in raw["samples"] if not 200 <= status < 300),
            "error_samples": raw["errors"],
        }  # fmt: skip
    except KeyboardInterrupt:
        run.log("interrupted: stopping")
    finally:
        server.stop()
        try:
            run.cleanup(bench_url, watermark, token_name, keep=False)
        except psycopg.Error as exc:
            run.log(f"cleanup failed: {exc}")
    result = {
        "timestamp": stamp, "git_commit": run.git_commit(), "database": run.BENCH_DB, "incidents": incidents,
        "minutes": args.minutes, "workers": args.workers, "clients": args.clients, "interval_s": args.interval,
        "env": {k: os.environ[k] for k in ("DB_POOL", "DB_SERVER_SIDE_BINDING", "DB_PREPARE_THRESHOLD") if k in os.environ},
        "load": load_result, "load_average": loads, "rss": {str(pid): entry for pid, entry in report.items()},
    }  # fmt: skip
    path = run.RESULTS / f"soak-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    print()
    print(
        f"Soak: {args.minutes:g} min of mixed API traffic, {incidents} incidents, gunicorn {args.workers} workers, "
        f"{args.clients} clients; load average {min(loads, default=0):.1f}-{max(loads, default=0):.1f}"
    )
    if load_result:
        print(
            f"  {load_result['requests']} requests, {load_result['req_per_s']} req/s, p50 {load_result['p50_ms']:.1f} ms, "
            f"p95 {load_result['p95_ms']:.1f} ms, {load_result['errors']} errors"
        )
    print(f"  {'worker pid':>10} {'start MB':>9} {'max MB':>8} {'end MB':>8} {'slope MB/min':>13} {'2nd half':>9} {'samples':>8}")
    for pid, entry in sorted(report.items()):
        print(
            f"  {pid:>10} {entry['start_mb']:>9.1f} {entry['max_mb']:>8.1f} {entry['end_mb']:>8.1f} "
            f"{entry['slope_mb_per_min']:>13.3f} {entry['slope_second_half_mb_per_min']:>9.3f} {len(entry['samples']):>8}"
        )
    print(f"Results: {path.relative_to(run.ROOT)}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, run._terminate)
    sys.exit(main())
