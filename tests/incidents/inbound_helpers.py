import copy
import json
from pathlib import Path

from skills.services import token_issue
from tests.factories import PersonFactory

# The fixtures as Alertmanager 0.25 sent them (copied here so the tests own them).
HERE = Path(__file__).resolve().parent / "fixtures" / "alertmanager"


def fixture(name):
    return json.loads((HERE / f"{name}.json").read_text())


def integration(username="monitoring"):
    person = PersonFactory(username=username, role="integration", sfia_level=None)
    person.teams.clear()
    return person


def bearer(client, person):
    _, raw = token_issue(person=person)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def group(n, *, status="firing", prefix="fp", labels=None):
    """A webhook body with n distinct alerts, built from the real firing fixture."""
    body = fixture("firing")
    template = body["alerts"][0]
    alerts = []
    for i in range(n):
        alert = copy.deepcopy(template)
        alert["fingerprint"] = f"{prefix}{i:06d}"
        alert["labels"] = {**alert["labels"], "instance": f"web-{i}:9100", **(labels or {})}
        alert["status"] = status
        alerts.append(alert)
    body["alerts"], body["status"] = alerts, status
    return body
