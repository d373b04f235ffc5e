"""Schemathesis hooks for tests/servicedesk/test_openapi_fuzz.py (SCHEMATHESIS_HOOKS):
bodies for the media types it cannot make by itself. Email in takes `message/rfc822`:
real messages, messages without a sender, and junk."""

import schemathesis
from hypothesis import strategies as st

_HEADER = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=40)
_MESSAGES = st.one_of(
    st.builds(
        lambda subject, body: f"From: fuzz@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode(),
        _HEADER, st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")),
    ),
    st.builds(lambda subject: f"Subject: {subject}\r\n\r\nno sender\r\n".encode(), _HEADER),
    st.binary(max_size=200),
)

schemathesis.openapi.media_type("message/rfc822", _MESSAGES)
