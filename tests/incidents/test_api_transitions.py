"""Each transition succeeds from the states that allow it and is refused (409) from the rest."""

import pytest

from incidents.models import Status
from tests.incidents.helpers import call, force_state, snapshot
from tests.incidents.specs import IDS, SPECS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_transition_allowed_only_from_its_states(world, api, spec, status):
    boss = world.person(5, team=world.infra, username="boss")
    incident = force_state(world.incident(), status, world.people[3])
    before = snapshot(incident)
    response = call(api(boss), incident, spec.name, spec.body)
    if status in spec.allowed_from:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 409, response.content
        assert response.json()["status"] == status
        assert response.json()["detail"]
        assert snapshot(incident) == before


def test_acknowledge_twice_is_409(world, api):
    incident = world.incident()
    client = api(world.people[2])
    assert call(client, incident, "acknowledge", {}).status_code == 200
    again = call(client, incident, "acknowledge", {})
    assert again.status_code == 409
    assert again.json()["detail"] == "The incident was already acknowledged."


def test_full_lifecycle_writes_the_timeline(world, api):
    incident = world.incident()
    engineer = api(world.people[3])
    manager = api(world.people[4])
    for name, body in [
        ("start", {}),
        ("hold", {"reason": "Waiting for parts"}),
        ("resume", {}),
        ("resolve", {"resolution_code": "fixed", "resolution_notes": "New fuser"}),
    ]:
        assert call(engineer, incident, name, body).status_code == 200
    assert call(manager, incident, "reopen", {"reason": "Smoking again"}).status_code == 200
    assert call(engineer, incident, "resolve", {"resolution_code": "fixed", "resolution_notes": "Really"}).status_code == 200
    final = call(engineer, incident, "close", {})
    assert final.json()["status"] == "closed"
    kinds = [e["kind"] for e in engineer.get(f"/api/v1/incidents/{incident.reference}/timeline/").json()]
    assert kinds == [
        "registered", "routed", "acknowledged", "started", "held", "resumed",
        "resolved", "reopened", "resolved", "closed",
    ]  # fmt: skip
