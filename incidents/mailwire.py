"""Outbox email as it goes on the wire, composed fast.

Django's `EmailMessage.message()` builds every message through the standard library's
modern email API, which parses and refolds each header and sniffs each body: about 2 ms
per message, most of the hand-off of an announcement to thousands. An announcement's
messages share their subject, their threading headers and (but for the footer) their
texts, so here the parts that repeat are encoded once per batch (`Composer` caches them)
and only what differs per recipient (To, Message-ID, the unsubscribe link and footer) is
written per message: plain ASCII headers as they are, text parts as quoted-printable
(7-bit, for any SMTP server) by binascii. Anything unusual (a header that is not plain
ASCII or too long, CR or LF anywhere in a header, an address that is not ASCII) is left
to Django's own composition, which also refuses what must be refused."""

import binascii
import email.policy
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid

from django.conf import settings
from django.core import mail
from django.core.mail.utils import DNS_NAME
from django.utils import timezone

_POLICY = email.policy.SMTP
_LIMIT = 998  # RFC 5322's hard line limit, CRLF excluded


class _Wire:
    """What a backend's `message()` call returns: the finished bytes (which the SMTP
    backend sends as they are); anything else is asked of them parsed, as a message."""

    def __init__(self, data, policy):
        self.data, self.policy, self._parsed = data, policy, None

    def as_bytes(self, unixfrom=False, linesep="\r\n"):
        return self.data

    def _message(self):
        if self._parsed is None:
            self._parsed = email.message_from_bytes(self.data, policy=self.policy)
        return self._parsed

    def __getitem__(self, name):
        return self._message()[name]

    def __getattr__(self, name):
        return getattr(self._message(), name)


def _plain(value):
    return value.isascii() and "\r" not in value and "\n" not in value


class Composer:
    """Encodes each distinct header and text once; one per delivery batch."""

    def __init__(self):
        self.headers, self.texts = {}, {}

    def header(self, name, value):
        line = f"{name}: {value}"
        if _plain(value) and len(line) <= _LIMIT and value.strip() == value:
            return line.encode() + b"\r\n"
        key = (name, value)
        if key not in self.headers:
            if "\r" in value or "\n" in value:
                raise ValueError(f"Header values can't contain newlines (got {value!r} for header {name!r})")
            self.headers[key] = _POLICY.fold_binary(name, _POLICY.header_factory(name, value))
        return self.headers[key]

    def text(self, content, subtype):
        key = (content, subtype)
        found = self.texts.get(key)
        if found is None:
            lines = content.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
            if not lines.endswith("\r\n"):
                lines += "\r\n"
            encoded = binascii.b2a_qp(lines.encode(), quotetabs=False, istext=True, header=False)
            found = (
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n'.encode()
                + b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                + encoded
            )
            self.texts[key] = found
        return found

    def compose(self, *, sender, to, subject, body, html, headers):
        """The message's bytes, or None when it needs Django's own composition."""
        if not to.isascii() or not _plain(to) or not _plain(sender):
            return None
        names = {name.lower() for name in headers}
        if names & {"from", "to", "cc", "bcc", "reply-to", "content-type", "mime-version", "content-transfer-encoding"}:
            return None
        if settings.EMAIL_USE_LOCALTIME:
            date = format_datetime(timezone.localtime())
        else:
            date = format_datetime(datetime.now(UTC).replace(microsecond=0))
        out = [self.header("From", sender), self.header("To", to), self.header("Subject", subject)]
        if "date" not in names:
            out.append(self.header("Date", date))
        if "message-id" not in names:
            out.append(self.header("Message-ID", make_msgid(domain=DNS_NAME)))
        out += [self.header(name, str(value)) for name, value in headers.items()]
        out.append(b"MIME-Version: 1.0\r\n")
        if not html:
            return b"".join(out) + self.text(body, "plain")
        # QP output never holds "==": a boundary made of "=" cannot occur in a part.
        boundary = f"==============={secrets.token_hex(10)}=="
        out.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode())
        # The CRLF before each delimiter belongs to the delimiter, not to the part above it.
        delimiter, close = f"--{boundary}\r\n".encode(), f"\r\n--{boundary}--\r\n".encode()
        out += [delimiter, self.text(body, "plain"), b"\r\n", delimiter, self.text(html, "html"), close]
        return b"".join(out)


class OutboxEmail(mail.EmailMultiAlternatives):
    """An outbox row as Django's email message (so every backend takes it, and tests see
    subject, body and alternatives as usual) whose wire form the `Composer` writes."""

    def __init__(self, *args, composer, **kwargs):
        super().__init__(*args, **kwargs)
        self._composer = composer

    def message(self, *, policy=email.policy.default):
        alternatives = self.alternatives
        html = alternatives[0].content if alternatives else ""
        data = None
        single = len(self.to) == 1 and not (self.cc or self.bcc or self.reply_to or self.attachments)
        html_only = len(alternatives) <= 1 and all(a.mimetype == "text/html" and isinstance(a.content, str) for a in alternatives)
        if single and html_only:
            data = self._composer.compose(
                sender=str(self.from_email), to=self.to[0], subject=str(self.subject), body=self.body, html=html,
                headers=self.extra_headers,
            )  # fmt: skip
        if data is None:
            return super().message(policy=policy)
        return _Wire(data, policy)
