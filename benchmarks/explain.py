"""Query plans and per-request SQL for the benchmarked endpoints (run by run.py).

    DATABASE_URL=postgres://.../firebreak_bench python benchmarks/explain.py < spec.json

The spec (JSON on stdin) names the list variants, each {"name", "username", "query"}, and
the API requests to profile, each {"name", "method", "path", "body", "token"}. For each
list variant it builds the queryset exactly as the API does (incidents_visible_to +
IncidentFilter + ordering -created_at, -id, first 26 rows, which is what KeysetPagination
asks for) and runs EXPLAIN (ANALYZE, BUFFERS) on it twice, keeping the second (warm) run.
For each request it runs the view in-process with Django's test client and records every
SQL statement. Writes one JSON object on stdout.
"""

import json
import logging
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from incidents.filters import IncidentFilter  # noqa: E402
from incidents.selectors import incidents_visible_to  # noqa: E402
from skills.models import Person  # noqa: E402

PAGE_ROWS = 26  # KeysetPagination: page_size + 1, to know whether there is a next page

INDEX_RE = re.compile(
    r"(Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)"
)
SEQ_RE = re.compile(r"Seq Scan on (\w+)")
TIME_RE = re.compile(r"(Planning|Execution) Time: ([\d.]+) ms")
BUFFERS_RE = re.compile(r"Buffers: shared((?: \w+=\d+)+)")
ROWS_REMOVED_RE = re.compile(r"Rows Removed by Filter: (\d+)")
TRANSACTION_RE = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT)\b")


def list_queryset(username, query):
    actor = Person.objects.get(username=username)
    queryset = incidents_visible_to(actor)
    filterset = IncidentFilter(QueryDict(query), queryset=queryset)
    if not filterset.is_valid():
        raise SystemExit(f"filter {query!r} is not valid: {filterset.errors}")
    return filterset.qs.order_by("-created_at", "-pk")[:PAGE_ROWS]


def summarise(plan):
    lines = plan.splitlines()
    top = lines[0].strip() if lines else ""
    times = dict(TIME_RE.findall(plan))
    buffers = {}
    match = BUFFERS_RE.search(plan)  # the first Buffers line is the top node's: the whole query
    if match:
        for part in match.group(1).split():
            key, value = part.split("=")
            buffers[key] = int(value)
    return {
        "top_node": re.sub(r"\s+\(cost=.*", "", top),
        "indexes": sorted({name for _, name in INDEX_RE.findall(plan)}),
        "scans": [f"{kind} {name}" for kind, name in INDEX_RE.findall(plan)]
        + [f"Seq Scan {t}" for t in SEQ_RE.findall(plan)],
        "seq_scans": sorted(set(SEQ_RE.findall(plan))),
        "sort": "Sort Method" in plan,
        "rows_removed_by_filter": sum(int(n) for n in ROWS_REMOVED_RE.findall(plan)),
        "planning_ms": float(times.get("Planning", "nan")),
        "execution_ms": float(times.get("Execution", "nan")),
        "buffers": buffers,
    }


def explain(variant):
    queryset = list_queryset(variant["username"], variant["query"])
    queryset.explain(analyze=True, buffers=True)  # warm the cache and the catalogue
    plan = queryset.explain(analyze=True, buffers=True)
    return {**variant, "sql": str(queryset.query), "plan": plan, "summary": summarise(plan)}


def profile(request):
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {request['token']}")
    kwargs = {}
    if request.get("body") is not None:
        kwargs = {"data": json.dumps(request["body"]), "content_type": "application/json"}
    call = getattr(client, request["method"].lower())
    call(request["path"], **kwargs)  # warm: imports, caches, token_touch
    queries = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append(
                {
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                    "sql": sql,
                    "params": params,
                }
            )

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
        started = time.perf_counter()
        response = call(request["path"], **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
    # The wrapper times each statement precisely; the capture has the SQL as sent, and the
    # transaction statements (BEGIN, COMMIT, savepoints), which the wrapper does not see.
    timed_queries, queries = iter(queries), []
    for sent in captured.captured_queries:
        if TRANSACTION_RE.match(sent["sql"]):
            queries.append({"ms": float(sent["time"]) * 1000, "sql": sent["sql"]})
        else:
            query = next(timed_queries, {"ms": float(sent["time"]) * 1000})
            queries.append({"ms": query["ms"], "sql": sent["sql"]})
    return {
        "name": request["name"],
        "status": response.status_code,
        "in_process_ms": round(elapsed, 2),
        "query_count": len(queries),
        "sql_ms": round(sum(q["ms"] for q in queries), 2),
        "queries": queries,
    }


def guarded(function, item):
    """One failing item (say, a model ahead of its migration) must not hide the others."""
    try:
        return function(item)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        connection.close()  # a failed statement may leave the connection unusable
        shown = {key: value for key, value in item.items() if key != "token"}
        return {**shown, "error": f"{type(exc).__name__}: {exc}".strip()[:500]}


def main():
    logging.getLogger("django.request").setLevel(
        logging.CRITICAL
    )  # failures are reported, not logged
    spec = json.load(sys.stdin)
    result = {
        "plans": [guarded(explain, variant) for variant in spec.get("plans", [])],
        "profiles": [guarded(profile, request) for request in spec.get("profiles", [])],
    }
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
