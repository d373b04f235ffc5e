"""What a procedure does to an incident: routing rules, checklists, levels per action,
named deadlines, the escalation snapshot and the SLA clock states."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import services
from incidents.clocks import resolution_clock, response_clock
from incidents.models import TimelineEvent
from procedures.models import ProcedureVersion
from skills.errors import Conflict, Forbidden

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def version(world):
    return ProcedureVersion.objects.get(procedure__slug="hardware")


def test_routing_rules_in_order_and_explained_on_the_timeline(world, version):
    version.routing_rules = [
        {"name": "VPN goes to applications", "words": ["vpn"], "team": "applications"},
        {"name": "Email is critical", "service": "email", "impact": 1},
    ]
    version.save()
    vpn = world.incident(title="VPN drops", impact=3)
    assert vpn.team.slug == "applications" and vpn.impact == 3
    routed = TimelineEvent.objects.get(incident=vpn, kind="routed")
    assert routed.data["rule"] == "VPN goes to applications"

    mail = world.incident(title="Outlook slow", impact=3, urgency=3)
    assert mail.team.slug == "infrastructure" and mail.impact == 1 and mail.priority == 3
    routed = TimelineEvent.objects.get(incident=mail, kind="routed")
    assert routed.data["impact"] == {"before": 3, "after": 1} and routed.data["rule"] == "Email is critical"

    other = world.incident(title="Mouse broken", service=None)
    assert TimelineEvent.objects.get(incident=other, kind="routed").data["rule"] == "the procedure's default team"


def test_critical_service_rule(world, version):
    version.routing_rules = [{"name": "critical", "critical_service": True, "impact": 1}]
    version.save()
    assert world.incident(impact=3).impact == 3
    world.service.is_critical = True
    world.service.save()
    assert world.incident(impact=3).impact == 1


def test_closing_needs_mandatory_tasks_or_a_level_4_override(world, version):
    version.checklist = [{"title": "Back up the disk", "mandatory": True}, {"title": "Tidy up", "mandatory": False}]
    version.save()
    incident = world.incident()
    assert [(t.title, t.mandatory) for t in incident.tasks.all()] == [("Back up the disk", True), ("Tidy up", False)]
    engineer = world.people[3]
    services.incident_start(actor=engineer, incident=incident)
    services.incident_resolve(actor=engineer, incident=incident, resolution_code="fixed", resolution_notes="ok")
    with pytest.raises(Conflict, match="Back up the disk"):
        services.incident_close(actor=engineer, incident=incident)
    with pytest.raises(Forbidden, match="override checklist"):
        services.incident_close(actor=engineer, incident=incident, override_reason="disk was replaced")
    closed = services.incident_close(actor=world.people[4], incident=incident, override_reason="disk was replaced")
    assert closed.status == "closed"
    assert TimelineEvent.objects.get(incident=incident, kind="closed").data["open_tasks"] == ["Back up the disk"]


def test_done_tasks_let_level_3_close(world, version, api):
    version.checklist = [{"title": "Back up the disk", "mandatory": True}]
    version.save()
    incident = world.incident()
    client = api(world.people[3])
    url = f"/api/v1/incidents/{incident.reference}/"
    client.post(f"{url}start/")
    client.post(f"{url}resolve/", {"resolution_code": "fixed", "resolution_notes": "ok"}, format="json")
    assert client.post(f"{url}close/").status_code == 409
    assert api(world.people[1]).post(f"{url}tasks/1/done/").status_code == 403
    done = client.post(f"{url}tasks/1/done/")
    assert done.status_code == 200 and done.json()["tasks"][0]["done_by"] == "l3"
    assert client.post(f"{url}tasks/1/done/").status_code == 409
    assert client.post(f"{url}tasks/9/done/").status_code == 400
    assert client.post(f"{url}close/").json()["status"] == "closed"


@pytest.mark.parametrize(
    ("levels", "action", "allowed_level", "refused_level"),
    [({"resolve": 2}, "resolve", 2, 1), ({"close": 5}, "close", 5, 4)],
)
def test_procedure_levels_apply_everywhere(world, version, api, levels, action, allowed_level, refused_level):
    version.action_levels = levels
    version.save()
    incident = world.incident()
    services.incident_start(actor=world.people[3], incident=incident)
    if action == "close":
        services.incident_resolve(actor=world.people[3], incident=incident, resolution_code="f", resolution_notes="n")
    body = {"resolution_code": "fixed", "resolution_notes": "ok"} if action == "resolve" else {}
    url = f"/api/v1/incidents/{incident.reference}/{action}/"
    refused = api(world.person(refused_level)).post(url, body, format="json")
    assert refused.status_code == 403
    assert f"level {allowed_level}" in refused.json()["detail"]
    assert api(world.person(allowed_level)).post(url, body, format="json").status_code == 200


def test_security_deadlines_are_named_and_shown(world, api):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.deadlines = [{"name": "Notify the regulator (72 hours)", "after": 72 * 3600}]
    version.save()
    with time_machine.travel(T0, tick=False):
        incident = world.incident(category=world.security_category)
    responder = world.person(3, team=world.security)
    body = api(responder).get(f"/api/v1/incidents/{incident.reference}/").json()
    assert body["deadlines"] == [{
        "id": body["deadlines"][0]["id"], "name": "Notify the regulator (72 hours)",
        "due_at": "2026-06-04T09:00:00Z", "met_at": None, "met_by": None, "breached": False,
    }]  # fmt: skip
    met = api(responder).post(f"/api/v1/incidents/{incident.reference}/deadlines/{body['deadlines'][0]['id']}/met/", {"note": "Filed"}, format="json")
    assert met.status_code == 200 and met.json()["deadlines"][0]["met_by"] == responder.username


def test_escalation_policy_is_snapshotted(world, version):
    version.escalation = [{"anchor": "created", "after": 0, "action": "notify", "targets": {"min_level": 4}}]
    version.save()
    incident = world.incident()
    version.escalation = []
    version.save()
    incident.refresh_from_db()
    assert incident.escalation_policy == [{"anchor": "created", "after": 0, "action": "notify", "targets": {"min_level": 4}}]


def test_clock_states(world):
    # P3 under the test targets: response 45 min, resolution 3 h; warning at 75 %.
    with time_machine.travel(T0, tick=False):
        incident = world.incident()
    assert response_clock(incident, T0) == "running"
    assert response_clock(incident, T0 + timedelta(minutes=34)) == "warning"
    assert response_clock(incident, T0 + timedelta(minutes=45)) == "breached"
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        incident = services.incident_start(actor=world.people[3], incident=incident)
        incident = services.incident_hold(actor=world.people[3], incident=incident, reason="parts")
    assert response_clock(incident, T0 + timedelta(hours=9)) == "met"
    assert resolution_clock(incident, T0 + timedelta(hours=9)) == "paused"
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        incident = services.incident_resume(actor=world.people[3], incident=incident)
    assert resolution_clock(incident, T0 + timedelta(hours=1)) == "running"
    assert resolution_clock(incident, T0 + timedelta(hours=3, minutes=5)) == "warning"
    assert resolution_clock(incident, T0 + timedelta(hours=3, minutes=50)) == "breached"
