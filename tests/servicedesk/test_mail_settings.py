"""Email in's settings: a bad value stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAIL_MAX_BYTES", "25MB"), ("MAIL_SENDER_RATE", "0"), ("MAIL_FETCH_SECONDS", "1"),
     ("MAIL_IMAP_URL", "pop3://desk:pw@mail.example.com/"), ("MAIL_IMAP_URL", "imaps://mail.example.com/INBOX")],
)  # fmt: skip
def test_a_bad_value_stops_start_up_naming_it(variable, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAIL_")}
    result = subprocess.run(  # noqa: S603 (our own arguments)
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**env, "SECRET_KEY": "x" * 50, "DEBUG": "false", "DATABASE_URL": "sqlite:///:memory:", variable: value},
    )  # fmt: skip
    assert result.returncode != 0
    assert variable in result.stderr and "Traceback" not in result.stderr
