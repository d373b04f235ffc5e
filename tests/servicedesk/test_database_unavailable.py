"""A database outage answers 503 (JSON with Retry-After on the API, a page that retries in
the browser) instead of a 500; /healthz never needs the database; every wait for the
database is bounded. The outage itself, through a TCP proxy, is test_database_outage.py."""

import time

import psycopg
import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from incidents.api import IncidentViewSet
from servicedesk import health
from servicedesk.db.base import BoundedConnection
from servicedesk.middleware import DATABASE_UNAVAILABLE

pytestmark = pytest.mark.django_db


def _fail(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_the_api_answers_503_json_with_retry_after(world, api, monkeypatch, error):
    monkeypatch.setattr(IncidentViewSet, "list", _fail(error))
    response = api(world.people[2]).get("/api/v1/incidents/")
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}
    assert response["Retry-After"] == str(settings.DB_RETRY_AFTER)


def test_a_page_answers_503_with_a_page_that_tries_again(world, client, monkeypatch):
    monkeypatch.setattr("incidents.status.overview", _fail(OperationalError("timeout expired")))
    response = client.get("/status/?x=1")
    assert response.status_code == 503 and response["Retry-After"] == str(settings.DB_RETRY_AFTER)
    page = response.content.decode()
    assert "Back in a moment" in page and "cannot reach its database" in page
    assert f'content="{settings.DB_RETRY_AFTER}"' in page and 'href="/status/?x=1"' in page
    assert "no-store" in response["Cache-Control"]  # never kept in place of the real page


def test_other_errors_are_still_errors(world, api, monkeypatch):
    monkeypatch.setattr(IncidentViewSet, "list", _fail(RuntimeError("a bug")))
    with pytest.raises(RuntimeError):
        api(world.people[2]).get("/api/v1/incidents/")


def test_healthz_needs_no_database_and_readyz_reports_it(client, monkeypatch, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200
    monkeypatch.setattr(health, "_check_database", _fail(OperationalError("connection refused")))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "unavailable: OperationalError"


def test_connections_have_a_connect_timeout_and_a_statement_timeout():
    assert connection.settings_dict["OPTIONS"]["connect_timeout"] == settings.DB_CONNECT_TIMEOUT
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == f"{settings.DB_STATEMENT_TIMEOUT}s"
    assert isinstance(connection.connection, BoundedConnection)
    assert connection.connection.reply_timeout == settings.DB_STATEMENT_TIMEOUT + settings.DB_CONNECT_TIMEOUT


def test_no_wait_for_the_server_outlasts_the_reply_timeout():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    conn = BoundedConnection.connect(**{**params, "options": ""})  # no statement timeout: only the client's bound
    conn.reply_timeout = 1
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="did not answer within 1 s"):
        conn.execute("SELECT pg_sleep(5)")
    assert time.monotonic() - started < 3
    assert conn.closed  # its state is unknown: never used again
