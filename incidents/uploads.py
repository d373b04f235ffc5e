"""What an attachment's bytes are, and whether Firebreak takes them. Pure: reads the bytes
it is given and the limits in settings, writes nothing.

The type is sniffed from the content, never taken from the file name or the declared
content type: the content must be one of the allowed types, and a file name's extension
must be one of that type's (a PNG named `report.pdf`, or a program named `photo.jpg`, is
refused). Archives (zip, and the Office formats that are zips, and gzip) are expanded as
a stream and refused when they would expand past ATTACHMENT_MAX_EXPANDED_BYTES, hold more
than ATTACHMENT_MAX_ARCHIVE_MEMBERS files, are encrypted, corrupt, or hold archives
themselves (whose expansion the first level cannot bound)."""

import gzip
import hashlib
import io
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

from incidents import errors

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Kind:
    content_type: str
    label: str
    extensions: frozenset


KINDS = {
    kind.content_type: kind
    for kind in (
        Kind("image/png", "a PNG image", frozenset({"png"})),
        Kind("image/jpeg", "a JPEG image", frozenset({"jpg", "jpeg", "jpe"})),
        Kind("image/gif", "a GIF image", frozenset({"gif"})),
        Kind("image/webp", "a WebP image", frozenset({"webp"})),
        Kind("application/pdf", "a PDF document", frozenset({"pdf"})),
        Kind("application/zip", "a zip archive", frozenset({"zip"})),
        Kind("application/gzip", "a gzip archive", frozenset({"gz", "tgz"})),
        Kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a Word document",
             frozenset({"docx"})),
        Kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an Excel workbook",
             frozenset({"xlsx"})),
        Kind("application/vnd.openxmlformats-officedocument.presentationml.presentation", "a PowerPoint deck",
             frozenset({"pptx"})),
        Kind("text/plain", "plain text", frozenset({
            "txt", "text", "log", "out", "err", "csv", "tsv", "json", "md", "yaml", "yml", "ini", "conf", "cfg",
        })),
    )
}  # fmt: skip
ALLOWED_TEXT = "PNG, JPEG, GIF, WebP, PDF, plain text (.txt, .log, .csv, .json …), zip, gzip, Word, Excel, PowerPoint"

# Office Open XML: a zip whose parts say which application it belongs to.
OOXML = (
    ("word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
ARCHIVES = frozenset({"application/zip", "application/gzip", *(content_type for _, content_type in OOXML)})
# Bytes that plain text never holds: NUL and the C0 controls other than tab, line feed,
# vertical tab, form feed, carriage return and escape (which coloured logs use).
BINARY_BYTES = frozenset(range(0x00, 0x09)) | frozenset(range(0x0E, 0x1B)) | frozenset(range(0x1C, 0x20))


@dataclass(frozen=True)
class Checked:
    """An attachment that passed: its cleaned name, sniffed type, size and digest."""

    name: str
    content_type: str
    size: int
    sha256: str


def clean_name(name):
    """The last part of the uploader's file name, without control characters or path
    separators, at most 200 characters (the extension kept)."""
    name = re.split(r"[\\/]", str(name or ""))[-1]
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext)] + ext
    return name or "attachment"


def extension(name):
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    return ext or None


def _prefix_type(head):
    """The type its first bytes announce, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "application/zip"
    if head.startswith(b"\x1f\x8b"):
        return "application/gzip"
    return None


def _is_text(stream):
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        if not BINARY_BYTES.isdisjoint(chunk):
            return False
    return True


def sniff(stream):
    """The content type of the bytes in `stream` (a binary file object), or None when they
    are none of the allowed types. A zip that is an Office document says which."""
    stream.seek(0)
    content_type = _prefix_type(stream.read(16))
    if content_type == "application/zip":
        try:
            with zipfile.ZipFile(stream) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return content_type  # the archive check says what is wrong with it
        if "[Content_Types].xml" in names:
            content_type = next((t for part, t in OOXML if part in names), content_type)
    elif content_type is None and _is_text(stream):
        content_type = "text/plain"
    return content_type


def _expansion_limit_error(limit):
    return ValidationError({"file": [errors.ARCHIVE_TOO_BIG.format(limit=_size_text(limit))]})


def _read_capped(member, total, limit):
    """Read a member to the end, counting; refuse as soon as the total passes `limit`.
    Returns the new total and the member's first bytes."""
    head = b""
    while chunk := member.read(CHUNK):
        if not head:
            head = chunk[:16]
        total += len(chunk)
        if total > limit:
            raise _expansion_limit_error(limit)
    return total, head


def check_archive(stream, content_type):
    """Refuse an archive that expands past the limit, holds too many files, is encrypted
    or corrupt, or nests another archive. The expansion is measured by decompressing (as a
    stream, stopping at the limit), never by trusting the sizes the archive declares."""
    limit = settings.ATTACHMENT_MAX_EXPANDED_BYTES
    stream.seek(0)
    if content_type == "application/gzip":
        try:
            with gzip.GzipFile(fileobj=stream) as member:
                _read_capped(member, 0, limit)
        except (OSError, EOFError, zlib.error):
            raise ValidationError({"file": [errors.ARCHIVE_CORRUPT.format(kind="gzip archive")]}) from None
        return
    total = 0
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            if len(members) > settings.ATTACHMENT_MAX_ARCHIVE_MEMBERS:
                raise ValidationError({"file": [errors.ARCHIVE_TOO_MANY.format(limit=settings.ATTACHMENT_MAX_ARCHIVE_MEMBERS)]})
            for info in members:
                if info.flag_bits & 0x1:
                    raise ValidationError({"file": [errors.ARCHIVE_ENCRYPTED]})
                if info.is_dir():
                    continue
                with archive.open(info) as member:
                    total, head = _read_capped(member, total, limit)
                if _prefix_type(head) in ("application/zip", "application/gzip"):
                    raise ValidationError({"file": [errors.ARCHIVE_NESTED.format(name=clean_name(info.filename))]})
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, zlib.error, ValueError):
        raise ValidationError({"file": [errors.ARCHIVE_CORRUPT.format(kind="zip archive")]}) from None


def _size_text(size):
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


size_text = _size_text


def check(stream, *, name, size):
    """Check the bytes of an attachment called `name` (a binary file object of `size`
    bytes, already within the size limit): raise ValidationError({"file": [...]}) with a
    sentence the uploader can act on, or return what was found."""
    name = clean_name(name)
    if size == 0:
        raise ValidationError({"file": [errors.ATTACHMENT_EMPTY.format(name=name)]})
    content_type = sniff(stream)
    if content_type is None:
        raise ValidationError({"file": [errors.ATTACHMENT_TYPE.format(name=name, allowed=ALLOWED_TEXT)]})
    kind = KINDS[content_type]
    ext = extension(name)
    if ext is not None and ext not in kind.extensions:
        raise ValidationError({"file": [errors.ATTACHMENT_LYING_NAME.format(
            name=name, ext=ext, kind=kind.label, right=", .".join(sorted(kind.extensions)),
        )]})  # fmt: skip
    if content_type in ARCHIVES:
        check_archive(stream, content_type)
    stream.seek(0)
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    stream.seek(0)
    return Checked(name=name, content_type=content_type, size=size, sha256=digest.hexdigest())


def as_stream(content):
    """A seekable binary file object for bytes or an (uploaded) file, and its size."""
    if isinstance(content, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(content)), len(content)
    stream = getattr(content, "file", content)
    size = getattr(content, "size", None)
    if size is None:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
    stream.seek(0)
    return stream, size
