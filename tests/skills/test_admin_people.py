"""The people admin (issue 7, item 1): a level-5 person could tick "Superuser status" on
their own account, or set a superuser's password. Now every change goes through the
audited services, and superusers' accounts and fields are for superusers only."""

import pytest

from skills.models import Person, PersonChange, Role
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner5(world):
    return world.person(5, username="owner5", is_staff=True, team=world.desk)


@pytest.fixture
def root(world):
    person = PersonFactory(username="root", sfia_level=None, role=Role.REPORTER, teams=[], is_superuser=True, is_staff=True)
    person.set_password("the old root passphrase")
    person.save()
    return person


def _change_form(person, **changes):
    data = {
        "username": person.username, "first_name": person.first_name, "last_name": person.last_name,
        "email": person.email, "role": person.role, "sfia_level": person.sfia_level or "",
        "teams": [team.pk for team in person.teams.all()], "is_active": "on" if person.is_active else "",
    }  # fmt: skip
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""}


def test_level_5_cannot_make_themselves_superuser(owner5, client):
    client.force_login(owner5)
    page = client.get(f"/admin/skills/person/{owner5.pk}/change/").content.decode()
    assert "is_superuser" not in page and "user_permissions" not in page and 'name="groups"' not in page
    client.post(
        f"/admin/skills/person/{owner5.pk}/change/",
        _change_form(owner5, is_superuser="on", is_staff="on", groups=[], user_permissions=[]),
    )
    owner5.refresh_from_db()
    assert not owner5.is_superuser and not owner5.user_permissions.exists()


def test_level_5_cannot_see_or_touch_a_superuser(owner5, root, client):
    client.force_login(owner5)
    assert "root" not in client.get("/admin/skills/person/").content.decode()
    assert client.get(f"/admin/skills/person/{root.pk}/change/").status_code in (302, 404)
    password_page = f"/admin/skills/person/{root.pk}/password/"
    assert client.get(password_page).status_code in (403, 404)
    new = {"password1": "taken over 12345!", "password2": "taken over 12345!", "usable_password": "true"}
    assert client.post(password_page, new).status_code in (403, 404)
    root.refresh_from_db()
    assert root.check_password("the old root passphrase") and not PersonChange.objects.filter(person=root).exists()


def test_level_5_resets_a_colleagues_password_and_it_is_recorded(world, owner5, client):
    nina = world.person(2, username="nina")
    client.force_login(owner5)
    new = {"password1": "a fresh passphrase 77", "password2": "a fresh passphrase 77", "usable_password": "true"}
    answer = client.post(f"/admin/skills/person/{nina.pk}/password/", new)
    assert answer.status_code == 302
    nina.refresh_from_db()
    assert nina.check_password("a fresh passphrase 77")
    change = PersonChange.objects.get(person=nina)
    assert (change.kind, change.actor_name) == ("password", "owner5")
    assert "passphrase" not in str(change.after)


def test_a_level_change_in_the_admin_is_audited_and_shown(world, owner5, client):
    nina = world.person(2, username="nina")
    client.force_login(owner5)
    answer = client.post(f"/admin/skills/person/{nina.pk}/change/", _change_form(nina, sfia_level=3))
    assert answer.status_code == 302
    nina.refresh_from_db()
    assert nina.sfia_level == 3
    change = PersonChange.objects.get(person=nina)
    assert (change.before, change.after, change.actor) == ({"sfia_level": 2}, {"sfia_level": 3}, owner5)
    page = client.get(f"/admin/skills/person/{nina.pk}/change/").content.decode()
    assert "Account changes" in page and "sfia_level: 3" in page
    assert "sfia_level: 3" in client.get(f"/admin/skills/personchange/{change.pk}/change/").content.decode()
    assert client.post(f"/admin/skills/personchange/{change.pk}/change/", {"after": "{}"}).status_code == 403


def test_a_refused_change_shows_on_the_form_and_changes_nothing(world, owner5, client):
    nina = world.person(2, username="nina")
    client.force_login(owner5)
    answer = client.post(f"/admin/skills/person/{nina.pk}/change/", _change_form(nina, role=Role.REPORTER, first_name="Nina"))
    page = answer.content.decode()
    assert answer.status_code == 200 and "only staff have one" in page and 'value="Nina"' in page
    nina.refresh_from_db()
    assert nina.role == Role.STAFF and nina.first_name != "Nina" and not PersonChange.objects.exists()


def test_level_5_adds_a_person_through_the_service(world, owner5, client):
    client.force_login(owner5)
    form = {
        "username": "omar", "usable_password": "true", "password1": "omar's passphrase 9", "password2": "omar's passphrase 9",
        "role": Role.STAFF, "sfia_level": 2, "teams": [world.infra.pk], "email": "omar@example.com",
    }  # fmt: skip
    answer = client.post("/admin/skills/person/add/", form)
    omar = Person.objects.get(username="omar")
    assert answer.status_code == 302 and str(omar.pk) in answer["Location"]
    assert omar.check_password("omar's passphrase 9") and list(omar.teams.all()) == [world.infra]
    assert PersonChange.objects.get(person=omar).actor == owner5
    form = {**form, "username": "mallory", "is_superuser": "on"}
    client.post("/admin/skills/person/add/", form)
    assert not Person.objects.filter(username="mallory", is_superuser=True).exists()


def test_level_4_may_look_but_not_change(world, client):
    l4 = world.person(4, username="four", is_staff=True)
    nina = world.person(2, username="nina")
    client.force_login(l4)
    assert client.get(f"/admin/skills/person/{nina.pk}/change/").status_code == 200
    client.post(f"/admin/skills/person/{nina.pk}/change/", _change_form(nina, sfia_level=4))
    nina.refresh_from_db()
    assert nina.sfia_level == 2
    assert client.get("/admin/skills/personchange/").status_code == 403


def test_a_superuser_sees_and_sets_superuser_fields(world, root, client):
    nina = world.person(2, username="nina")
    client.force_login(root)
    assert "is_superuser" in client.get(f"/admin/skills/person/{nina.pk}/change/").content.decode()
    answer = client.post(f"/admin/skills/person/{nina.pk}/change/", _change_form(nina, is_superuser="on"))
    assert answer.status_code == 302
    nina.refresh_from_db()
    assert nina.is_superuser and PersonChange.objects.get(person=nina).after == {"is_staff": True, "is_superuser": True}
