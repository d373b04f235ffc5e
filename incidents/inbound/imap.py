"""fetch_mail: take the messages of an IMAP mailbox (MAIL_IMAP_URL) through email in.

Messages are fetched a batch at a time; each is taken in its own transaction
(incidents.inbound.mail: the InboundMessage row and what it did commit together), and only
then is the batch moved on the server: to the processed folder, or, for those that failed,
to the failed folder as a copy that carries the reason in an `X-Firebreak-Failed` header. Killed between the commit and the move, the next run finds
the message's row (its key) and only moves it; killed before the commit, nothing was
kept and the message is taken then. So a message is never lost and never taken twice."""

import hashlib
import imaplib
import logging
import re
import ssl
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from incidents.inbound import mail
from incidents.models import InboundMessage

logger = logging.getLogger(__name__)
State = InboundMessage.State
TIMEOUT = 60  # seconds for the server to answer
FAILED_FLAG = "$FirebreakFailed"


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool


def mailbox(url):
    """The mailbox an `imap://` or `imaps://user:password@host[:port]/FOLDER` URL names
    (the folder INBOX when the path is empty; user and password percent-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ImproperlyConfigured("MAIL_IMAP_URL must be imap:// or imaps://user:password@host[:port]/FOLDER.")
    if not parts.username or parts.password is None:
        raise ImproperlyConfigured("MAIL_IMAP_URL must carry the mailbox's user and password.")
    tls = parts.scheme == "imaps"
    return Mailbox(
        host=parts.hostname, port=parts.port or (993 if tls else 143), user=unquote(parts.username),
        password=unquote(parts.password), folder=unquote(parts.path.lstrip("/")) or "INBOX", tls=tls,
    )  # fmt: skip


def connect(box):
    context = ssl.create_default_context()
    if box.tls:
        conn = imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=TIMEOUT)
    else:
        conn = imaplib.IMAP4(box.host, box.port, timeout=TIMEOUT)
        if "STARTTLS" in conn.capabilities:
            conn.starttls(context)
    conn.login(box.user, box.password)
    # Servers name more capabilities (MOVE, UIDPLUS) once logged in: ask again.
    data = _check(conn.capability(), "capability")
    conn.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())
    return conn


def _quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer, what):
    kind, data = answer
    if kind != "OK":
        raise imaplib.IMAP4.error(f"{what}: {kind} {data!r}")
    return data


def _ensure_folder(conn, name):
    kind, _ = conn.create(_quote(name))  # NO when it exists already: fine
    if kind != "OK":
        _check(conn.select(_quote(name), readonly=True), f"the folder {name}")


_SIZE = re.compile(rb"UID (\d+).*RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*UID (\d+)")


def _sizes(conn):
    """{uid: size} of the messages in the selected folder not yet marked deleted."""
    uids = _check(conn.uid("SEARCH", None, "UNDELETED"), "search")[0].split()
    if not uids:
        return {}
    sizes = {}
    for line in _check(conn.uid("FETCH", b",".join(uids).decode(), "(RFC822.SIZE)"), "fetch sizes"):
        text = line[0] if isinstance(line, tuple) else line
        match = _SIZE.search(text or b"")
        if match:
            uid, size = (match[1], match[2]) if match[1] else (match[4], match[3])
            sizes[uid.decode()] = int(size)
    return dict(sorted(sizes.items(), key=lambda item: int(item[0])))


_UID = re.compile(rb"UID (\d+)")
# Messages are fetched, and moved after their commits, a batch per command: round trips,
# not bytes, are what a poll spends its time on. A batch holds at most this many messages
# and bytes (a larger message comes alone).
BATCH = 25
BATCH_BYTES = 8 * 1024 * 1024


def _bodies(conn, uids):
    """{uid: raw message} for `uids`, in one command, without setting \\Seen."""
    if not uids:
        return {}
    found = {}
    for item in _check(conn.uid("FETCH", ",".join(uids), "(UID BODY.PEEK[])"), "fetch"):
        if isinstance(item, tuple):
            match = _UID.search(item[0])
            if match:
                found[match[1].decode()] = item[1]
    return found


def _batches(sizes):
    batch, total = [], 0
    for uid, size in sizes:
        if batch and (len(batch) >= BATCH or total + size > BATCH_BYTES):
            yield batch
            batch, total = [], 0
        batch.append((uid, size))
        total += size if size <= settings.MAIL_MAX_BYTES else 0
    if batch:
        yield batch


class Poller:
    """One connection's worth of work on the mailbox's folder."""

    def __init__(self, conn, box):
        self.conn, self.box = conn, box
        self.can_move = "MOVE" in conn.capabilities
        self.uidplus = "UIDPLUS" in conn.capabilities

    def select(self):
        _check(self.conn.select(_quote(self.box.folder)), f"the folder {self.box.folder}")

    def _remove(self, uid):
        _check(self.conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)"), f"flag {uid}")
        if self.uidplus:
            _check(self.conn.uid("EXPUNGE", uid), f"expunge {uid}")

    def move(self, uid, folder):
        """Move one message (or several: "1,2,3") to `folder`."""
        if self.can_move:
            _check(self.conn.uid("MOVE", uid, _quote(folder)), f"move {uid}")
            return
        _check(self.conn.uid("COPY", uid, _quote(folder)), f"copy {uid}")
        self._remove(uid)

    def set_aside(self, uid, raw, row):
        """A failed message: a copy with the reason in its headers in the failed folder
        (once, whatever happens: the copy carries the message's key and is looked for
        first), then the original goes. A message too large to fetch, or bytes the server
        will not store, are moved as they are and flagged; the reason is in the admin
        either way."""
        folder = settings.MAIL_IMAP_FAILED_FOLDER
        ref = hashlib.sha256(row.key.encode()).hexdigest()
        reason = " ".join((row.reason or "failed").split())[:900].encode("ascii", "replace")
        if raw is None or b"\x00" in raw:
            self.conn.uid("STORE", uid, "+FLAGS.SILENT", f"({FAILED_FLAG})")
            self.move(uid, folder)
            return
        _check(self.conn.select(_quote(folder), readonly=True), f"the folder {folder}")
        found = _check(self.conn.uid("SEARCH", None, "HEADER", "X-Firebreak-Ref", ref), "search")[0].split()
        if not found:
            header = b"X-Firebreak-Failed: " + reason + b"\r\nX-Firebreak-Ref: " + ref.encode() + b"\r\n"
            _check(self.conn.append(_quote(folder), f"({FAILED_FLAG})", None, header + raw), f"append to {folder}")
        self.select()
        self._remove(uid)

    def take(self, uid, size, raw, now=None):
        """Take one message in its own transaction: returns its InboundMessage."""
        if size > settings.MAIL_MAX_BYTES:  # refused without downloading it
            reason = mail.TOO_LARGE.format(size=size, limit=settings.MAIL_MAX_BYTES)
            key = f"{self.box.user}@{self.box.host}/{self.box.folder}/{uid}:{size}".encode()
            return mail.record_failed(key, reason, via=InboundMessage.Via.IMAP, size=size, now=now)
        try:
            return mail.receive(raw, via=InboundMessage.Via.IMAP, now=now)
        except mail.BadMessage as error:
            return mail.record_failed(raw, error.message, via=InboundMessage.Via.IMAP, now=now)


def after_commit(poller, taken):
    """Move messages whose rows are committed where they belong: [(uid, raw, row)]. The
    taken ones in one command; failed ones aside one by one (the crash tests stop a run
    right here)."""
    done = [uid for uid, _, row in taken if row.state != State.FAILED]
    if done:
        poller.move(",".join(done), settings.MAIL_IMAP_PROCESSED_FOLDER)
    for uid, raw, row in taken:
        if row.state == State.FAILED:
            poller.set_aside(uid, raw, row)


def fetch(*, url=None, limit=None, now=None):
    """Take the messages waiting in the mailbox (at most `limit`), oldest first; returns a
    Counter of what became of them ("created", "commented", ..., "ignored", "failed",
    "duplicate"). A database outage stops the run with the message still in the folder."""
    box = mailbox(url or settings.MAIL_IMAP_URL)
    conn = connect(box)
    counts = Counter()
    try:
        for folder in (settings.MAIL_IMAP_PROCESSED_FOLDER, settings.MAIL_IMAP_FAILED_FOLDER):
            _ensure_folder(conn, folder)
        poller = Poller(conn, box)
        poller.select()
        waiting = list(_sizes(conn).items())[:limit]
        for batch in _batches(waiting):
            bodies = _bodies(conn, [uid for uid, size in batch if size <= settings.MAIL_MAX_BYTES])
            taken = []
            for uid, size in batch:
                raw = bodies.get(uid)
                if raw is None and size <= settings.MAIL_MAX_BYTES:
                    continue  # gone meanwhile (another poller moved it)
                row = poller.take(uid, size, raw, now=now or timezone.now())
                taken.append((uid, raw, row))
                counts["duplicate" if row.duplicate else (row.outcome or row.state)] += 1
            # Committed: now (and only now) the server is told.
            after_commit(poller, taken)
        if not poller.uidplus:
            conn.expunge()
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    return counts
