import os
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from incidents import services, status_views
from procedures.models import IncidentClass
from skills.models import Team
from tests.factories import (
    CategoryFactory,
    PersonFactory,
    ProcedureFactory,
    ProcedureVersionFactory,
    ReporterFactory,
    ServiceFactory,
    TeamFactory,
)


@pytest.fixture(autouse=True, scope="session")
def _services_are_real(django_db_setup, django_db_blocker):
    """CI (FIREBREAK_REQUIRE_SERVICES=1) must run on PostgreSQL, never silently on SQLite."""
    if os.environ.get("FIREBREAK_REQUIRE_SERVICES"):
        with django_db_blocker.unblock():
            assert connection.vendor == "postgresql", "the tests must run on PostgreSQL"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: the status pages and the throttles keep
    entries there that another test's data could otherwise meet (failed logins, all from
    127.0.0.1, would lock the next test out)."""
    cache.clear()
    status_views._LOCAL.clear()


@dataclass
class World:
    desk: Team
    infra: Team
    apps: Team
    security: Team
    hardware: object
    security_category: object
    service: object
    reporter: object
    owner: object
    people: dict  # level -> a person at that level in infra (5 is in the desk)

    def person(self, level, team=None, **kwargs):
        return PersonFactory(sfia_level=level, teams=[team or self.infra], **kwargs)

    def incident(self, *, actor=None, category=None, **kwargs):
        defaults = {"title": "Printer on fire", "description": "Smoke", "impact": 2, "urgency": 2}
        return services.incident_register(
            actor=actor or self.people[1],
            category=category or self.hardware,
            reporter=kwargs.pop("reporter", self.reporter),
            service=kwargs.pop("service", self.service),
            **{**defaults, **kwargs},
        )


@pytest.fixture
def world(db):
    desk, infra, apps = TeamFactory(slug="service-desk"), TeamFactory(slug="infrastructure"), TeamFactory(slug="applications")
    security = TeamFactory(slug="security", is_security=True)
    hardware = CategoryFactory(slug="hardware", procedure=ProcedureVersionFactory(procedure=ProcedureFactory(slug="hardware"), team=infra).procedure)
    security_procedure = ProcedureFactory(slug="security", incident_class=IncidentClass.SECURITY)
    ProcedureVersionFactory(procedure=security_procedure, team=security)
    security_category = CategoryFactory(slug="security", procedure=security_procedure)
    owner = ReporterFactory(username="svcowner", role="stakeholder")
    service = ServiceFactory(slug="email", owner=owner)
    people = {level: PersonFactory(username=f"l{level}", sfia_level=level, teams=[infra]) for level in range(1, 5)}
    people[5] = PersonFactory(username="l5", sfia_level=5, teams=[desk])
    PersonFactory(username="colleague", sfia_level=1, teams=[infra])
    return World(
        desk=desk, infra=infra, apps=apps, security=security, hardware=hardware,
        security_category=security_category, service=service, reporter=ReporterFactory(username="rita"),
        owner=owner, people=people,
    )  # fmt: skip


@pytest.fixture
def api():
    def client_for(person):
        client = APIClient()
        if person is not None:
            client.force_authenticate(person)
        return client

    return client_for
