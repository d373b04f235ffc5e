import io

import pytest
from django.core.exceptions import ValidationError

from incidents import errors, uploads
from tests.incidents.attachment_helpers import (
    EXE,
    HTML,
    JPEG,
    PDF,
    PNG,
    TEXT,
    docx,
    gzipped,
    zipped,
)


def check(data, name):
    return uploads.check(io.BytesIO(data), name=name, size=len(data))


def refusal(data, name):
    with pytest.raises(ValidationError) as caught:
        check(data, name)
    return caught.value.message_dict["file"][0]


SNIFFED = [
    (PNG, "screen.png", "image/png"),
    (JPEG, "photo.JPG", "image/jpeg"),
    (b"GIF89a" + b"\x00" * 10, "anim.gif", "image/gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "pic.webp", "image/webp"),
    (PDF, "report.pdf", "application/pdf"),
    (TEXT, "relay.log", "text/plain"),
    (b"name,count\nmail,3\n", "counts.csv", "text/plain"),
    ("Größe: 3 — ok\n".encode(), "notes.txt", "text/plain"),
    (zipped({"a.log": TEXT}), "logs.zip", "application/zip"),
    (gzipped(TEXT), "relay.log.gz", "application/gzip"),
    (docx(), "minutes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (PNG, "no-extension", "image/png"),
]


@pytest.mark.parametrize(("data", "name", "content_type"), SNIFFED, ids=[name for _, name, _ in SNIFFED])
def test_the_type_is_sniffed_from_the_bytes(data, name, content_type):
    checked = check(data, name)
    assert checked.content_type == content_type
    assert checked.size == len(data)
    assert len(checked.sha256) == 64


def test_a_png_named_pdf_is_refused_as_a_lying_extension():
    message = refusal(PNG, "invoice.pdf")
    assert message == errors.ATTACHMENT_LYING_NAME.format(name="invoice.pdf", ext="pdf", kind="a PNG image", right="png")


def test_a_zip_named_docx_is_refused():
    assert "its content is a zip archive" in refusal(zipped({"a.txt": b"x"}), "minutes.docx")


@pytest.mark.parametrize(("data", "name"), [(EXE, "photo.jpg"), (EXE, "setup.exe"), (HTML, "page.html"),
                                            (HTML, "page.txt.html"), (b"<svg/>", "logo.svg")])
def test_programs_and_markup_are_refused(data, name):
    message = refusal(data, name)
    assert message.startswith("The content of") or "is named" in message


def test_html_named_txt_is_only_text():
    # Served as text/plain with nosniff and as a download: it never runs.
    assert check(HTML, "page.txt").content_type == "text/plain"


def test_an_empty_file_is_refused():
    assert refusal(b"", "empty.txt") == errors.ATTACHMENT_EMPTY.format(name="empty.txt")


def test_a_zip_bomb_is_refused_by_what_it_expands_to(settings):
    settings.ATTACHMENT_MAX_EXPANDED_BYTES = 1024 * 1024
    bomb = zipped({"zeros.bin": b"\x00" * (2 * 1024 * 1024)})
    assert len(bomb) < 10 * 1024  # small on the wire
    assert refusal(bomb, "logs.zip") == errors.ARCHIVE_TOO_BIG.format(limit="1 MB")


def test_the_expansion_adds_up_over_the_members(settings):
    settings.ATTACHMENT_MAX_EXPANDED_BYTES = 1024 * 1024
    members = {f"part{n}.bin": b"\x00" * (300 * 1024) for n in range(4)}
    assert refusal(zipped(members), "parts.zip") == errors.ARCHIVE_TOO_BIG.format(limit="1 MB")
    assert check(zipped(dict(list(members.items())[:3])), "parts.zip").content_type == "application/zip"


def test_a_zip_that_understates_its_sizes_is_refused(settings):
    settings.ATTACHMENT_MAX_EXPANDED_BYTES = 1024 * 1024
    data = bytearray(zipped({"zeros.bin": b"\x00" * (2 * 1024 * 1024)}))
    # Declare 10 bytes uncompressed in the central directory: reading stops there and the
    # CRC does not match, so the archive is refused as damaged rather than trusted.
    central = data.index(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")
    local = data.index(b"PK\x03\x04")
    data[local + 22:local + 26] = (10).to_bytes(4, "little")
    assert refusal(bytes(data), "logs.zip") == errors.ARCHIVE_CORRUPT.format(kind="zip archive")


def test_a_gzip_bomb_is_refused(settings):
    settings.ATTACHMENT_MAX_EXPANDED_BYTES = 1024 * 1024
    assert refusal(gzipped(b"\x00" * (2 * 1024 * 1024)), "dump.gz") == errors.ARCHIVE_TOO_BIG.format(limit="1 MB")


def test_a_docx_bomb_is_refused(settings):
    settings.ATTACHMENT_MAX_EXPANDED_BYTES = 1024 * 1024
    bomb = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b" " * (2 * 1024 * 1024)})
    assert refusal(bomb, "minutes.docx") == errors.ARCHIVE_TOO_BIG.format(limit="1 MB")


def test_an_archive_inside_an_archive_is_refused():
    inner = zipped({"a.txt": b"x"})
    assert refusal(zipped({"inner.zip": inner}), "outer.zip") == errors.ARCHIVE_NESTED.format(name="inner.zip")
    assert "inner.gz" in refusal(zipped({"inner.gz": gzipped(b"x")}), "outer.zip")


def test_too_many_members_are_refused(settings):
    settings.ATTACHMENT_MAX_ARCHIVE_MEMBERS = 5
    many = zipped({f"{n}.txt": b"x" for n in range(6)})
    assert refusal(many, "many.zip") == errors.ARCHIVE_TOO_MANY.format(limit=5)


def test_an_encrypted_archive_is_refused():
    data = bytearray(zipped({"secret.txt": b"x"}))
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" flag
    assert refusal(bytes(data), "secret.zip") == errors.ARCHIVE_ENCRYPTED


@pytest.mark.parametrize("data", [b"PK\x03\x04garbage" * 10, b"\x1f\x8bnot really gzip"])
def test_a_damaged_archive_is_refused(data):
    assert "is damaged" in refusal(data, "broken.zip" if data.startswith(b"PK") else "broken.gz")


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\rita\\screen.png", "screen.png"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("  ...  ", "attachment"),
        ("x" * 300 + ".log", "x" * 196 + ".log"),
    ],
)
def test_file_names_are_cleaned(name, clean):
    assert uploads.clean_name(name) == clean
