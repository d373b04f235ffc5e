"""Email in benchmark: figures, not pass/fail.

    make bench-mail          # or: .venv/bin/python benchmarks/mail.py [--messages 1000] [--replies 0.4]

`--messages` inbound emails (1,000), a mix of new mail (from a hundred senders the desk
does not know yet: each gets a reporter account on their first message) and replies
(`--replies`, 40%) to incidents that came in by email before (half found by the
In-Reply-To of a message the outbox sent, half by `[INC-000123]` in the subject), put into
a private dovecot (Debian's dovecot-imapd, on a free port with a throwaway mail store),
then taken by `fetch_mail`'s code (incidents.inbound.imap.fetch) in this one process: one
worker. Reports the time and the rate, and checks that each message became exactly one
incident or one comment and was moved to the processed folder.

Uses its own database (firebreak_bench_mail, or BENCH_MAIL_DB; made afresh each run).
"""

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_MAIL_DB", "firebreak_bench_mail")
SENDERS = 100


def log(message):
    print(f"[mail-bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def prepare_database(base_url):
    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
    return urlunsplit(parts._replace(path=f"/{DB}"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000, help="inbound emails in the run")
    parser.add_argument("--replies", type=float, default=0.4, help="the share of them that are replies")
    args = parser.parse_args()
    if not 1 <= args.messages <= 100_000 or not 0 <= args.replies <= 1:
        parser.error("--messages is 1 to 100,000 and --replies 0 to 1")
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        sys.exit("dovecot is missing: install Debian's dovecot-imapd (make system-deps, as root).")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/firebreak")
    os.environ.update({"DATABASE_URL": prepare_database(base), "EMAIL_HOST": ""})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    from incidents import notify
    from incidents.inbound import imap, mail
    from incidents.models import InboundMessage, Incident, OutboundMessage, TimelineEvent
    from tests.incidents.mail_helpers import Dovecot, message

    replies = round(args.messages * args.replies)
    new = args.messages - replies
    sender = [f"customer{n:03d}@customer.example" for n in range(SENDERS)]
    # The incidents the replies answer: come in by email before the run (not timed).
    earlier = []
    for n in range(replies):
        row = mail.receive(message(sender=sender[n % SENDERS], subject=f"Earlier problem {n}", body=f"Earlier {n}",
                                   message_id=f"<earlier{n}@customer.example>"), via="api")  # fmt: skip
        earlier.append(row.incident)
    for n, incident in enumerate(earlier[::2]):
        notify.queue_email(incident, [notify.Recipient(sender[(2 * n) % SENDERS])], headline="We are on it", key="bench",
                           now=timezone.now())  # fmt: skip
    sent = {row.incident_id: row.headers["Message-ID"] for row in OutboundMessage.objects.filter(dedupe_key__startswith="bench")}
    messages = []
    reply_slots = set(range(0, args.messages, max(args.messages // replies, 1))[:replies]) if replies else set()
    r = 0
    for n in range(args.messages):
        if n in reply_slots and r < replies:
            incident = earlier[r]
            who = sender[r % SENDERS]
            body = f"Reply {r}: still broken.\n\nOn Mon, 1 Jan 2026, Firebreak wrote:\n> We are on it\n-- \nA customer\n"
            if incident.pk in sent:
                raw = message(sender=who, subject=f"Re: {incident.title}", body=body, message_id=f"<reply{r}@customer.example>",
                              headers={"In-Reply-To": sent[incident.pk]})  # fmt: skip
            else:
                raw = message(sender=who, subject=f"Re: [{incident.reference}] {incident.title}", body=body,
                              message_id=f"<reply{r}@customer.example>")  # fmt: skip
            r += 1
        else:
            raw = message(sender=sender[n % SENDERS], subject=f"New problem {n}", body=f"Something broke ({n}).\n",
                          message_id=f"<new{n}@customer.example>")  # fmt: skip
        messages.append(raw)
    server = Dovecot().start()
    try:
        start = time.perf_counter()
        server.deliver(messages)
        log(f"{len(messages)} messages ({new} new, {replies} replies) put into dovecot in {time.perf_counter() - start:.1f} s")
        incidents_before = Incident.objects.count()
        comments_before = TimelineEvent.objects.filter(kind="comment").count()
        start = time.perf_counter()
        counts = imap.fetch(url=server.url)
        seconds = time.perf_counter() - start
        log(f"fetch_mail, one worker: {sum(counts.values())} messages in {seconds:.1f} s "
            f"({sum(counts.values()) / seconds:.0f}/s): {dict(counts)}")  # fmt: skip
        created = Incident.objects.count() - incidents_before
        comments = TimelineEvent.objects.filter(kind="comment").count() - comments_before
        run = InboundMessage.objects.exclude(key__startswith="<earlier")
        one_comment_each = (
            TimelineEvent.objects.filter(kind="comment", incident__in=earlier).values("incident").distinct().count()
        )
        left, processed = len(server.messages("INBOX")), len(server.messages("Processed"))
        check = {
            "incidents_created": created, "comments": comments, "replied_incidents_with_a_comment": one_comment_each,
            "recorded": run.count(), "done": run.filter(state="done").count(), "left_in_inbox": left,
            "processed_folder": processed,
        }  # fmt: skip
        log(f"check: {check} (expected {new} incidents, {replies} comments on {replies} incidents, "
            f"{args.messages} recorded and done and processed, 0 left)")  # fmt: skip
    finally:
        server.stop()
    print(json.dumps({"messages": args.messages, "new": new, "replies": replies, "seconds": round(seconds, 2),
                      "per_second": round(args.messages / seconds), "counts": dict(counts), "check": check}, indent=2))


if __name__ == "__main__":
    main()
