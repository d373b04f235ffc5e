"""The actions table: the pages and the API are built from it and leave the level to the
service, so a procedure that changes an action's level is obeyed the same way in both."""

import pytest

from incidents.actions import ACTIONS
from incidents.api import IncidentViewSet
from incidents.models import Status
from procedures.models import ProcedureVersion
from tests.incidents.helpers import act_url, force_state, login, snapshot

pytestmark = pytest.mark.django_db
RESOLVE = {"resolution_code": "fixed", "resolution_notes": "Replaced the fuser"}


@pytest.fixture
def lenient(world):
    """The hardware procedure lets level 2 resolve, and keeps work notes for level 4."""
    version = ProcedureVersion.objects.get(procedure__slug="hardware")
    version.action_levels = {"resolve": 2, "note": 4}
    version.save()


def test_every_action_has_an_api_endpoint_and_a_page_form():
    posted = {a.url_path for a in IncidentViewSet.get_extra_actions() if "post" in a.mapping}
    assert set(ACTIONS) <= posted
    assert all(spec.form and spec.serializer for spec in ACTIONS.values())


@pytest.mark.parametrize("door", ["api", "page"])
def test_a_procedure_that_lowers_a_level_is_obeyed_everywhere(world, api, client, lenient, door):
    incident = force_state(world.incident(), Status.IN_PROGRESS, world.people[2])
    if door == "api":
        response = api(world.people[2]).post(f"/api/v1/incidents/{incident.reference}/resolve/", RESOLVE, format="json")
        assert response.status_code == 200, response.content
    else:
        response = login(client, world.people[2]).post(act_url(incident, "resolve"), RESOLVE)
        assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED


@pytest.mark.parametrize("door", ["api", "page"])
def test_a_procedure_that_raises_a_level_is_obeyed_everywhere(world, api, client, lenient, door):
    incident = force_state(world.incident(), Status.IN_PROGRESS, world.people[2])
    before = snapshot(incident)
    body = {"body": "Checked the toner"}
    if door == "api":
        response = api(world.people[3]).post(f"/api/v1/incidents/{incident.reference}/notes/", body, format="json")
        assert "level 4" in response.json()["detail"]
    else:
        response = login(client, world.people[3]).post(act_url(incident, "notes"), body)
    assert response.status_code == 403
    assert snapshot(incident) == before
