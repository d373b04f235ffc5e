"""Email in: the admin's read-only list (level 4 and up), the beat job, and the words of
a message (HTML to safe text, a reply without its quote and signature)."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from incidents.inbound import mail
from incidents.inbound.mailtext import html_to_text, reply_text
from incidents.models import InboundMessage
from servicedesk.celery import _schedule
from tests.incidents.mail_helpers import message

URL = "/admin/incidents/inboundmessage/"


@pytest.mark.django_db
def test_level_4_reads_the_inbound_messages_and_level_3_may_not(world):
    mail.receive(message(subject="Printer on fire"), via=InboundMessage.Via.API)
    mail.receive(message(subject="Away", headers={"Auto-Submitted": "auto-replied"}), via=InboundMessage.Via.API)
    client = Client()
    client.force_login(world.person(4, is_staff=True))
    client.get(URL)  # warm: the session, the content types
    for n in range(5):
        mail.receive(message(subject=f"More {n}", sender=f"x{n}@customer.example"), via=InboundMessage.Via.API)
    with CaptureQueriesContext(connection) as queries:
        listing = client.get(URL).content.decode()
    assert len(queries) <= 8, [q["sql"] for q in queries]  # not one per row
    assert "Printer on fire" in listing and "An automatic message" in listing
    row = InboundMessage.objects.filter(state="done").first()
    page = client.get(f"{URL}{row.pk}/change/")
    assert page.status_code == 200
    assert "Save" not in page.content.decode()
    assert client.post(f"{URL}{row.pk}/delete/").status_code == 403
    client.force_login(world.person(3, is_staff=True))
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_the_admin_hides_messages_of_incidents_the_person_may_not_see(world):
    incident = world.incident(category=world.security_category)
    mail.receive(message(subject=f"[{incident.reference}] secret", sender=world.people[5].email, body="note"),
                 via=InboundMessage.Via.API)  # fmt: skip
    client = Client()
    client.force_login(world.person(4, is_staff=True))
    assert "secret" not in client.get(URL).content.decode()


@pytest.mark.parametrize("url, polled", [("", False), ("imaps://desk:pw@mail.example.com/INBOX", True)])
def test_beat_polls_the_mailbox_only_when_one_is_set(settings, url, polled):
    settings.MAIL_IMAP_URL = url
    sender = SimpleNamespace(conf=SimpleNamespace(beat_schedule=None))
    _schedule(sender)
    assert ("fetch-mail" in sender.conf.beat_schedule) is polled


def test_html_is_sanitised_before_its_text_is_taken():
    html = '<div>Hi<script>document.cookie</script></div><style>x{}</style><a href="javascript:x">link</a><!-- c -->'
    assert html_to_text(html) == "Hi\nlink"


def test_html_lists_and_quotes_keep_their_shape():
    assert html_to_text("<ul><li>one</li><li>two</li></ul><blockquote>older</blockquote>") == "- one\n- two\n\n> older"


@pytest.mark.parametrize(
    "text, own",
    [
        ("Thanks!\n\nOn Tue, 3 Feb 2026 at 10:00, Desk <d@x> wrote:\n> quoted", "Thanks!"),
        ("Thanks!\nOn Tue, 3 Feb 2026 at 10:00, A Very Long Name\n<desk@example.com> wrote:\n> q", "Thanks!"),
        ("Fine now.\n\n-----Original Message-----\nFrom: Desk\nSent: Monday", "Fine now."),
        ("Fine now.\n________________________________\nFrom: Desk <d@x>\nSent: Monday", "Fine now."),
        ("See below\n> quoted line\nmy answer", "See below\nmy answer"),
        ("Cheers\n-- \nRita\n+44 1234", "Cheers"),
        ("Only text", "Only text"),
    ],
)
def test_a_reply_keeps_its_own_words_only(text, own):
    assert reply_text(text) == own
