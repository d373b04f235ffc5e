"""Template comments: Django's `{# #}` ends on its own line; one left open runs on as text
into every page that uses the template (base.html showed its comment above every page)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(p for p in ROOT.glob("**/templates/**/*") if p.is_file() and ".venv" not in p.parts and "node_modules" not in p.parts)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_short_comment_closes_on_its_line(path):
    text = path.read_text()
    unclosed = [n for n, line in enumerate(text.splitlines(), 1) if re.search(r"\{#(?!.*#\})", line)]
    assert unclosed == [], f"{{# without #}} on the same line (use {{% comment %}}): lines {unclosed}"


def test_the_templates_were_found():
    assert any(p.name == "base.html" for p in TEMPLATES)
