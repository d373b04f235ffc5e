"""Who may see which incident is one rule (`skills.policy.incident_visibility`): the
queryset filter every list uses and the check on one incident must always agree, for
every kind of person, on a mixed set of incidents."""

import pytest

from incidents import services
from incidents.selectors import incidents_visible_to
from skills.models import Role
from skills.policy import Action, can, can_see_incident
from tests.factories import PersonFactory, ReporterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(world):
    """Incidents of every shape: ordinary, security, reported by a reporter, created by an
    integration for itself, on the stakeholder's service, and one with no service."""
    integration = ReporterFactory(username="monitoring", role=Role.INTEGRATION)
    stranger = ReporterFactory(username="stranger")
    desk = world.people[1]
    made = {
        "plain": world.incident(reporter=stranger, service=None),
        "on_service": world.incident(reporter=stranger),  # the owner's service
        "rita's": world.incident(reporter=world.reporter, service=None),
        "rita's security": world.incident(reporter=world.reporter, category=world.security_category, service=None),
        "security on service": world.incident(reporter=stranger, category=world.security_category),
        "by monitoring": services.incident_register(
            actor=integration, title="Disk full", category=world.hardware, impact=2, urgency=2,
        ),
        "owner's own": world.incident(actor=desk, reporter=world.owner, service=None),
    }
    return integration, made


def _read_only(person):
    person.token_scope = "read"
    return person


@pytest.mark.parametrize(
    "who, expected",
    [
        ("level 1", {"plain", "on_service", "rita's", "by monitoring", "owner's own"}),
        ("level 4", {"plain", "on_service", "rita's", "by monitoring", "owner's own"}),
        ("level 5", "all"),
        ("security team, level 3", "all"),
        ("read-only token, level 3", {"plain", "on_service", "rita's", "by monitoring", "owner's own"}),
        ("reporter", {"rita's"}),
        ("stakeholder", {"on_service", "owner's own"}),
        ("integration", {"by monitoring"}),
        ("inactive level 5", set()),
    ],
)
def test_the_list_and_the_page_agree(world, mixed, who, expected):
    integration, made = mixed
    person = {
        "level 1": lambda: world.people[1],
        "level 4": lambda: world.people[4],
        "level 5": lambda: world.people[5],
        "security team, level 3": lambda: world.person(3, team=world.security),
        "read-only token, level 3": lambda: _read_only(world.people[3]),
        "reporter": lambda: world.reporter,
        "stakeholder": lambda: world.owner,
        "integration": lambda: integration,
        "inactive level 5": lambda: PersonFactory(username="gone", sfia_level=5, is_active=False),
    }[who]()
    expected = set(made) if expected == "all" else expected
    listed = set(incidents_visible_to(person).values_list("pk", flat=True))
    for name, incident in made.items():
        fresh = type(incident).objects.get(pk=incident.pk)  # nothing cached from registration
        assert can_see_incident(person, fresh) == (incident.pk in listed) == can(person, Action.VIEW, fresh), name
    assert {name for name, incident in made.items() if incident.pk in listed} == expected
