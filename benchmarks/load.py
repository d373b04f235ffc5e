"""A closed-loop HTTP load generator (run by run.py as its own process).

Reads a JSON spec on stdin:

    {"host": "127.0.0.1", "port": 8000, "clients": 2, "warmup": 3, "duration": 25,
     "max_requests": 200000,
     "requests": [{"method": "GET", "path": "/api/v1/...", "headers": {...}, "body": null}, ...]}

Starts `clients` threads, each with its own keep-alive http.client connection. Each thread
sends the next request as soon as the previous answer is read in full (closed loop, no
think time), cycling through `requests` from its own offset. The warm-up answers are
discarded; then every request is timed (perf_counter, send to last byte) until `duration`
seconds have passed or `max_requests` were sent. Writes one JSON object on stdout:
{"elapsed": s, "samples": [[latency_ms, status, request index], ...], "errors": [first few
error bodies]}.
Status 0 means the connection failed (it is re-opened).
"""

import http.client
import json
import sys
import threading
import time


def worker(spec, index, phase, out, errors, lock, counter):
    requests = spec["requests"]
    position = index * 7919 % len(requests)  # spread the clients over the request list
    conn = None
    while True:
        now = time.perf_counter()
        if now >= phase["deadline"]:
            break
        if phase["measuring"]:
            with lock:
                if counter[0] >= spec["max_requests"]:
                    break
                counter[0] += 1
        request, request_index = requests[position], position
        position = (position + 1) % len(requests)
        if conn is None:
            conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=30)
        body = request.get("body")
        payload = json.dumps(body).encode() if body is not None else None
        headers = dict(request.get("headers") or {})
        if payload is not None:
            headers["Content-Type"] = "application/json"
        measuring = phase["measuring"]
        started = time.perf_counter()
        try:
            conn.request(request["method"], request["path"], body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, repr(exc).encode()
            conn.close()
            conn = None
        latency = (time.perf_counter() - started) * 1000
        if measuring:
            out.append((round(latency, 3), status, request_index))
            if not 200 <= status < 300 and len(errors) < 5:
                with lock:
                    errors.append(
                        {
                            "status": status,
                            "path": request["path"],
                            "body": data[:500].decode("utf-8", "replace"),
                        }
                    )
    if conn is not None:
        conn.close()


def run_phase(spec, seconds, measuring):
    phase = {"deadline": time.perf_counter() + seconds, "measuring": measuring}
    lock, counter, errors = threading.Lock(), [0], []
    outputs = [[] for _ in range(spec["clients"])]
    threads = [
        threading.Thread(
            target=worker, args=(spec, i, phase, outputs[i], errors, lock, counter), daemon=True
        )
        for i in range(spec["clients"])
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - started
    return elapsed, [sample for output in outputs for sample in output], errors


def main():
    spec = json.load(sys.stdin)
    spec.setdefault("max_requests", 200_000)
    if spec.get("warmup", 0) > 0:
        run_phase(spec, spec["warmup"], measuring=False)
    elapsed, samples, errors = run_phase(spec, spec["duration"], measuring=True)
    json.dump({"elapsed": elapsed, "samples": samples, "errors": errors}, sys.stdout)


if __name__ == "__main__":
    main()
