"""The configuration cache: read once, kept until the stamp moves, and the stamp moves on
any write to a configuration table, by whatever path it comes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from procedures import config_cache
from procedures.models import Category, ConfigStamp, Service
from skills.models import Team
from tests.factories import CategoryFactory, ServiceFactory, TeamFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _outside_a_request():
    config_cache.end()
    yield
    config_cache.end()


def queries(call):
    with CaptureQueriesContext(connection) as ctx:
        result = call()
    return len(ctx.captured_queries), result


def test_every_kind_of_write_moves_the_stamp():
    service = ServiceFactory(slug="mail")
    steps = [
        lambda: TeamFactory(slug="net"),  # an insert through the ORM
        lambda: Service.objects.filter(pk=service.pk).update(name="Mail"),  # an update
        lambda: connection.cursor().execute("UPDATE skills_team SET name = 'Network' WHERE slug = 'net'"),  # plain SQL
        lambda: Team.objects.filter(slug="net").delete(),  # a delete
    ]
    for step in steps:
        before = config_cache.read_stamp()
        step()
        assert config_cache.read_stamp() not in (None, before)


def test_a_change_is_seen_at_the_next_use_and_nothing_is_read_while_nothing_changed():
    service = ServiceFactory(slug="mail", name="Mail")
    assert config_cache.by_slug(Service, "mail").name == "Mail"
    count, found = queries(lambda: config_cache.by_slug(Service, "mail"))
    assert count == 1 and found.name == "Mail"  # the stamp only
    Service.objects.filter(pk=service.pk).update(name="Email")  # as another process would
    count, found = queries(lambda: config_cache.by_slug(Service, "mail"))
    assert found.name == "Email" and count > 1


def test_a_request_reads_the_stamp_once():
    ServiceFactory(slug="mail")
    config_cache.snapshot()
    config_cache.begin()
    count, _ = queries(lambda: [config_cache.by_slug(Service, "mail") for _ in range(5)])
    assert count == 1
    config_cache.end()
    config_cache.begin()  # the next request compares again
    count, _ = queries(lambda: config_cache.by_slug(Service, "mail"))
    assert count == 1


def test_a_row_made_after_the_stamp_was_read_is_found_by_id():
    config_cache.snapshot()
    config_cache.begin()
    config_cache.snapshot()  # compared: later uses in this request trust what is held
    team = TeamFactory(slug="late")
    assert config_cache.get(Team, team.pk).slug == "late"


def test_rows_handed_out_are_copies():
    category = CategoryFactory(slug="hardware", name="Hardware")
    first = config_cache.get(Category, category.pk)
    first.name = "Changed by a caller"
    first.procedure.name  # noqa: B018 (attached, no query)
    assert config_cache.get(Category, category.pk).name == "Hardware"


def test_a_rolled_back_change_is_not_mistaken_for_the_state_before_it():
    ServiceFactory(slug="mail", name="Mail")
    before = config_cache.read_stamp()
    with transaction.atomic():
        Service.objects.filter(slug="mail").update(name="Rolled back")
        assert config_cache.by_slug(Service, "mail").name == "Rolled back"
        transaction.set_rollback(True)
    assert config_cache.read_stamp() == before
    assert config_cache.by_slug(Service, "mail").name == "Mail"


def test_without_the_stamp_row_nothing_is_kept():
    ServiceFactory(slug="mail")
    ConfigStamp.objects.all().delete()
    config_cache.snapshot()
    count, _ = queries(lambda: config_cache.by_slug(Service, "mail"))
    assert count > 1  # read again every time
    TeamFactory(slug="again")  # the next write makes the row again
    assert config_cache.read_stamp() is not None


def test_incidents_come_with_their_configuration_and_no_query_for_it(world):
    from incidents.selectors import incidents_visible_to

    world.incident(service=world.service)
    config_cache.snapshot()
    count, incidents = queries(lambda: list(incidents_visible_to(world.people[5])))
    incident = incidents[0]
    count_after, _ = queries(
        lambda: (incident.category.slug, incident.service.slug, incident.team.slug,
                 incident.procedure_version.procedure.slug, incident.procedure_version.calendar.slug)
    )  # fmt: skip
    assert count_after == 0
    assert count <= 3  # the stamp, the page (and, below level 5, the security-team check)


def test_the_triggers_work_on_sqlite_too(tmp_path):
    """Embedded mode runs on SQLite: the migration puts the same triggers there."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "SECRET_KEY": "x", "DEBUG": "false"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)  # noqa: S603
    script = (
        "import django; django.setup()\n"
        "from procedures import config_cache\n"
        "from skills.models import Team\n"
        "before = config_cache.read_stamp()\n"
        "Team.objects.create(slug='x', name='X')\n"
        "after = config_cache.read_stamp()\n"
        "assert before and after and before != after, (before, after)\n"
        "print('ok')\n"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "servicedesk.settings"},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout.strip().endswith("ok")


def test_the_stamp_statement_names_the_model_table():
    assert ConfigStamp._meta.db_table in config_cache.STAMP_SQL
