import pytest
from django.core.management import call_command

from procedures.models import ProcedureVersion
from skills.models import Person

pytestmark = pytest.mark.django_db


def test_incident_admin_is_for_level_4_and_up(world, client):
    incident = world.incident()
    client.force_login(world.person(3, is_staff=True))
    assert client.get("/admin/incidents/incident/").status_code == 403
    client.force_login(world.person(4, is_staff=True))
    page = client.get(f"/admin/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200 and incident.title in page.content.decode()


def test_security_incidents_stay_hidden_in_the_admin(world, client):
    breach = world.incident(category=world.security_category, title="Phishing wave")
    client.force_login(world.person(4, is_staff=True))
    assert "Phishing wave" not in client.get("/admin/incidents/incident/").content.decode()
    assert client.get(f"/admin/incidents/incident/{breach.pk}/change/").status_code == 302  # "does not exist"


def test_draft_edited_in_the_admin_goes_through_the_service(world, client, api):
    api(world.people[4]).patch("/api/v1/procedures/hardware/", {"warning_percent": 60}, format="json")
    draft = ProcedureVersion.objects.get(procedure__slug="hardware", state="draft")
    published = ProcedureVersion.objects.get(procedure__slug="hardware", state="published")
    client.force_login(world.person(4, is_staff=True))
    assert client.get(f"/admin/procedures/procedureversion/{published.pk}/change/").status_code == 200
    form = {
        "team": draft.team_id, "calendar": draft.calendar_id, "sla_targets": '{"1": 1}', "escalation": "[]",
        "checklist": "[]", "action_levels": "{}", "routing_rules": "[]", "deadlines": "[]", "warning_percent": 50,
    }  # fmt: skip
    client.post(f"/admin/procedures/procedureversion/{draft.pk}/change/", form)
    draft.refresh_from_db()
    assert draft.warning_percent == 60  # the invalid targets were refused as a whole


def test_publish_action_needs_level_5(world, client, api):
    api(world.people[4]).patch("/api/v1/procedures/hardware/", {"warning_percent": 60}, format="json")
    procedure = ProcedureVersion.objects.get(procedure__slug="hardware", state="draft").procedure
    data = {"action": "publish_draft", "_selected_action": [procedure.pk]}
    client.force_login(world.person(4, is_staff=True))
    client.post("/admin/procedures/procedure/", data)
    assert procedure.versions.filter(state="draft").exists()
    client.force_login(world.person(5, is_staff=True))
    client.post("/admin/procedures/procedure/", data)
    assert not procedure.versions.filter(state="draft").exists()


def test_add_person_command(world):
    call_command("add_person", "nina", "--level", "3", "--team", "infrastructure", "--email", "nina@example.com")
    nina = Person.objects.get(username="nina")
    assert (nina.sfia_level, [t.slug for t in nina.teams.all()], nina.has_usable_password()) == (3, ["infrastructure"], False)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No such team"):
        call_command("add_person", "omar", "--level", "2", "--team", "nowhere")
    with pytest.raises(CommandError, match="SFIA level"):
        call_command("add_person", "omar")


def test_a_refusal_by_the_service_shows_on_the_form_and_keeps_the_input(world, client):
    """PolicyAdmin asks the service in the form's clean step (issue 7, item 12): the error
    shows beside the form, the input stays, and nothing claims it was saved."""
    team = world.apps
    client.force_login(world.person(4, is_staff=True))
    form = {"name": "Apps renamed", "slug": team.slug, "email": "apps@example.com", "is_security": "on"}
    answer = client.post(f"/admin/skills/team/{team.pk}/change/", form)
    page = answer.content.decode()
    assert answer.status_code == 200 and "SFIA level 5" in page
    assert 'value="Apps renamed"' in page and "changed successfully" not in page
    team.refresh_from_db()
    assert team.name != "Apps renamed" and not team.is_security


def test_adding_through_the_admin_lands_on_the_new_row(world, client):
    client.force_login(world.person(4, is_staff=True))
    answer = client.post("/admin/skills/team/add/", {"name": "Network", "slug": "network", "email": ""}, follow=True)
    from skills.models import Team

    team = Team.objects.get(slug="network")
    assert "was added successfully" in answer.content.decode() and f"/admin/skills/team/{team.pk}/change/" in answer.content.decode()
