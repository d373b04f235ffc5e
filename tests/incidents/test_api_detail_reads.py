"""The detail reads the incident once, with what it shows, and still answers 404 for the unseen."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from procedures import config_cache

pytestmark = pytest.mark.django_db


def test_detail_reads_the_incident_once(world, api):
    from skills.models import Person

    incident = world.incident()
    client = api(Person.objects.get(pk=world.people[3].pk))
    config_cache.snapshot()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/api/v1/incidents/{incident.reference}/")
    assert response.status_code == 200 and response.json()["reference"] == incident.reference
    incident_reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "incidents_incident"."id"')]
    assert len(incident_reads) == 1
    # the configuration stamp, the security-team check, the incident (people joined), tasks,
    # deadlines; categories, services, teams and procedure versions from the configuration cache
    assert len(ctx.captured_queries) == 5


def test_detail_of_a_security_incident_is_404_for_others(world, api):
    secret = world.incident(category=world.security_category)
    assert api(world.people[4]).get(f"/api/v1/incidents/{secret.reference}/").status_code == 404
