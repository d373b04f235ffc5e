"""manage.py receive_email (an MTA's pipe): exit codes an MTA understands."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from incidents.inbound import mail
from incidents.models import InboundMessage, Incident
from tests.incidents.mail_helpers import message
from tests.processes.harness import free_port

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def receive(monkeypatch, raw):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("receive_email", stdout=out)
    return out.getvalue().strip()


def test_a_message_on_stdin_is_taken(world, monkeypatch):
    out = receive(monkeypatch, message(subject="From the pipe"))
    incident = Incident.objects.get()
    assert out == f"done created {incident.reference}"
    assert (incident.title, InboundMessage.objects.get().via) == ("From the pipe", "pipe")
    assert receive(monkeypatch, message(subject="From the pipe", message_id="<p@x.example>")).startswith("done")
    assert receive(monkeypatch, message(message_id="<p@x.example>")).startswith("duplicate")


def test_an_auto_reply_is_taken_with_exit_0_and_ignored(world, monkeypatch):
    out = receive(monkeypatch, message(headers={"Precedence": "junk"}))
    assert out.startswith("ignored")
    assert not Incident.objects.exists()


def test_bytes_that_are_not_a_message_exit_65(world, monkeypatch):
    with pytest.raises(CommandError) as failed:
        receive(monkeypatch, b"\x00\x01 junk")
    assert failed.value.returncode == 65
    assert str(failed.value) == mail.BINARY
    assert not InboundMessage.objects.exists()


def test_a_message_over_the_limit_exits_65(world, monkeypatch, settings):
    settings.MAIL_MAX_BYTES = 2048
    with pytest.raises(CommandError) as failed:
        receive(monkeypatch, message(body="y" * 5000))
    assert failed.value.returncode == 65


def test_a_bug_is_a_temporary_failure_so_the_mta_keeps_the_message(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(mail, "take", broken)
    with pytest.raises(CommandError) as failed:
        receive(monkeypatch, message())
    assert failed.value.returncode == 75


def test_the_database_down_exits_75_and_keeps_nothing():
    """A real process with a database address where nothing listens: EX_TEMPFAIL."""
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
           "SECRET_KEY": "x", "DEBUG": "false", "EMAIL_HOST": "", "DB_CONNECT_TIMEOUT": "2"}  # fmt: skip
    run = subprocess.run(  # noqa: S603 (our own arguments)
        [sys.executable, "manage.py", "receive_email"], input=message(), cwd=ROOT, env=env, capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 75, run.stderr.decode()[-2000:]
    assert b"database" in run.stderr.lower()
