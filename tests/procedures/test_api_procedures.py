import copy
from datetime import UTC, datetime

import pytest

from incidents.models import Incident
from procedures.models import Procedure, ProcedureChange, ProcedureVersion
from tests.factories import TARGETS, CalendarFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/procedures/"


def _state():
    """Everything a refused write must leave alone."""
    return (
        list(ProcedureVersion.objects.order_by("pk").values()),
        list(Procedure.objects.order_by("pk").values()),
        ProcedureChange.objects.count(),
    )


def test_representation_follows_the_contract(world, api):
    body = api(world.people[1]).get(f"{URL}hardware/").json()
    assert body["slug"] == "hardware" and body["incident_class"] == "standard"
    assert body["categories"] == ["hardware"] and body["team"] == "infrastructure"
    assert body["version"] == 1 and body["state"] == "published" and body["calendar"] == "24x7"
    assert body["sla_targets"]["1"] == {"response": 900, "resolution": 3600}
    assert body["draft"] is None


def test_reporters_may_not_read_configuration(world, api):
    assert api(world.reporter).get(URL).status_code == 403
    assert api(None).get(URL).status_code == 401


def test_draft_is_not_in_force_until_published_and_old_incidents_keep_their_version(world, api):
    before = world.incident()
    targets = {str(p): {"response": 60 * p, "resolution": 120 * p} for p in range(1, 6)}
    drafted = api(world.people[4]).patch(f"{URL}hardware/", {"sla_targets": targets}, format="json")
    assert drafted.status_code == 200, drafted.content
    assert drafted.json()["version"] == 1 and drafted.json()["draft"]["version"] == 2
    during = world.incident()
    assert during.procedure_version.number == 1

    assert api(world.people[4]).post(f"{URL}hardware/publish/").status_code == 403
    published = api(world.people[5]).post(f"{URL}hardware/publish/")
    assert published.status_code == 200
    assert published.json()["version"] == 2 and published.json()["draft"] is None
    after = world.incident(impact=2, urgency=1)  # P2
    assert after.procedure_version.number == 2
    assert (after.resolve_due_at - after.created_at).total_seconds() == 240
    before.refresh_from_db()
    assert before.procedure_version.number == 1
    assert ProcedureVersion.objects.get(procedure__slug="hardware", number=1).state == "retired"


def test_publishing_without_a_draft_is_409(world, api):
    response = api(world.people[5]).post(f"{URL}hardware/publish/")
    assert response.status_code == 409
    assert "no draft" in response.json()["detail"]


def test_history_shows_who_changed_what(world, api):
    api(world.people[4]).patch(f"{URL}hardware/", {"warning_percent": 60, "name": "Hardware faults"}, format="json")
    api(world.people[5]).post(f"{URL}hardware/publish/")
    history = api(world.people[1]).get(f"{URL}hardware/history/").json()
    assert [(h["kind"], h["actor"], h["version"]) for h in history] == [
        ("drafted", "l4", 2), ("edited", "l4", 2), ("published", "l5", 2),
    ]  # fmt: skip
    assert "warning_percent: 75 → 60" in history[1]["summary"]
    assert "name: 'Hardware' → 'Hardware faults'" in history[1]["summary"]


def test_create_procedure_from_class_defaults(world, api):
    body = {"slug": "printing", "name": "Printing", "incident_class": "low_impact", "team": "service-desk", "calendar": "24x7"}
    assert api(world.people[3]).post(URL, body, format="json").status_code == 403
    assert Procedure.objects.filter(slug="printing").count() == 0
    created = api(world.people[4]).post(URL, body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["state"] == "draft" and data["action_levels"] == {"resolve": 2, "close": 2}
    again = api(world.people[4]).post(URL, body, format="json")
    assert again.status_code == 400 and "slug" in again.json()


GOOD = copy.deepcopy(TARGETS)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"sla_targets": GOOD | {"1": {"response": -5, "resolution": 60}}}, "sla_targets", "positive"),
        ({"sla_targets": GOOD | {"1": {"response": 600, "resolution": 60}}}, "sla_targets", "before the response"),
        ({"sla_targets": {"1": {"response": 1, "resolution": 2}}}, "sla_targets", "each priority"),
        ({"team": "nobody"}, "team", ""),
        ({"calendar": "mars-time"}, "calendar", ""),
        ({"escalation": [{"anchor": "resolve_due", "after": -60, "action": "notify", "targets": {"min_level": 4}}]},
         "escalation", "before its anchor"),
        ({"escalation": [{"anchor": "created", "after": 0, "action": "notify", "targets": {"team": "ghosts"}}]},
         "escalation", "no team"),
        ({"escalation": [
            {"anchor": "created", "after": 60, "action": "handover", "targets": {"team": "applications"}},
            {"anchor": "created", "after": 120, "action": "handover", "targets": {"team": "infrastructure"}},
        ]}, "escalation", "cycle"),
        ({"escalation": [{"anchor": "created", "after": 0, "action": "explode", "targets": {}}]}, "escalation", "action"),
        ({"action_levels": {"resolve": 9}}, "action_levels", "1 to 5"),
        ({"action_levels": {"fly": 2}}, "action_levels", "not an action"),
        ({"routing_rules": [{"words": ["vpn"], "team": "nowhere"}]}, "routing_rules", "no team"),
        ({"routing_rules": [{"words": ["vpn"]}]}, "routing_rules", "sets a team"),
        ({"checklist": [{"title": ""}]}, "checklist", "title"),
        ({"deadlines": [{"name": "ICO", "after": 0}]}, "deadlines", "positive"),
        ({"warning_percent": 150}, "warning_percent", ""),
        ({"colour": "red"}, "colour", "Unknown"),
    ],
)  # fmt: skip
def test_bad_procedure_edits_are_400_naming_the_field_and_change_nothing(world, api, change, field, words):
    before = _state()
    response = api(world.people[4]).patch(f"{URL}hardware/", change, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert words in " ".join(response.json()[field])
    assert _state() == before


def test_level_3_may_not_draft(world, api):
    before = _state()
    response = api(world.people[3]).patch(f"{URL}hardware/", {"warning_percent": 50}, format="json")
    assert response.status_code == 403 and "draft procedure" in response.json()["detail"]
    assert _state() == before


class TestDryRun:
    @pytest.fixture
    def office(self, world):
        office = CalendarFactory(
            slug="office-hours", timezone="Europe/London", around_the_clock=False,
            working_hours={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        )  # fmt: skip
        version = ProcedureVersion.objects.get(procedure__slug="hardware")
        version.calendar = office
        version.escalation = [
            {"anchor": "response_due", "after": 0, "action": "notify", "targets": {"min_level": 4}},
            {"anchor": "resolve_due", "after": 1800, "action": "raise_level", "targets": {}},
        ]
        version.checklist = [{"title": "Check the cabling", "mandatory": True}]
        version.save()
        return office

    def simulate(self, api, person, body):
        return api(person).post(f"{URL}hardware/simulate/", body, format="json")

    def test_friday_1755_rolls_over_the_weekend(self, world, api, office):
        counts = (Incident.objects.count(), ProcedureChange.objects.count())
        # P3: response 45 min, resolution 3 h of office time
        response = self.simulate(api, world.people[4], {
            "title": "Laptop dead", "impact": 2, "urgency": 2, "at": "2026-11-27T17:55:00+00:00",
        })  # fmt: skip
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["team"], body["priority"], body["calendar"]) == ("infrastructure", 3, "office-hours")
        assert body["response_due_at"] == "2026-11-30T09:45:00Z"
        assert body["resolve_due_at"] == "2026-11-30T12:00:00Z"
        assert body["escalation"][0] == {
            "at": "2026-11-30T09:45:00Z", "action": "notify", "anchor": "response_due", "targets": ["l4", "l5"],
        }  # fmt: skip
        assert body["escalation"][1]["at"] == "2026-11-30T12:30:00Z"
        escalations = [m for m in body["messages"] if m["subject"].startswith("Escalation")]
        assert [(m["at"], m["to"]) for m in escalations] == [
            ("2026-11-30T09:45:00Z", "l4@example.com"), ("2026-11-30T09:45:00Z", "l5@example.com"),
        ]  # fmt: skip
        # The SLA warnings go to the team (nobody is assigned yet), on office time too.
        warnings = {(m["at"], m["subject"]) for m in body["messages"] if "due soon" in m["subject"]}
        assert warnings == {
            ("2026-11-30T09:33:45Z", "Response target due soon: Laptop dead"),
            ("2026-11-30T11:15:00Z", "Resolution target due soon: Laptop dead"),
        }
        assert body["tasks"] == [{"title": "Check the cabling", "mandatory": True}]
        assert (Incident.objects.count(), ProcedureChange.objects.count()) == counts

    def test_across_the_march_dst_change_in_london(self, world, api, office):
        # Friday 27 March 2026 16:30 GMT; clocks go forward on Sunday 29 March.
        body = self.simulate(api, world.people[4], {"impact": 2, "urgency": 2, "at": "2026-03-27T16:30:00Z"}).json()
        # 30 min on Friday, then 15 min from 09:00 BST (08:00 UTC) on Monday
        assert body["response_due_at"] == "2026-03-30T08:15:00Z"
        # 3 h: 30 min Friday + 2 h 30 min Monday -> 11:30 BST
        assert body["resolve_due_at"] == "2026-03-30T10:30:00Z"

    def test_runs_the_draft_when_there_is_one(self, world, api, office):
        api(world.people[4]).patch(f"{URL}hardware/", {"team": "applications"}, format="json")
        body = self.simulate(api, world.people[4], {"impact": 3, "urgency": 3}).json()
        assert (body["version"], body["state"], body["team"]) == (2, "draft", "applications")

    def test_needs_level_4_and_a_valid_sample(self, world, api, office):
        assert self.simulate(api, world.people[3], {"impact": 2, "urgency": 2}).status_code == 403
        bad = self.simulate(api, world.people[4], {"impact": 7, "urgency": 2, "at": "soon"})
        assert bad.status_code == 400 and {"impact", "at"} <= set(bad.json())


def test_default_at_is_now(world, api):
    body = api(world.people[4]).post(f"{URL}hardware/simulate/", {"impact": 1, "urgency": 1}, format="json").json()
    assert abs((datetime.fromisoformat(body["at"]) - datetime.now(UTC)).total_seconds()) < 60


def test_dry_run_names_only_people_who_may_see_a_security_incident(world, api):
    version = ProcedureVersion.objects.get(procedure__slug="security")
    version.escalation = [{"anchor": "created", "after": 0, "action": "notify", "targets": {"min_level": 3}}]
    version.save()
    responder = world.person(3, team=world.security, username="csirt")
    body = api(world.people[5]).post(f"{URL}security/simulate/", {"impact": 1, "urgency": 1}, format="json").json()
    # l3 and l4 are level 3+ but outside the response team: the engine would not tell them
    assert body["escalation"][0]["targets"] == [responder.username, "l5"]
    escalations = [m["to"] for m in body["messages"] if m["subject"].startswith("Escalation")]
    assert escalations == ["csirt@example.com", "l5@example.com"]
    # Warnings go to the response team alone.
    assert {m["to"] for m in body["messages"] if "due soon" in m["subject"]} == {"csirt@example.com"}
