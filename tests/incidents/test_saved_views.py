"""Saved views: a person saves the queue's filters under a name, sees them in the
navigation, and may share one with a team of theirs."""

import pytest
from django.utils.html import escape

from incidents import errors
from incidents.models import SavedView
from incidents.saved_views import clean_query, saved_view_save
from skills.errors import Forbidden
from tests.incidents.helpers import login

pytestmark = pytest.mark.django_db

SAVE = "/queue/views/"


def test_save_a_view_and_see_it_in_the_navigation(world, client):
    person = world.people[2]
    login(client, person)
    response = client.post(SAVE, {"name": "My breaches", "query": "breached=true&sort=due&cursor=abc&junk=1"})
    view = SavedView.objects.get(owner=person)
    assert view.query == "breached=true&sort=due" and view.team is None
    assert response.status_code == 302 and response.url == "/?breached=true&sort=due"
    body = client.get("/").content.decode()
    assert 'href="/?breached=true&amp;sort=due"' in body and "My breaches" in body
    # Not in anyone else's navigation.
    assert "My breaches" not in login(client, world.people[3]).get("/").content.decode()


def test_share_a_view_with_a_team(world, client):
    login(client, world.people[2])
    client.post(SAVE, {"name": "Infra unassigned", "query": "team=infrastructure&assignee=none", "share": "infrastructure"})
    assert SavedView.objects.get().team == world.infra
    assert "Infra unassigned" in login(client, world.people[3]).get("/").content.decode()  # infra colleague
    assert "Infra unassigned" not in login(client, world.people[5]).get("/").content.decode()  # desk


def test_sharing_with_a_team_you_are_not_in_is_refused(world, client):
    with pytest.raises(Forbidden, match="not one of yours"):
        saved_view_save(actor=world.people[2], name="Theirs", query="", team=world.desk)
    assert not SavedView.objects.exists()
    # In the page, the form offers only the person's teams and names the refusal.
    login(client, world.people[2])
    response = client.post(SAVE, {"name": "Theirs", "query": "", "share": "service-desk"}, follow=True)
    assert "Share with" in response.content.decode() and not SavedView.objects.exists()


def test_saving_the_same_name_replaces_the_view(world):
    person = world.people[2]
    saved_view_save(actor=person, name="Mine", query="assignee=me")
    saved_view_save(actor=person, name="Mine", query="assignee=me&sort=due")
    assert list(SavedView.objects.values_list("name", "query")) == [("Mine", "assignee=me&sort=due")]


def test_a_blank_name_is_a_form_error(world, client):
    login(client, world.people[2])
    response = client.post(SAVE, {"name": "   ", "query": "sort=due"}, follow=True)
    assert "Give the view a name." in response.content.decode() or "required" in response.content.decode()
    assert not SavedView.objects.exists()


def test_only_the_owner_deletes_a_view(world, client):
    view = saved_view_save(actor=world.people[2], name="Shared", query="", team=world.infra)
    login(client, world.people[3])  # sees it (same team), may not delete it
    response = client.post(f"/queue/views/{view.pk}/delete/", follow=True)
    assert escape(errors.NOT_YOUR_VIEW.format(name="Shared")) in response.content.decode()
    assert SavedView.objects.filter(pk=view.pk).exists()
    login(client, world.people[5])  # does not even see it
    assert client.post(f"/queue/views/{view.pk}/delete/").status_code == 404
    login(client, world.people[2])
    client.post(f"/queue/views/{view.pk}/delete/")
    assert not SavedView.objects.exists()


def test_clean_query_keeps_only_the_queue_names():
    assert clean_query("q=vpn&cursor=x&status=&sort=due&evil=<script>&assignee=me") == "q=vpn&assignee=me&sort=due"
