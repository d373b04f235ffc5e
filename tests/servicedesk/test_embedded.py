"""The embedded path: web, worker and beat started the way `make run` starts them, on
SQLite and kombu's filesystem broker, with no server of any kind."""

import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _get(url, opener=None):
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None, ""


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_make_run_path_serves_logs_in_and_delivers_mail(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}}
    env |= {"DEBUG": "true", "FIREBREAK_VAR_DIR": str(tmp_path), "SLA_SWEEP_SECONDS": "2", "PYTHONUNBUFFERED": "1"}
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run(manage + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=180)
    port = _free_port()
    log = (tmp_path / "runstack.log").open("w")
    stack = subprocess.Popen(manage + ["runstack", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _get(f"{base}/readyz")[0] == 200, 90, "/readyz")
        status, body = _get(f"{base}/readyz")
        assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok"}
        banner = (tmp_path / "runstack.log").read_text()
        assert f"{base}/" in banner and "agent1" in banner and "password = username" in banner

        # A demo login through the real login form.
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        _, page = _get(f"{base}/login/", opener)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "agent1", "password": "agent1", "csrfmiddlewaretoken": csrf}).encode()
        request = urllib.request.Request(f"{base}/login/", data=form, headers={"Referer": f"{base}/login/"})
        try:
            opener.open(request, timeout=10)
            raise AssertionError("the login did not redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and exc.headers["Location"] == "/"
        assert any(cookie.name == "sessionid" for cookie in jar)
        assert _get(f"{base}/", urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)))[0] == 200

        # The worker delivers what the web process queued.
        token = subprocess.run(
            manage + ["issue_token", "agent2"], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        def post(path, body):
            request = urllib.request.Request(f"{base}{path}", data=json.dumps(body).encode(), headers=headers)
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())

        incident = post("/api/v1/incidents/", {"title": "Mail down", "category": "hardware", "impact": 2, "urgency": 2, "reporter": "reporter"})
        post(f"/api/v1/incidents/{incident['reference']}/updates/", {"body": "Looking into it"})
        database = sqlite3.connect(tmp_path / "firebreak.sqlite3")

        def delivered():
            rows = database.execute("SELECT state FROM incidents_outboundmessage").fetchall()
            return rows == [("sent",)]

        _wait_for(delivered, 60, "the worker to deliver the update")

        # Beat's timer sweep runs on SQLite too: a target of seconds breaches and is marked.
        token = subprocess.run(
            manage + ["issue_token", "owner5"], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=60
        ).stdout.strip()
        headers["Authorization"] = f"Bearer {token}"
        targets = {str(p): {"response": 2 * p, "resolution": 4 * p} for p in range(1, 6)}
        request = urllib.request.Request(
            f"{base}/api/v1/procedures/hardware/", data=json.dumps({"sla_targets": targets}).encode(),
            headers=headers, method="PATCH",
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).close()
        post("/api/v1/procedures/hardware/publish/", {})
        quick = post("/api/v1/incidents/", {"title": "Quick", "category": "hardware", "impact": 2, "urgency": 2})
        number = int(quick["reference"].split("-")[1])

        def breached():
            row = database.execute("SELECT response_breached FROM incidents_incident WHERE id = ?", (number,)).fetchone()
            return row == (1,)

        try:
            _wait_for(breached, 120, "the sweep to mark the breach")
        except AssertionError as exc:  # say what the worker and beat were doing
            raise AssertionError(f"{exc}\n{(tmp_path / 'runstack.log').read_text()[-4000:]}") from None
        database.close()
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=40)
        finally:
            if stack.poll() is None:
                stack.kill()
            log.close()
    assert stack.returncode == 0, (tmp_path / "runstack.log").read_text()[-3000:]
    assert _get(f"{base}/healthz")[0] is None  # web is gone too
