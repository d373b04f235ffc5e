"""Schemathesis (`st run`, every check) against the live server's /api/schema/, with a
write token of a level-5 person over the demo organisation: no 500, no undocumented status
or content type, no answer off its schema, no schema-invalid input accepted. Deterministic
(`--generation-deterministic`: no seed, no example database) and bounded (`-n`, examples
per operation), so CI is neither flaky nor slow. Settings: tests/schemathesis.toml."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from skills.models import Person
from skills.services import token_issue

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 5  # per operation and phase
TIMEOUT = 900  # seconds: a hung run fails rather than stalling the suite


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing(live_server, tmp_path, settings):
    settings.ALLOWED_HOSTS = ["*"]
    call_command("seed_demo", stdout=open(tmp_path / "seed.log", "w"))  # noqa: SIM115 - closed with the process
    owner = Person.objects.get(username="owner5")
    assert owner.sfia_level == 5
    _, token = token_issue(person=owner, name="schemathesis")
    st = Path(sys.executable).with_name("st")
    command = [
        str(st), "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run", f"{live_server.url}/api/schema/",
        "--header", f"Authorization: Bearer {token}", "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic", "--workers", "1", "--no-color", "--report-dir", str(tmp_path / "report"),
    ]  # fmt: skip
    # Bodies of the media types schemathesis cannot make itself (email in's message/rfc822).
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)  # noqa: S603
    assert run.returncode == 0, f"schemathesis failed ({run.returncode}):\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
