"""psycopg 3's options as settings (DB_POOL, DB_POOL_MAX, DB_SERVER_SIDE_BINDING,
DB_PREPARE_THRESHOLD): what each puts in DATABASES, the values refused at start-up, and
servicedesk.db's bounded waits with Django's connection pool (the pool's connections wait
no longer than REPLY_TIMEOUT either, checked out or being checked)."""

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import OperationalError, connection

from servicedesk.db.base import BoundedConnection, DatabaseWrapper
from tests.servicedesk.test_database_outage import Proxy

ROOT = Path(__file__).resolve().parents[2]
POSTGRES = "postgres://postgres@127.0.0.1:5432/firebreak_options_check"  # never connected to


def _run(code, **env):
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DB_") and k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**base, "SECRET_KEY": "x" * 50, "DEBUG": "false", "DATABASE_URL": POSTGRES, **env},
    )  # fmt: skip


def _database(**env):
    result = _run(
        "import json; from servicedesk import settings as s; d = s.DATABASES['default'];"
        "print(json.dumps({'CONN_MAX_AGE': d['CONN_MAX_AGE'], 'OPTIONS': d['OPTIONS']}))",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_defaults_are_django_s_persistent_connection_and_client_side_binding():
    database = _database()
    assert database["CONN_MAX_AGE"] == 60
    for option in ("pool", "server_side_binding", "prepare_threshold"):
        assert option not in database["OPTIONS"]


def test_pool_replaces_persistent_connections():
    database = _database(DB_POOL="true", DB_POOL_MAX="3", DB_CONNECT_TIMEOUT="4")
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 3, "timeout": 4}
    assert _database(DB_POOL="true", DB_CONN_MAX_AGE="0")["OPTIONS"]["pool"]["max_size"] == 4


def test_server_side_binding_and_prepared_statements():
    database = _database(DB_SERVER_SIDE_BINDING="true")
    assert database["OPTIONS"]["server_side_binding"] is True
    assert database["OPTIONS"]["prepare_threshold"] is None  # bound on the server, never prepared
    database = _database(DB_SERVER_SIDE_BINDING="true", DB_PREPARE_THRESHOLD="0")
    assert database["OPTIONS"]["prepare_threshold"] == 0
    database = _database(DB_SERVER_SIDE_BINDING="yes", DB_PREPARE_THRESHOLD="off")
    assert database["OPTIONS"]["prepare_threshold"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_POOL": "sometimes"}, "DB_POOL must be true or false"),
        ({"DB_POOL": "true", "DB_POOL_MAX": "0"}, "DB_POOL_MAX must be at least 1"),
        ({"DB_POOL": "true", "DB_POOL_MAX": "many"}, "DB_POOL_MAX must be a whole number"),
        ({"DB_POOL": "true", "DB_CONN_MAX_AGE": "60"}, "DB_CONN_MAX_AGE must be 0"),
        ({"DB_SERVER_SIDE_BINDING": "2"}, "DB_SERVER_SIDE_BINDING must be true or false"),
        ({"DB_PREPARE_THRESHOLD": "5"}, "DB_PREPARE_THRESHOLD needs DB_SERVER_SIDE_BINDING=true"),
        ({"DB_SERVER_SIDE_BINDING": "true", "DB_PREPARE_THRESHOLD": "-1"}, "DB_PREPARE_THRESHOLD must be at least 0"),
        ({"DB_POOL": "true", "DATABASE_URL": "sqlite:///:memory:"}, "are PostgreSQL options"),
        ({"DB_SERVER_SIDE_BINDING": "true", "DATABASE_URL": "sqlite:///:memory:"}, "are PostgreSQL options"),
    ],
)  # fmt: skip
def test_bad_values_stop_start_up(env, message):
    result = _run("import servicedesk.settings", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.fixture
def pooled():
    """A second connection to the test database through Django's pool, made by our backend
    (servicedesk.db) exactly as DB_POOL=true makes it, optionally through a proxy."""
    made = []

    def make(host=None, port=None, reply_timeout=2, min_size=1):
        settings_dict = copy.deepcopy(connection.settings_dict)
        settings_dict["CONN_MAX_AGE"] = 0
        settings_dict["REPLY_TIMEOUT"] = reply_timeout
        settings_dict["OPTIONS"] = {
            **settings_dict["OPTIONS"],
            "connect_timeout": 2,
            "pool": {"min_size": min_size, "max_size": 2, "timeout": 2},
        }
        if host:
            settings_dict["HOST"], settings_dict["PORT"] = host, port
        # The alias "default": django.contrib.postgres looks connections up by alias (the
        # pools are kept per alias too, and the tests' own default connection has none).
        wrapper = DatabaseWrapper(settings_dict, alias="default")
        made.append(wrapper)
        return wrapper

    yield make
    for wrapper in made:
        wrapper.close()
        wrapper.close_pool()


@pytest.mark.django_db
def test_pooled_connections_are_bounded_and_reused(pooled):
    wrapper = pooled()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] > 0
    # Every connection the pool makes is bounded, also the idle ones it checks.
    assert issubclass(wrapper.pool.connection_class, BoundedConnection)
    assert wrapper.pool.connection_class.reply_timeout == 2
    assert isinstance(wrapper.connection, BoundedConnection)
    assert wrapper.connection.reply_timeout == 2
    wrapper.close()  # back to the pool, not closed
    assert wrapper.connection is None
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] > 0
    assert isinstance(wrapper.connection, BoundedConnection)
    stats = wrapper.pool.get_stats()
    assert stats["connections_num"] - stats.get("connections_lost", 0) <= 2, stats  # reused, not one per request


@pytest.mark.django_db
def test_a_silent_database_costs_a_pooled_connection_seconds_not_a_hang(pooled):
    upstream = (connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    proxy = Proxy(upstream)
    try:
        wrapper = pooled(host="127.0.0.1", port=proxy.port, reply_timeout=2, min_size=2)
        wrapper.pool.open()
        wrapper.pool.wait(10)  # both connections made: one will never have been checked out
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        # Checked out when the database goes silent: the next statement gives up.
        proxy.silent()
        started = time.monotonic()
        with pytest.raises(OperationalError), wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert time.monotonic() - started < 5
        wrapper.close()
        # Taken from the pool while silent (its check of an idle connection that was never
        # checked out, or a new connection): bounded too, and the error is Django's
        # OperationalError (a 503 upstream).
        started = time.monotonic()
        with pytest.raises(OperationalError), wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert time.monotonic() - started < 8
        wrapper.close()
        # Back: the pool makes a working connection again.
        proxy.forward()
        deadline = time.monotonic() + 10
        while True:
            try:
                with wrapper.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    assert cursor.fetchone() == (1,)
                break
            except OperationalError:
                wrapper.close()
                assert time.monotonic() < deadline, "the pool did not recover"
                time.sleep(0.2)
    finally:
        proxy.close()
