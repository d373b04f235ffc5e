"""Real processes for the engine tests: a private Redis (so it can be stopped), an SMTP
server (aiosmtpd), Celery workers and beats, and gunicorn, all on loopback."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds, what, interval=0.25):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


class Redis:
    def __init__(self, tmp):
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.port, self.dir, self.process = free_port(), tmp, None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self.answers, 10, "redis to start")

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Sink:
    """Every mail the SMTP server accepted: (Message-ID, recipient). `delay`: seconds it
    takes over each message (a slow server, so a test can kill a worker mid-send)."""

    def __init__(self, delay=0):
        self.delay = delay
        self.received = []
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        message_id = ""
        for line in envelope.content.decode("utf8", "replace").splitlines():
            if line.lower().startswith("message-id:"):
                message_id = line.split(":", 1)[1].strip()
                break
            if not line:
                break
        with self.lock:
            self.received += [(message_id, rcpt) for rcpt in envelope.rcpt_tos]
        return "250 OK"

    @property
    def port(self):
        return self.controller.port

    def counts(self):
        with self.lock:
            return Counter(self.received)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class Processes:
    """Start and stop the project's own processes with one environment."""

    def __init__(self, env, tmp):
        self.env, self.tmp, self.running = env, tmp, []

    def start(self, name, *args):
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        process.log, process.name = log, name
        self.running.append(process)
        return process

    def worker(self, name, concurrency=2):
        return self.start(
            name, "-m", "celery", "-A", "servicedesk", "worker", "--loglevel", "info", "--concurrency",
            str(concurrency), "--queues", "default,sweeps,notifications", "--hostname", f"{name}@%h",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip

    def beat(self, name):
        return self.start(name, "-m", "celery", "-A", "servicedesk", "beat", "--loglevel", "info",
                          "--schedule", str(self.tmp / f"{name}-schedule"))  # fmt: skip

    def web(self, port):
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        process = subprocess.Popen(
            [gunicorn, "servicedesk.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=open(self.tmp / "web.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )  # fmt: skip
        process.log, process.name = process.stdout, "web"
        self.running.append(process)
        return process

    @staticmethod
    def kill9(process):
        """SIGKILL the whole process group: the worker and its pool children, no goodbyes."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self):
        for process in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
            if process.log:
                process.log.close()

    def logs(self):
        return "\n".join(
            f"--- {p.name}\n" + (self.tmp / f"{p.name}.log").read_text(errors="replace")[-3000:] for p in self.running
        )


def environment(database, **extra):
    """The environment of a process that uses the test database."""
    url = f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env |= {
        "DATABASE_URL": url, "SECRET_KEY": "process-tests", "DEBUG": "false", "SLA_SWEEP_SECONDS": "1",
        "OUTBOX_CLAIM_SECONDS": "5", "PYTHONUNBUFFERED": "1", "ALLOWED_HOSTS": "127.0.0.1", "API_THROTTLE_RATE": "off",
        "DB_CONN_MAX_AGE": "0",
    }  # fmt: skip
    env |= {k: str(v) for k, v in extra.items()}
    return env
