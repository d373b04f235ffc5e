"""Outbox email composed on the wire (incidents.mailwire) reads, to a mail client, exactly
as Django's own composition of the same message; what it cannot write plainly goes to
Django, which also refuses what must be refused."""

import email
import email.policy

import pytest
from django.core import mail

from incidents import mailwire

HTML = '<p>Mail is <b>down</b> &amp; "we" are on it.</p>\n<p style="color:#52606d;font-size:12px;">Unsubscribe</p>'
CASES = {
    "plain ascii": dict(subject="[INC-000001] Update: Email down", body="Restoring mail.\n\nINC-000001\n-- \nFirebreak\n"),
    "unicode and long lines": dict(
        subject="[INC-000002] Mise à jour : la messagerie est en panne — nous rétablissons " * 3,
        body="Ligne . \n.point en tête\ttab  \n" + "é" * 300 + "\n" + "x" * 2000 + "\nfin = égal =3D\r\nCR\rLF",
    ),
    "no trailing newline": dict(subject="Short", body="One line"),
}
HEADERS = {
    "Message-ID": "<abc123.7@firebreak.example>",
    "In-Reply-To": "<incident-7@firebreak.example>",
    "References": "<incident-7@firebreak.example>",
    "List-Unsubscribe": "<https://firebreak.example/unsubscribe/" + "t" * 150 + "/>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def _parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def _texts(message):
    return [part.get_content().replace("\r\n", "\n") for part in message.walk() if not part.is_multipart()]


@pytest.mark.parametrize("html", [HTML, ""], ids=["with html", "text only"])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_reads_as_djangos_own_composition(settings, case, html):
    settings.DEFAULT_FROM_EMAIL = "Firebreak <firebreak@localhost>"
    kwargs = dict(
        subject=case["subject"], body=case["body"], from_email=settings.DEFAULT_FROM_EMAIL, to=["stake0@example.com"],
        headers=HEADERS, alternatives=[(html, "text/html")] if html else None,
    )  # fmt: skip
    ours = mailwire.OutboxEmail(**kwargs, composer=mailwire.Composer()).message()
    assert isinstance(ours, mailwire._Wire)  # the fast path, not the fallback
    raw = ours.as_bytes()
    theirs = _parse(mail.EmailMultiAlternatives(**kwargs).message(policy=email.policy.SMTP).as_bytes())
    parsed = _parse(raw)
    for name in ("From", "To", "Subject", *HEADERS):
        assert str(parsed[name]) == str(theirs[name]), name
    assert parsed["Date"] and parsed.get_content_type() == theirs.get_content_type()
    assert _texts(parsed) == _texts(theirs)
    assert all(not part.defects for part in parsed.walk())
    # On the wire: CRLF line ends only, 7-bit, no line over RFC 5322's 998 characters.
    lines = raw.split(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.isascii()
    assert max(len(line) for line in lines) <= 998


def test_parts_are_encoded_once_per_batch():
    composer = mailwire.Composer()
    for n in range(50):
        message = mailwire.OutboxEmail(subject="S", body="Same text", to=[f"s{n}@example.com"], alternatives=[(HTML, "text/html")],
                                       headers={"Message-ID": f"<{n}@x>"}, composer=composer)  # fmt: skip
        assert _parse(message.message().as_bytes())["To"] == f"s{n}@example.com"
    assert len(composer.texts) == 2  # the text and the HTML, once each


def test_what_it_cannot_write_plainly_goes_to_django():
    composer = mailwire.Composer()
    idn = mailwire.OutboxEmail(subject="S", body="B", to=["stake@exämple.com"], composer=composer)
    assert not isinstance(idn.message(), mailwire._Wire)
    two = mailwire.OutboxEmail(subject="S", body="B", to=["a@example.com"], cc=["b@example.com"], composer=composer)
    assert not isinstance(two.message(), mailwire._Wire)


@pytest.mark.parametrize("header", [{"X-Bad": "a\r\nBcc: victim@example.com"}, {"Subject-Extra": "é\nInjected: yes"}])
def test_a_header_with_a_line_break_is_refused(header):
    message = mailwire.OutboxEmail(subject="S", body="B", to=["a@example.com"], headers=header, composer=mailwire.Composer())
    with pytest.raises(ValueError):
        message.message()
    injected = mailwire.OutboxEmail(subject="S\r\nBcc: victim@example.com", body="B", to=["a@example.com"],
                                    composer=mailwire.Composer())  # fmt: skip
    with pytest.raises(ValueError):
        injected.message()
