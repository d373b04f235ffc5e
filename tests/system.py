"""What a test needs from the machine: a program from a Debian package, or a file that
`make system-deps` installs. Missing, the test skips with a notice naming it; in CI
(FIREBREAK_REQUIRE_SERVICES=1) it fails instead, so a green CI never hides a missing
install step."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _missing(what):
    message = f"{what} is missing: `make system-deps` installs it (as root), see .ci/apt-packages"
    if os.environ.get("FIREBREAK_REQUIRE_SERVICES"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need_program(name, *, package, paths=()):
    """The path of program `name` (on PATH or at one of `paths`), from Debian's `package`."""
    found = shutil.which(name) or next((str(p) for p in map(Path, paths) if p.exists()), None)
    if found is None:
        _missing(f"{name} (Debian package {package})")
    return found


def need_file(path, *, what):
    path = ROOT / path
    if not path.exists():
        _missing(f"{what} ({path.relative_to(ROOT)})")
    return path
