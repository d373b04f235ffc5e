"""Who hears an incident's public news is decided in SQL (issue 7, item 13): the number of
queries does not grow with the audience, and the SQL rule is the visibility rule."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import notify, services
from skills.models import Person, Role
from skills.policy import can_see_incident, people_who_may_see
from tests.factories import PersonFactory, ReporterFactory

pytestmark = pytest.mark.django_db


def _queries(call):
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def _watched_by(world, incident, count, team):
    for n in range(count):
        person = PersonFactory(username=f"watcher{incident.pk}-{n}", sfia_level=2, teams=[team])
        services.incident_watch(actor=person, incident=incident)


@pytest.mark.parametrize("security", [False, True], ids=["plain", "security"])
def test_the_audience_costs_the_same_queries_for_5_and_40_staff(world, security):
    counts = {}
    for size in (5, 40):
        category = world.security_category if security else world.hardware
        incident = world.incident(category=category)
        _watched_by(world, incident, size, world.security)
        assert _queries(lambda incident=incident: notify.reporter_and_watchers(incident)) <= 1
        actor = Person.objects.get(pk=world.people[5].pk)  # nothing cached on the person
        counts[size] = _queries(
            lambda incident=incident, actor=actor: services.incident_add_public_update(actor=actor, incident=incident, body="x")
        )
        if not security:
            assert len(notify.reporter_and_watchers(incident)) == size + 1  # and the reporter
    assert counts[5] == counts[40]


def test_the_sql_rule_is_the_visibility_rule(world):
    stranger_owner = ReporterFactory(username="otherowner", role=Role.STAKEHOLDER)
    integration = PersonFactory(username="monitor", sfia_level=None, role=Role.INTEGRATION, teams=[])
    people = [
        *world.people.values(), world.reporter, world.owner, stranger_owner, integration,
        world.person(2, team=world.security, username="responder"),
        world.person(5, is_active=False, username="gone5"),
        ReporterFactory(username="gone", is_active=False),
    ]  # fmt: skip
    incidents = [
        world.incident(),
        world.incident(service=None),
        world.incident(category=world.security_category),
        world.incident(reporter=world.owner, service=None),
        services.incident_register(actor=integration, title="Disk", category=world.hardware, impact=2, urgency=2),
    ]
    for incident in incidents:
        in_sql = set(Person.objects.filter(people_who_may_see(incident), pk__in=[p.pk for p in people]).distinct())
        one_by_one = {person for person in people if can_see_incident(person, incident)}
        assert in_sql == one_by_one, incident
