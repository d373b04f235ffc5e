"""People management goes through audited services that ask the one policy (issue 7,
item 1): nobody raises their own level or grants one above their own; only superusers
touch superusers' accounts, superuser status, groups and permissions."""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from skills import services
from skills.errors import Forbidden
from skills.models import Person, PersonChange, Role
from skills.policy import ABOVE_OWN, LEVELS, OWN_LEVEL, SUPERUSER_ACCOUNT, SUPERUSER_FIELD, Action
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(world):
    return PersonFactory(username="root", sfia_level=None, role=Role.REPORTER, teams=[], is_superuser=True, is_staff=True)


def test_level_5_creates_a_person_and_it_is_recorded(world):
    owner5 = world.people[5]
    nina = services.person_create(
        actor=owner5, username="nina", email="nina@example.com", role=Role.STAFF, sfia_level=3, teams=[world.infra],
        password="a long passphrase 42",
    )  # fmt: skip
    assert nina.check_password("a long passphrase 42") and not nina.is_staff
    change = PersonChange.objects.get(person=nina)
    assert (change.kind, change.actor, change.actor_name) == ("created", owner5, "l5")
    assert change.after["sfia_level"] == 3 and change.after["teams"] == ["infrastructure"]
    assert "password" not in str(change.after)


def test_changes_record_the_values_before_and_after(world):
    nina = world.person(2, username="nina")
    services.person_change(actor=world.people[5], person=nina, sfia_level=4, teams=[world.apps])
    change = PersonChange.objects.get(person=nina)
    assert change.kind == "changed"
    assert change.before == {"sfia_level": 2, "teams": ["infrastructure"], "is_staff": False}
    assert change.after == {"sfia_level": 4, "teams": ["applications"], "is_staff": True}
    services.person_deactivate(actor=world.people[5], person=nina)
    services.person_reactivate(actor=world.people[5], person=nina)
    assert list(PersonChange.objects.filter(person=nina).values_list("kind", flat=True)) == [
        "reactivated", "deactivated", "changed",
    ]  # fmt: skip


def test_below_level_5_nobody_manages_people(world):
    nina = world.person(2, username="nina")
    for level in (1, 4):
        with pytest.raises(Forbidden, match="manage people"):
            services.person_change(actor=world.people[level], person=nina, sfia_level=1)
        with pytest.raises(Forbidden):
            services.person_create(actor=world.people[level], username="x")
        with pytest.raises(Forbidden):
            services.person_set_password(actor=world.people[level], person=nina, password="a long passphrase 42")
    nina.refresh_from_db()
    assert nina.sfia_level == 2 and not PersonChange.objects.exists()


def test_nobody_raises_their_own_level(world, root):
    l4 = world.people[4]
    with pytest.raises(Forbidden, match="manage people"):
        services.person_change(actor=l4, person=l4, sfia_level=5)
    with pytest.raises(Forbidden, match=OWN_LEVEL):  # not even a superuser
        services.person_change(actor=root, person=root, role=Role.STAFF, sfia_level=1)
    l5 = world.people[5]
    services.person_change(actor=l5, person=l5, sfia_level=4)  # lowering is fine
    l5.refresh_from_db()
    assert l5.sfia_level == 4


def test_nobody_grants_a_level_above_their_own_but_superusers(world, root, monkeypatch):
    l5 = world.people[5]
    services.person_change(actor=l5, person=world.people[3], sfia_level=5)  # up to their own
    # Were people managed from level 4, a level 4 could still grant no more than 4.
    monkeypatch.setitem(LEVELS, Action.MANAGE_PEOPLE, 4)
    l4 = world.people[4]
    services.person_change(actor=l4, person=world.people[1], sfia_level=4)
    with pytest.raises(Forbidden, match=re.escape(ABOVE_OWN.format(level=4))):
        services.person_change(actor=l4, person=world.people[2], sfia_level=5)
    with pytest.raises(Forbidden, match=re.escape(ABOVE_OWN.format(level=4))):
        services.person_create(actor=l4, username="newbie", role=Role.STAFF, sfia_level=5)
    services.person_change(actor=root, person=world.people[2], sfia_level=5)
    assert Person.objects.get(pk=world.people[2].pk).sfia_level == 5


def test_only_superusers_touch_superusers_and_superuser_fields(world, root):
    l5 = world.people[5]
    admins = Group.objects.create(name="admins")
    with pytest.raises(Forbidden, match=SUPERUSER_FIELD):
        services.person_change(actor=l5, person=l5, is_superuser=True)
    with pytest.raises(Forbidden, match=SUPERUSER_FIELD):
        services.person_change(actor=l5, person=world.people[2], groups=[admins])
    with pytest.raises(Forbidden, match=SUPERUSER_FIELD):
        services.person_create(actor=l5, username="mallory", is_superuser=True)
    with pytest.raises(Forbidden, match=SUPERUSER_ACCOUNT):
        services.person_set_password(actor=l5, person=root, password="a long passphrase 42")
    with pytest.raises(Forbidden, match=SUPERUSER_ACCOUNT):
        services.person_deactivate(actor=l5, person=root)
    l5.refresh_from_db()
    root.refresh_from_db()
    assert not l5.is_superuser and root.is_active and not root.check_password("a long passphrase 42")
    services.person_change(actor=root, person=world.people[2], groups=[admins])
    assert PersonChange.objects.get(person=world.people[2]).after == {"groups": ["admins"]}


def test_passwords_are_validated_and_never_recorded(world):
    nina = world.person(2, username="nina")
    with pytest.raises(ValidationError) as refused:
        services.person_set_password(actor=world.people[5], person=nina, password="123")
    assert "password" in refused.value.message_dict
    services.person_set_password(actor=world.people[5], person=nina, password="a long passphrase 42")
    change = PersonChange.objects.get(person=nina)
    assert change.kind == "password" and "passphrase" not in str(change.before) + str(change.after)
    services.person_set_password(actor=nina, person=nina, password="another passphrase 43")  # one's own


def test_staff_need_a_level_and_only_staff_have_one(world):
    with pytest.raises(ValidationError, match="SFIA level"):
        services.person_create(actor=world.people[5], username="x", role=Role.STAFF)
    with pytest.raises(ValidationError, match="Only staff"):
        services.person_change(actor=world.people[5], person=world.reporter, sfia_level=2)
    assert not Person.objects.filter(username="x").exists()


def test_nobody_deactivates_themselves(world):
    with pytest.raises(Forbidden):
        services.person_deactivate(actor=world.people[5], person=world.people[5])


# --- reporter accounts for unknown email senders (email in) -------------------------------------


def test_email_in_creates_a_reporter_without_a_password_recorded_as_email_in(world):
    person = services.person_create_for_email(address="new.person+desk@customer.example", name="New Person")
    assert (person.username, person.role, person.sfia_level) == ("new.person+desk@customer.example", Role.REPORTER, None)
    assert not person.has_usable_password()
    change = PersonChange.objects.get(person=person)
    assert (change.actor_name, change.kind, change.after["role"]) == (services.EMAIL_IN, "created", "reporter")


def test_email_in_finds_the_account_it_would_make_twice(world):
    first = services.person_create_for_email(address="twice@customer.example")
    assert services.person_create_for_email(address="twice@customer.example") == first
    assert Person.objects.filter(email="twice@customer.example").count() == 1


def test_email_in_picks_another_username_when_the_address_is_taken_as_one(world):
    PersonFactory(username="taken@customer.example", email="someone.else@example.com")
    person = services.person_create_for_email(address="taken@customer.example")
    assert person.username.startswith("taken@customer.example-")


@pytest.mark.parametrize("level", [1, 5])
def test_only_integrations_and_the_command_line_create_accounts_for_mail(world, level):
    with pytest.raises(Forbidden):
        services.person_create_for_email(address="x@customer.example", received_by=world.people[level])
    assert not Person.objects.filter(email="x@customer.example").exists()
