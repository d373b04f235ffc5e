"""Container health checks: `manage.py healthcheck web|worker|beat` exits 0 when healthy."""

import socket
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from servicedesk.health import _check_broker, _check_database


class Command(BaseCommand):
    help = "Exit 0 if this process kind is healthy: web answers /healthz, a worker answers a ping, beat keeps its schedule."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["web", "worker", "beat"])
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, kind, port, **options):
        try:
            getattr(self, f"check_{kind}")(port)
        except Exception as exc:
            raise CommandError(f"{kind} is unhealthy: {exc}") from None
        self.stdout.write(f"{kind} ok")

    def check_web(self, port):
        # bandit B310: a fixed http URL, so no file:// or other scheme can reach urlopen.
        url = f"http://127.0.0.1:{port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  # nosec B310
            if response.status != 200:
                raise RuntimeError(f"/healthz answered {response.status}")

    def check_worker(self, port):
        from servicedesk.celery import app

        name = f"celery@{socket.gethostname()}"
        replies = app.control.inspect(destination=[name], timeout=5).ping() or {}
        if name not in replies:
            raise RuntimeError(f"{name} did not answer a ping")

    def check_beat(self, port):
        _check_database()
        _check_broker()
        schedule = Path(settings.VAR_DIR) / "celerybeat-schedule"
        candidates = [p for p in schedule.parent.glob(schedule.name + "*")]
        if not candidates:
            raise RuntimeError("beat has written no schedule file")
        age = time.time() - max(p.stat().st_mtime for p in candidates)
        if age > 15 * 60:
            raise RuntimeError(f"the schedule file has not changed for {int(age)} s")
