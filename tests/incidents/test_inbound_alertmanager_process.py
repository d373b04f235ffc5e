"""The real Alertmanager (Debian's prometheus-alertmanager) delivers to the live server:
an alert posted to its API becomes one incident, its resolution resolves it."""

import json
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from incidents.inbound import alerts
from incidents.models import Incident, Status
from skills.services import token_issue
from tests.incidents.inbound_helpers import integration
from tests.processes.harness import free_port, wait_for
from tests.system import need_program

CONFIG = """
route:
  receiver: firebreak
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: firebreak
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def _post_alerts(port, alerts):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 (loopback)
        assert answer.status == 200


def _ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_alertmanager_opens_and_resolves_an_incident(world, live_server, tmp_path):
    binary = need_program("prometheus-alertmanager", package="prometheus-alertmanager")
    _, token = token_issue(person=integration())
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=f"{live_server.url}/api/v1/integrations/alertmanager/", token=token))
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 (our own arguments)
        [binary, f"--config.file={config}", f"--storage.path={tmp_path}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "alertmanager.log").open("w"),
    )  # fmt: skip
    try:
        wait_for(lambda: _ready(port), 20, "alertmanager to start")
        start = datetime.now(UTC) - timedelta(minutes=1)
        alert = {
            "labels": {"alertname": "DiskFull", "instance": "db-1:9100", "severity": "warning", "service": "email"},
            "annotations": {"summary": "Disk above 95%"},
            "startsAt": start.isoformat(),
        }
        _post_alerts(port, [alert])
        # the worker's part, done here: apply what the webhook accepted
        wait_for(lambda: alerts.apply_pending() >= 0 and Incident.objects.filter(channel="alert").exists(), 30, "the incident")
        _post_alerts(port, [alert])  # the same alert again: still one incident
        incident = Incident.objects.get()
        assert incident.title == "DiskFull: Disk above 95% (db-1:9100)"
        assert (incident.service, incident.impact) == (world.service, 2)
        _post_alerts(port, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
        wait_for(lambda: alerts.apply_pending() >= 0 and Incident.objects.filter(status=Status.RESOLVED).exists(), 30, "the resolution")
        assert Incident.objects.count() == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
