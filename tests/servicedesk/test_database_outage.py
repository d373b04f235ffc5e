"""PostgreSQL goes away under the real web server: gunicorn, as runstack starts it, reaches
the database through a TCP proxy this test controls. For 30 seconds the proxy passes
nothing on (the connections the web workers keep, and new ones it accepts, all go
silent), then for 30 seconds it refuses connections. Every request meanwhile answers a clean 503 within seconds (JSON with
Retry-After on the API, the retrying page in the browser), /healthz answers at once, and
once the database is back everything works again with nothing restarted."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.db import connection

from skills.services import token_issue
from tests.processes.harness import Processes, environment, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHASE_SECONDS = 30
APP = "firebreak-outage-test"  # the web workers' sessions, by name
CONNECT_TIMEOUT, STATEMENT_TIMEOUT = 2, 3
# The longest a request may take in an outage: a kept connection's health check waits out
# the reply timeout (statement + connect timeout), then a new connection its connect timeout.
BOUND = 2 * CONNECT_TIMEOUT + STATEMENT_TIMEOUT + 2


class Proxy:
    """A TCP proxy to PostgreSQL with three modes: `forward`, `refuse` (nothing listens;
    open links are cut) and `silent` (connections are accepted and held, open links are
    held too, and not a byte passes either way)."""

    def __init__(self, upstream):
        self.upstream, self.port = upstream, free_port()
        self.mode, self.listener, self.links, self.lock = "forward", None, [], threading.Lock()
        self._listen()

    def _listen(self):
        if self.listener is None:
            self.listener = socket.create_server(("127.0.0.1", self.port))
            threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _unlisten(self):
        if self.listener is not None:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(), so the port closes at once
            self.listener.close()
            self.listener = None

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: refusing
            with self.lock:
                if self.mode != "forward":
                    self.links.append((client, None))  # held, never answered
                    continue
                server = socket.create_connection(self.upstream)
                self.links.append((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target):
        try:
            while data := source.recv(65536):
                while self.mode == "silent":  # hold the bytes: the database "stopped answering"
                    time.sleep(0.1)
                if self.mode != "forward":
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source, target)

    def _cut(self):
        with self.lock:
            links, self.links = self.links, []
        for link in links:
            _close(*link)

    def silent(self):
        self.mode = "silent"

    def refuse(self):
        self.mode = "refuse"
        self._unlisten()
        self._cut()

    def forward(self):
        self._cut()
        self.mode = "forward"
        self._listen()

    close = refuse


def _close(*ends):
    """Close sockets for good: shutdown first, which also ends a recv() another thread is
    blocked in (a bare close() leaves the connection open until that recv returns)."""
    for end in ends:
        if end is None:
            continue
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()


def _request(url, headers=None):
    """(status, headers, body, seconds)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=40) as response:
            status, answer, body = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, answer, body = exc.code, exc.headers, exc.read().decode()
    except OSError as exc:
        return None, {}, repr(exc), time.monotonic() - started
    return status, answer, body, time.monotonic() - started


def _outage(base, headers, seconds):
    """Ask the API, a page, /healthz and /readyz over and over for `seconds`; return what
    every answer was and the slowest of each."""
    seen, slowest, ended = set(), {}, time.monotonic() + seconds
    while time.monotonic() < ended:
        status, answer, body, took = _request(f"{base}/api/v1/incidents/", headers)
        assert status == 503, (status, body)
        assert answer["Content-Type"] == "application/json" and json.loads(body)["detail"]
        assert int(answer["Retry-After"]) > 0
        seen.add("api")
        slowest["api"] = max(slowest.get("api", 0), took)
        status, answer, body, took = _request(f"{base}/status/")
        assert status == 503 and "Back in a moment" in body and answer["Retry-After"], (status, body[:300])
        slowest["page"] = max(slowest.get("page", 0), took)
        status, _, _, took = _request(f"{base}/healthz")
        assert status == 200
        slowest["healthz"] = max(slowest.get("healthz", 0), took)
        status, _, body, took = _request(f"{base}/readyz")
        assert status == 503 and json.loads(body)["checks"]["database"].startswith("unavailable")
        slowest["readyz"] = max(slowest.get("readyz", 0), took)
    return slowest


def test_refused_then_silent_database_answers_503s_and_recovers_by_itself(world, tmp_path):
    _, token = token_issue(person=world.people[2])
    database = connection.settings_dict
    proxy = Proxy((database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432)))
    env = environment(database)
    env |= {
        "DATABASE_URL": f"postgres://{database['USER']}@127.0.0.1:{proxy.port}/{database['NAME']}?application_name={APP}",
        "DB_CONN_MAX_AGE": "60",  # kept connections, as in production: they go silent too
        "DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT), "DB_STATEMENT_TIMEOUT": str(STATEMENT_TIMEOUT),
        "CELERY_BROKER_URL": "memory://",
    }  # fmt: skip
    processes, port = Processes(env, tmp_path), free_port()
    base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        processes.web(port)
        wait_for(lambda: _request(f"{base}/healthz")[0] == 200, 60, "gunicorn")
        for _ in range(4):  # both workers hold a connection through the proxy
            assert _request(f"{base}/api/v1/incidents/", headers)[0] == 200
            assert _request(f"{base}/status/")[0] == 200

        proxy.silent()
        silent = _outage(base, headers, PHASE_SECONDS)
        proxy.refuse()
        refused = _outage(base, headers, PHASE_SECONDS)
        print(f"slowest answers (s): silent {silent}, refused {refused}")
        for phase in (silent, refused):
            assert phase["api"] < BOUND and phase["page"] < BOUND and phase["readyz"] < BOUND, phase
            assert phase["healthz"] < 1, phase

        proxy.forward()
        recovered_at = time.monotonic()
        wait_for(lambda: _request(f"{base}/api/v1/incidents/", headers)[0] == 200, 2 * BOUND, "the API to recover")
        wait_for(lambda: _request(f"{base}/status/")[0] == 200, 2 * BOUND, "the pages to recover")
        print(f"recovered in {time.monotonic() - recovered_at:.1f} s")
        assert _request(f"{base}/readyz")[0] in (200, 503)  # the broker is memory://: only the database counts here
        assert json.loads(_request(f"{base}/readyz")[2])["checks"]["database"] == "ok"
        assert all(process.poll() is None for process in processes.running)  # nothing restarted...
        assert "WORKER TIMEOUT" not in (tmp_path / "web.log").read_text()  # ...and no worker killed
    except BaseException:
        print(processes.logs())
        raise
    finally:
        processes.stop()
        proxy.close()
        wait_for(_web_sessions_ended, 20, "the web workers' sessions to end")


def _web_sessions_ended():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP])
        return cursor.fetchone()[0] == 0
