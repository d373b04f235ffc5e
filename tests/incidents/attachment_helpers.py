"""Files for the attachment tests, made here (small, real formats). The `media` fixture
(tests/incidents/conftest.py) gives each test a fresh MEDIA_ROOT."""

import gzip
import io
import zipfile

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = b"2026-03-02 09:00:01 ERROR mail relay refused the connection\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
HTML = b"<!doctype html><script>alert(1)</script>"


def zipped(members, *, compression=zipfile.ZIP_DEFLATED):
    """A zip of {name: bytes}, the same bytes every time (a fixed date)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 3, 2, 9, 0, 0)), data, compress_type=compression)
    return buffer.getvalue()


def gzipped(data):
    return gzip.compress(data, mtime=0)  # the same bytes every time


def docx():
    return zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})


def stored_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
