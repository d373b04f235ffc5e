"""Email in: one code path for every door (the API's `POST /api/v1/integrations/email/`,
`manage.py receive_email` on an MTA's pipe, `manage.py fetch_mail` on an IMAP mailbox).

`receive(raw, via=...)` checks that the bytes are one RFC 822 message (BadMessage
otherwise: nothing is recorded) and takes it in one transaction: the InboundMessage row
first (its unique key, the Message-ID or a hash of the message, makes a message given
twice, or by two pollers at once, a duplicate), then what it does through
incidents.services: a new incident (channel email), or, for a reply to an incident the
sender may see, a public comment (the requester's side; it reopens a resolved incident
within the reopen window) or an internal note (staff who may write notes). Auto-replies,
bounces, loops and floods are recorded as ignored with the reason and change nothing
else; a sender the policy refuses is recorded as failed with the reason."""

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import timedelta
from email import policy
from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import lifecycle, notify, services
from incidents.inbound.mailtext import html_to_text, reply_text
from incidents.models import InboundMessage, Incident, OutboundMessage, Status
from procedures.limits import TEXT_MAX, TITLE_MAX
from procedures.models import Category
from skills.errors import Conflict, DomainError, Forbidden
from skills.policy import Action, can
from skills.services import person_create_for_email, person_for_email

State = InboundMessage.State
Via = InboundMessage.Via

# Why a message is not one (BadMessage): the API's 400, the pipe's EX_DATAERR, IMAP's failed folder.
EMPTY = "The body is empty: it must be one email message (RFC 822)."
BINARY = "This is not an email message (RFC 822): it contains NUL bytes."
NO_HEADERS = "This is not an email message (RFC 822): it has no header lines."
UNREADABLE = "This is not an email message (RFC 822): its headers cannot be read ({error})."
NO_FROM = "The message has no From header: the desk cannot tell who sent it."
BAD_FROM = "The From header must name exactly one valid address."
TOO_LARGE = "The message is {size} bytes: the limit is {limit} bytes (MAIL_MAX_BYTES)."
TOO_LARGE_BODY = "The message is too large: the limit is {limit} bytes (MAIL_MAX_BYTES)."

# Why a message is ignored: nothing is created or reopened.
AUTO_SUBMITTED = "An automatic message (Auto-Submitted: {value})."
PRECEDENCE = "A bulk or list message (Precedence: {value})."
AUTO_REPLY = "An automatic reply ({header})."
REPORT = "A delivery or read report (a bounce)."
DAEMON = "A bounce (from {sender})."
NULL_SENDER = "A bounce (an empty Return-Path)."
OWN_ADDRESS = "From the desk's own address ({sender}): a loop."
OWN_MESSAGE = "A message the desk sent itself ({message_id}): a loop."
FLOOD = "More than {rate} messages a minute from {sender} (MAIL_SENDER_RATE): a loop or a flood."
EMPTY_REPLY = "A reply with no words of its own and no attachment."

# Why a message failed (it was taken, and kept aside).
INACTIVE = "The account of {sender} is deactivated."
NO_CATEGORY = "The category for new mail, {slug!r} (MAIL_CATEGORY), does not exist."

REOPENED = "Replied by email after the resolution."
CUT = "\n[The message was longer: cut here.]"
DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Autoresponder")
LOOP_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
IMPACT = URGENCY = 2  # medium until the desk triages it
_ID = re.compile(r"<[^<>\s]{1,250}>")
_SUBJECT_REFERENCE = re.compile(r"\[(INC-\d{6,})\]", re.IGNORECASE)


class BadMessage(Exception):
    """The bytes are not one RFC 822 message (or are over MAIL_MAX_BYTES)."""

    def __init__(self, message, *, too_large=False):
        super().__init__(message)
        self.message = message
        self.too_large = too_large


class _Ignore(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Attached:
    name: str
    content_type: str
    data: bytes


@dataclass
class Mail:
    key: str
    message_id: str
    sender: str
    name: str
    subject: str
    text: str
    size: int
    headers: object  # the parsed message, for the loop checks
    references: list = field(default_factory=list)
    attachments: list = field(default_factory=list)


def raw_key(raw):
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _clean(text):
    return str(text or "").replace("\x00", "")


def _header(message, name):
    try:
        value = message.get(name)
    except Exception:  # noqa: BLE001 - a header the parser cannot read is as good as absent
        return ""
    return _clean(value).strip() if value is not None else ""


def _text(message):
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):  # an unknown charset or a broken part
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return _clean(content).replace("\r\n", "\n").strip()


def _attachments(message):
    found = []
    for n, part in enumerate(message.iter_attachments(), 1):
        data = part.get_payload(decode=True)
        if data is None:  # an attached message: its bytes as they came
            data = part.as_bytes()
        found.append(Attached(_clean(part.get_filename() or f"attachment-{n}"), part.get_content_type(), data))
    return found


def parse(raw):
    """Check that `raw` (bytes) is one RFC 822 message and read what the desk needs from
    it; BadMessage says why it is not."""
    if len(raw) > settings.MAIL_MAX_BYTES:
        raise BadMessage(TOO_LARGE.format(size=len(raw), limit=settings.MAIL_MAX_BYTES), too_large=True)
    if not raw.strip():
        raise BadMessage(EMPTY)
    if b"\x00" in raw:
        raise BadMessage(BINARY)
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        keys = message.keys()
    except Exception as error:  # noqa: BLE001 - whatever the parser trips on, the answer is the same
        raise BadMessage(UNREADABLE.format(error=type(error).__name__)) from None
    if not keys:
        raise BadMessage(NO_HEADERS)
    if message.get("From") is None:
        raise BadMessage(NO_FROM)
    try:
        addresses = message["From"].addresses
    except Exception:  # noqa: BLE001 - an unreadable From is no From
        addresses = ()
    if len(addresses) != 1 or not notify.valid_email(addresses[0].addr_spec):
        raise BadMessage(BAD_FROM)
    sender = addresses[0].addr_spec.strip().lower()
    found = _ID.search(_header(message, "Message-ID"))
    message_id = found.group(0) if found else ""
    references = _ID.findall(_header(message, "In-Reply-To")) + _ID.findall(_header(message, "References"))[::-1]
    try:
        text, attachments = _text(message), _attachments(message)
    except Exception as error:  # noqa: BLE001 - a body the parser cannot walk
        raise BadMessage(UNREADABLE.format(error=type(error).__name__)) from None
    return Mail(
        key=message_id or raw_key(raw), message_id=message_id, sender=sender,
        name=_clean(addresses[0].display_name)[:300], subject=" ".join(_header(message, "Subject").split()),
        text=text, size=len(raw), headers=message, references=references, attachments=attachments,
    )  # fmt: skip


def _own_addresses():
    own = {parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(), settings.MAIL_DESK_ADDRESS.strip().lower()}
    return own - {""}


def ignore_reason(mail):
    """Why this message must change nothing (an auto-reply, a bounce, a loop), or None."""
    message = mail.headers
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return AUTO_SUBMITTED.format(value=auto[:60])
    precedence = _header(message, "Precedence").lower()
    if precedence in LOOP_PRECEDENCE:
        return PRECEDENCE.format(value=precedence)
    for header in AUTO_HEADERS:
        if message.get(header) is not None:
            return AUTO_REPLY.format(header=header)
    if message.get_content_type() == "multipart/report":
        return REPORT
    if mail.sender.split("@")[0] in DAEMONS:
        return DAEMON.format(sender=mail.sender)
    if _header(message, "Return-Path") == "<>":
        return NULL_SENDER
    if mail.sender in _own_addresses():
        return OWN_ADDRESS.format(sender=mail.sender)
    if notify.our_message_id(mail.message_id) is not None:
        return OWN_MESSAGE.format(message_id=mail.message_id)
    return None


def _flood(mail, row, now):
    rate = settings.MAIL_SENDER_RATE
    recent = InboundMessage.objects.filter(sender=mail.sender, received_at__gt=now - timedelta(minutes=1))
    if recent.exclude(pk=row.pk)[:rate].count() >= rate:
        return FLOOD.format(rate=rate, sender=mail.sender)
    return None


def replied_incident(mail):
    """The incident a reply answers: a Message-ID of ours in In-Reply-To or References
    (a message the outbox sent, or an incident's thread), else `[INC-000123]` in the
    subject. None for a new message."""
    for message_id in mail.references:
        ours = notify.our_message_id(message_id)
        if ours is None:
            continue
        kind, value = ours
        if kind == "sent":
            sent = OutboundMessage.objects.filter(incident_id=value, **{"headers__Message-ID": message_id})
            incident = Incident.objects.filter(pk=value).first() if sent.exists() else None
        elif kind == "thread":
            incident = Incident.objects.filter(pk=value).first()
        elif kind == "status":
            incident = Incident.objects.filter(public_id=value).first()
        else:
            incident = None
        if incident is not None:
            return incident
    for reference in _SUBJECT_REFERENCE.findall(mail.subject):
        pk = Incident.pk_from_reference(reference.upper())
        incident = Incident.objects.filter(pk=pk).first() if pk else None
        if incident is not None:
            return incident
    return None


def _sentence(error):
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, DomainError):
        return error.message
    return str(error)


def _fit(text):
    return text if len(text) <= TEXT_MAX else text[: TEXT_MAX - len(CUT)] + CUT


def _detail(mail):
    return {"via": "email", "message_id": mail.message_id, "subject": mail.subject[:TITLE_MAX]}


def _attach(mail, person, incident, now):
    """Each attachment through attachment_add (its sniffing, limits and scanner); one that
    is refused is noted on the timeline and the message is still taken."""
    for item in mail.attachments:
        try:
            with transaction.atomic():
                services.attachment_add(
                    actor=person, incident=incident, name=item.name, content=item.data,
                    declared_type=item.content_type, channel="email", now=now,
                )  # fmt: skip
        except (ValidationError, DomainError) as error:
            services.attachment_refused(actor=person, incident=incident, name=item.name, reason=_sentence(error), now=now)


def _reply(mail, row, person, incident, now):
    """Apply a reply to `incident` (which the sender may see): True, or False when it must
    become a new incident instead (the sender may not comment, or it is closed)."""
    public = incident.reporter_id == person.pk or not can(person, Action.NOTE, incident)
    if public and not (can(person, Action.COMMENT, incident) and lifecycle.allows("comment", incident)):
        return False
    body = reply_text(mail.text)
    if not body:
        if not mail.attachments:
            raise _Ignore(EMPTY_REPLY)
        body = "(Attachments only.)"
    if public:
        incident, _ = services.incident_comment(actor=person, incident=incident, body=_fit(body), now=now,
                                                detail=_detail(mail))  # fmt: skip
        row.outcome = "commented"
        if incident.status == Status.RESOLVED and can(person, Action.CONFIRM_RESOLUTION, incident):
            try:
                with transaction.atomic():
                    incident = services.incident_confirm_resolution(
                        actor=person, incident=incident, fixed=False, reason=REOPENED, now=now
                    )
                row.outcome = "reopened"
            except Conflict:
                pass  # past the reopen window: the comment stays, the incident stays resolved
    else:
        incident, _ = services.incident_add_note(actor=person, incident=incident, body=_fit(body), now=now,
                                                 detail=_detail(mail))  # fmt: skip
        row.outcome = "noted"
    row.incident = incident
    _attach(mail, person, incident, now)
    return True


def _register(mail, row, person, now, follows=None):
    category = Category.objects.filter(slug=settings.MAIL_CATEGORY).first()
    if category is None:
        raise ValidationError({"category": [NO_CATEGORY.format(slug=settings.MAIL_CATEGORY)]})
    title = mail.subject[:TITLE_MAX] or f"Email from {mail.sender}"[:TITLE_MAX]
    incident = services.incident_register(
        actor=person, title=title, description=_fit(mail.text or "(The message had no text.)"), category=category,
        impact=IMPACT, urgency=URGENCY, channel="email", now=now, follows=follows, detail=_detail(mail),
    )  # fmt: skip
    row.incident, row.outcome = incident, "created"
    _attach(mail, person, incident, now)


def _act(mail, row, received_by, now):
    person = person_for_email(mail.sender)
    if person is None:
        person = person_create_for_email(address=mail.sender, name=mail.name, received_by=received_by, now=now)
    row.person = person
    if not person.is_active:
        raise Forbidden(INACTIVE.format(sender=mail.sender))
    incident = replied_incident(mail)
    follows = None
    if incident is not None and can(person, Action.VIEW, incident):
        if _reply(mail, row, person, incident, now):
            return
        if incident.status in (Status.CLOSED, Status.CANCELLED):
            follows = incident  # a reply to finished work: new work, that says what it follows
    _register(mail, row, person, now, follows=follows)


def take(mail, *, via, received_by=None, now=None):
    """Take a parsed message in one transaction; returns its InboundMessage (with
    `duplicate` True when the same message was taken before: nothing more is done)."""
    now = now or timezone.now()
    with transaction.atomic():
        row = InboundMessage(
            key=mail.key, message_id=mail.message_id, sender=mail.sender, subject=mail.subject[:255], size=mail.size,
            via=via, received_by=received_by, received_at=now, state=State.FAILED,
        )  # fmt: skip
        try:
            with transaction.atomic():
                row.save()  # a second delivery of the key waits here for the first, then fails
        except IntegrityError:
            row = InboundMessage.objects.select_related("incident").get(key=mail.key)
            row.duplicate = True
            return row
        row.duplicate = False
        reason = ignore_reason(mail) or _flood(mail, row, now)
        if reason is None:
            try:
                with transaction.atomic():
                    _act(mail, row, received_by, now)
                row.state = State.DONE
            except _Ignore as ignored:
                reason = ignored.reason
                row.incident, row.person = None, person_for_email(mail.sender)
            except (ValidationError, DomainError) as error:  # the sender refused, no category: kept aside
                row.state, row.reason, row.incident, row.outcome = State.FAILED, _sentence(error)[:2000], None, ""
                row.person = person_for_email(mail.sender)  # the account, if it outlived the rollback
        if reason is not None:
            row.state, row.reason, row.outcome = State.IGNORED, reason, ""
        row.save(update_fields=["state", "reason", "outcome", "person", "incident"])
    return row


def receive(raw, *, via, received_by=None, now=None):
    """Check and take one raw message (bytes): BadMessage if it is not one, else its
    InboundMessage."""
    return take(parse(raw), via=via, received_by=received_by, now=now)


def record_failed(raw, reason, *, via, received_by=None, size=None, now=None):
    """Keep a record of a message that is not one (for the poller, which has nobody to
    answer): failed, with the reason, keyed by its hash. Returns the row (an earlier one
    for the same bytes, with `duplicate`)."""
    now = now or timezone.now()
    row = InboundMessage(
        key=raw_key(raw), size=size if size is not None else len(raw), via=via, received_by=received_by,
        received_at=now, state=State.FAILED, reason=reason[:2000],
    )  # fmt: skip
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        row = InboundMessage.objects.get(key=row.key)
        row.duplicate = True
        return row
    row.duplicate = False
    return row


def answer(row):
    """What the doors report of a taken message."""
    return {
        "id": row.pk, "state": row.state, "outcome": row.outcome or None, "duplicate": row.duplicate,
        "reference": row.incident.reference if row.incident_id else None, "reason": row.reason or None,
    }  # fmt: skip
