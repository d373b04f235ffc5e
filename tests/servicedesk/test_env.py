import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from servicedesk.env import env_bool, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("Off", False), ("no", False)])
def test_env_bool(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is value


def test_env_readers_name_the_variable(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG")
    monkeypatch.setenv("COUNT", "ten")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be a whole number"):
        env_int("COUNT", 1)
    monkeypatch.setenv("COUNT", "0")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be at least 1"):
        env_int("COUNT", 1, minimum=1)
    monkeypatch.setenv("WHERE", "ftp://x")
    with pytest.raises(ImproperlyConfigured, match="WHERE must be a URL"):
        env_url("WHERE", "", schemes={"http"})
    monkeypatch.setenv("HOSTS", "a, b,,c")
    assert env_list("HOSTS") == ["a", "b", "c"]


def _manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLA_SWEEP_SECONDS", "soon"),
        ("DEBUG", "perhaps"),
        ("DATABASE_URL", "mysql://db/x"),
        ("CELERY_BROKER_URL", "nowhere"),
        ("EMAIL_PORT", "99999"),
        ("SITE_URL", "example.com"),
    ],
)
def test_bad_setting_stops_start_up_naming_the_variable(variable, value):
    env = {"SECRET_KEY": "x" * 50, "DEBUG": "false", variable: value}
    result = _manage("check", **env)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_is_clean_but_for_what_the_tls_proxy_decides():
    import re
    import secrets

    result = _manage(
        "check", "--deploy", "--fail-level", "CRITICAL",
        SECRET_KEY=secrets.token_urlsafe(50), DEBUG="false", EMAIL_HOST="smtp.example.com",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reported = set(re.findall(r"\((\w+\.[EW]\d+)\)", result.stderr))
    # HSTS and the HTTPS redirect belong to the TLS-terminating proxy (see README.md).
    assert reported <= {"security.W004", "security.W008"}, result.stderr


def test_embedded_without_secret_key_one_is_made_once_and_kept(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {"FIREBREAK_VAR_DIR": str(tmp_path), "DATABASE_URL": "sqlite:///:memory:", "DEBUG": "true"}
    keys = {_manage("shell", "-c", script, **env).stdout.strip() for _ in range(2)}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def _defaults(tmp_path, **env):
    """manage.py with nothing configured but `env`: SQLite and the filesystem broker under a var/."""
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "STATIC_ROOT"}}
    script = "from django.conf import settings; print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['control_folder'])"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=tmp_path / "cwd", capture_output=True, text=True, timeout=120,
        env={**base, "FIREBREAK_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip


@pytest.fixture
def cwd(tmp_path):
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "manage.py").write_text((ROOT / "manage.py").read_text())
    return tmp_path / "cwd"


def test_outside_the_embedded_mode_settings_create_nothing(tmp_path, cwd):
    result = _defaults(tmp_path, DEBUG="false")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr
    result = _defaults(tmp_path, DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "var" / "broker" / "control")
    assert not (tmp_path / "var").exists() and list(cwd.iterdir()) == [cwd / "manage.py"]


def test_the_embedded_mode_makes_its_folders_and_kombu_keeps_its_control_folder_there(tmp_path, cwd):
    result = _defaults(tmp_path, DEBUG="true")
    assert result.returncode == 0, result.stderr
    var = tmp_path / "var"
    assert {p.name for p in var.iterdir()} == {"secret_key", "static", "broker"}
    assert {p.name for p in (var / "broker").iterdir()} == {"queue", "processed", "control"}
    script = (
        "from servicedesk.celery import app\n"
        "with app.connection_for_write() as conn:\n"
        "    app.send_task('incidents.tasks.sweep_timers', connection=conn)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "STATIC_ROOT"}}
    env |= {"DEBUG": "true", "FIREBREAK_VAR_DIR": str(var), "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "servicedesk.settings"}
    published = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert published.returncode == 0, published.stderr
    assert {p.name for p in (var / "broker" / "control").iterdir()} >= {"sweeps.exchange"}
    assert len(list((var / "broker" / "queue").iterdir())) == 1
    assert list(cwd.iterdir()) == [cwd / "manage.py"]  # no ./control beside it


def test_code_only_commands_run_without_a_secret_key_and_create_nothing(tmp_path, cwd):
    base = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "STATIC_ROOT"}}
    env = {**base, "DEBUG": "false", "DATABASE_URL": "sqlite:///:memory:", "FIREBREAK_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "No changes detected" in result.stdout, result.stderr
    assert not (tmp_path / "var").exists() and list(cwd.iterdir()) == [cwd / "manage.py"]
    bare = {k: v for k, v in env.items() if k != "DATABASE_URL"}  # nothing set at all
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=cwd, env=bare,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0 and "No changes detected" in result.stdout, result.stderr
    assert not (tmp_path / "var").exists() and list(cwd.iterdir()) == [cwd / "manage.py"]
    served = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", "from django.conf import settings; settings.SECRET_KEY"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert served.returncode != 0 and "SECRET_KEY must be set" in served.stderr
