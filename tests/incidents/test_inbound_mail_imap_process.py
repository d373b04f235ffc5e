"""fetch_mail against a real IMAP server (Debian's dovecot-imapd, started here on a free
port with a throwaway mail store and passdb): messages are taken once, moved only after
their commit, and a run that dies halfway loses and doubles nothing."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection

from incidents.inbound import imap, mail
from incidents.models import InboundMessage, Incident, TimelineEvent
from tests.incidents.mail_helpers import Dovecot, message
from tests.processes.harness import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dovecot():
    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(settings, dovecot):
    settings.MAIL_IMAP_URL = dovecot.url
    return dovecot


def news(n, prefix="m"):
    return [message(subject=f"Problem {i}", body=f"Details {i}", message_id=f"<{prefix}{i}@client.example>",
                    sender=f"user{i % 7}@customer.example") for i in range(n)]  # fmt: skip


@pytest.mark.django_db
def test_fetch_mail_takes_each_message_and_moves_it(world, mailbox, settings):
    settings.MAIL_MAX_BYTES = 64 * 1024
    incident = world.incident()
    mailbox.deliver([
        message(subject="Printer on fire", message_id="<new@client.example>"),
        message(subject=f"Re: [{incident.reference}]", body="More smoke.\n> old"),
        message(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        b"Subject: nobody\r\n\r\nno sender",
        message(subject="Huge", body="z" * (80 * 1024)),
    ])  # fmt: skip
    out = io.StringIO()
    call_command("fetch_mail", stdout=out)
    assert out.getvalue().strip() == "5 message(s): commented 1, created 1, failed 2, ignored 1"
    assert Incident.objects.filter(channel="email").count() == 1
    assert incident.events.filter(kind=TimelineEvent.Kind.COMMENT).count() == 1
    assert mailbox.messages("INBOX") == []
    assert len(mailbox.messages(settings.MAIL_IMAP_PROCESSED_FOLDER)) == 3
    failed = mailbox.messages(settings.MAIL_IMAP_FAILED_FOLDER)
    assert len(failed) == 2
    assert any(f"X-Firebreak-Failed: {mail.NO_FROM}".encode() in raw for raw in failed)
    reasons = set(InboundMessage.objects.filter(state="failed").values_list("reason", flat=True))
    assert mail.NO_FROM in reasons and any("MAIL_MAX_BYTES" in reason for reason in reasons)
    # Nothing waits: a second run takes nothing.
    assert imap.fetch() == {}


@pytest.mark.django_db
def test_a_crash_between_the_commit_and_the_move_loses_and_doubles_nothing(world, mailbox, monkeypatch, settings):
    mailbox.deliver(news(6) + [b"Subject: nobody\r\n\r\nno sender"])
    monkeypatch.setattr(imap, "BATCH", 2)
    real, calls = imap.after_commit, []

    def dies_on_the_second_batch(poller, taken):
        calls.append(taken)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies: committed, not moved
        real(poller, taken)

    monkeypatch.setattr(imap, "after_commit", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        imap.fetch()
    assert Incident.objects.count() == 4  # the second batch committed, still in the INBOX
    assert len(mailbox.messages("INBOX")) == 5
    monkeypatch.setattr(imap, "after_commit", real)
    counts = imap.fetch()
    assert counts == {"duplicate": 2, "created": 2, "failed": 1}
    assert Incident.objects.count() == 6
    assert sorted(Incident.objects.values_list("title", flat=True)) == [f"Problem {i}" for i in range(6)]
    assert mailbox.messages("INBOX") == []
    assert len(mailbox.messages(settings.MAIL_IMAP_PROCESSED_FOLDER)) == 6
    assert len(mailbox.messages(settings.MAIL_IMAP_FAILED_FOLDER)) == 1
    assert InboundMessage.objects.count() == 7


@pytest.mark.django_db
def test_a_failed_message_set_aside_twice_is_copied_once(world, mailbox, monkeypatch, settings):
    mailbox.deliver([b"Subject: nobody\r\n\r\nno sender"])
    real = imap.Poller._remove
    calls = []

    def dies_before_the_original_goes(self, uid):
        calls.append(uid)
        if len(calls) == 1:
            raise KeyboardInterrupt
        real(self, uid)

    monkeypatch.setattr(imap.Poller, "_remove", dies_before_the_original_goes)
    with pytest.raises(KeyboardInterrupt):
        imap.fetch()
    assert imap.fetch() == {"duplicate": 1}
    assert mailbox.messages("INBOX") == []
    assert len(mailbox.messages(settings.MAIL_IMAP_FAILED_FOLDER)) == 1


@pytest.mark.django_db
def test_a_crash_before_the_commit_keeps_the_message_for_the_next_run(world, mailbox, monkeypatch):
    mailbox.deliver(news(3))
    real, seen = mail.take, []

    def fails_on_the_second(parsed, **kwargs):
        seen.append(parsed.key)
        if len(seen) == 2:
            raise ConnectionError("the database went away")
        return real(parsed, **kwargs)

    monkeypatch.setattr(mail, "take", fails_on_the_second)
    with pytest.raises(ConnectionError):
        imap.fetch()
    # The first committed (its batch never got to the move), the second rolled back.
    assert (Incident.objects.count(), len(mailbox.messages("INBOX"))) == (1, 3)
    assert InboundMessage.objects.count() == 1
    monkeypatch.setattr(mail, "take", real)
    assert imap.fetch() == {"duplicate": 1, "created": 2}
    assert Incident.objects.count() == 3
    assert mailbox.messages("INBOX") == []


@pytest.mark.django_db(transaction=True)
def test_fetch_mail_killed_halfway_loses_and_doubles_nothing(world, dovecot):
    """A real `manage.py fetch_mail`, killed with SIGKILL while it works, then run again."""
    total = 120
    dovecot.deliver(news(total, prefix="k"))
    env = {**os.environ, "DATABASE_URL": _database_url(), "MAIL_IMAP_URL": dovecot.url, "SECRET_KEY": "x",
           "DEBUG": "false", "EMAIL_HOST": "", "MAIL_SENDER_RATE": "1000"}  # fmt: skip
    command = [sys.executable, "manage.py", "fetch_mail"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    try:
        wait_for(lambda: Incident.objects.count() >= 10, 120, "fetch_mail to take some messages")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    taken = Incident.objects.count()
    assert taken < total, "fetch_mail finished before it could be killed"
    time.sleep(0.5)
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)  # noqa: S603
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    assert Incident.objects.count() == total
    titles = list(Incident.objects.values_list("title", flat=True))
    assert sorted(titles) == sorted(f"Problem {i}" for i in range(total))  # each once
    assert InboundMessage.objects.count() == total
    assert dovecot.messages("INBOX") == []
    assert len(dovecot.messages("Processed")) == total


def _database_url():
    db = connection.settings_dict
    secret = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{secret}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
