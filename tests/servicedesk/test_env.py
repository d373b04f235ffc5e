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


def test_without_secret_key_one_is_made_once_and_kept(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    keys = {_manage("shell", "-c", script, FIREBREAK_VAR_DIR=str(tmp_path), DATABASE_URL="sqlite:///:memory:").stdout.strip() for _ in range(2)}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
