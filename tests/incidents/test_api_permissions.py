"""For each action: the lowest SFIA level allowed succeeds, the level below is refused
(403) with nothing changed. Levels come from the policy table itself."""

import pytest

from skills.policy import required_level
from tests.incidents.helpers import call, force_state, snapshot
from tests.incidents.specs import IDS, SPECS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_lowest_level_allowed_and_level_below_refused(world, api, spec):
    incident = world.incident()
    assignee = world.people[3]
    incident = force_state(incident, spec.ready_state, assignee)
    needed = required_level(spec.action, incident)

    below = world.person(needed - 1) if needed > 1 else world.reporter  # the reporter can see it
    before = snapshot(incident)
    refused = call(api(below), incident, spec.name, spec.body)
    assert refused.status_code == 403, refused.content
    assert spec.action.value.replace("_", " ") in refused.json()["detail"]
    assert snapshot(incident) == before

    allowed = call(api(world.person(needed)), incident, spec.name, spec.body)
    assert allowed.status_code == 200, allowed.content
    assert snapshot(incident) != before


def test_specs_cover_every_api_action():
    from incidents.api import IncidentViewSet

    posted = {a.url_path for a in IncidentViewSet.get_extra_actions() if "post" in a.mapping and "/" not in a.url_path}
    # Watching needs only sight; attachments are multipart, with their own permission
    # tests (the reporter allowed, who is refused) in test_api_attachments.py.
    assert {s.name for s in SPECS} - {"PATCH"} == posted - {"watch", "attachments"}


def test_unauthenticated_is_401(world, api):
    incident = world.incident()
    assert api(None).get("/api/v1/incidents/").status_code == 401
    assert api(None).post(f"/api/v1/incidents/{incident.reference}/start/").status_code == 401


def test_read_only_token_may_read_but_not_write(world, client):
    from skills.services import token_issue

    _, raw = token_issue(person=world.people[3], scope="read")
    incident = world.incident()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"/api/v1/incidents/{incident.reference}/", **auth).status_code == 200
    response = client.post(f"/api/v1/incidents/{incident.reference}/start/", **auth)
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
