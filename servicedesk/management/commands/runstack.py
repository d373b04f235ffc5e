"""Start web (gunicorn), a Celery worker and Celery beat together; Ctrl-C stops all three.

This is what `make run` ends with. Each process gets the same environment, so with
DATABASE_URL and CELERY_BROKER_URL set they all use PostgreSQL and Redis.

bandit's B404/B603 (subprocess) are marked nosec: the commands are this interpreter's own
gunicorn and celery with fixed arguments, never a shell."""

import os
import signal
import subprocess  # nosec B404
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from incidents.management.commands.seed_demo import PEOPLE


class Command(BaseCommand):
    help = "Run web, worker and beat in the foreground (the embedded mode of `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args, host, port, web_workers, **options):
        bin_dir = os.path.dirname(sys.executable)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        commands = {
            "web": [
                os.path.join(bin_dir, "gunicorn"), "servicedesk.wsgi", "--bind", f"{host}:{port}",
                "--workers", str(web_workers), "--access-logfile", "-", "--log-level", "warning",
            ],
            "worker": [
                sys.executable, "-m", "celery", "-A", "servicedesk", "worker", "--loglevel", "warning",
                "--queues", "default,sweeps,notifications", "--concurrency", "2", "--hostname", "embedded@%h",
            ],
            "beat": [
                sys.executable, "-m", "celery", "-A", "servicedesk", "beat", "--loglevel", "warning",
                "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }  # fmt: skip
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        processes = {}
        for name, command in commands.items():
            # Fixed argument lists (this interpreter's gunicorn and celery, no shell); only the
            # host and port come from the operator, each as one argument.
            processes[name] = subprocess.Popen(command, env=env, start_new_session=True)  # nosec B603

        url = f"http://{host}:{port}/"
        database = settings.DATABASES["default"]
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Firebreak is running at {url}   (API docs: {url}api/docs/)",
                    f"  database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}",
                    f"  broker:   {settings.CELERY_BROKER_URL.split('@')[-1]}",
                    "  demo logins (password = username):",
                    *[f"    {username:<11} {title}" for username, title, *_ in PEOPLE],
                    "Press Ctrl-C to stop web, worker and beat.",
                    "",
                ]
            )
        )
        self.stdout.flush()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with code {process.returncode}; stopping the others.")
                    exit_code = process.returncode or 1
                    stopping = True
                    break
            time.sleep(0.5)
        self._stop(processes)
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, processes):
        for process in processes.values():
            if process.poll() is None:
                process.terminate()  # the leader stops its own children (gunicorn and celery workers)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.stdout.write("Stopped web, worker and beat.")
