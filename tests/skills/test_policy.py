import pytest

from skills.models import Role
from skills.policy import INTEGRATION_ONLY, LEVELS, Action, can, required_level, why_not

pytestmark = pytest.mark.django_db


def test_every_action_has_a_level():
    assert set(LEVELS) == set(Action)


@pytest.mark.parametrize("action", [a for a in Action if a not in INTEGRATION_ONLY])
def test_levels_are_cumulative(world, action):
    needed = LEVELS[action]
    for level in range(1, 6):
        assert can(world.person(level), action) is (level >= needed)


@pytest.mark.parametrize("action", sorted(INTEGRATION_ONLY))
def test_integration_only_actions_refuse_every_person(world, action):
    for level in range(1, 6):
        assert not can(world.person(level), action)
    assert not can(world.reporter, action)
    integration = world.person(None, role=Role.INTEGRATION, username="monitoring")
    assert can(integration, action)
    assert "only integration accounts" in why_not(world.person(5), action)


def test_people_without_a_level(world):
    assert can(world.reporter, Action.REGISTER)
    assert not can(world.reporter, Action.NOTE)
    assert not can(world.owner, Action.REGISTER)
    integration = world.person(None, role=Role.INTEGRATION, username="monitoring")
    assert can(integration, Action.REGISTER) and not can(integration, Action.RESOLVE)


def test_inactive_and_anonymous_may_do_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    gone = world.person(5, is_active=False)
    assert not can(gone, Action.VIEW)
    assert not can(AnonymousUser(), Action.VIEW)


def test_procedure_may_change_the_level_for_an_action(world):
    incident = world.incident()
    version = incident.procedure_version
    version.action_levels = {"resolve": 2, "close": 5}
    version.save()
    incident.refresh_from_db()
    assert required_level(Action.RESOLVE, incident) == 2
    assert can(world.people[2], Action.RESOLVE, incident)
    assert not can(world.people[4], Action.CLOSE, incident)
