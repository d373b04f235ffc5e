"""The design notes stay true where they can drift: the permission table is the policy's."""

import re
from pathlib import Path

from skills.policy import LEVELS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_permission_table_is_the_policy_table():
    text = (DOCS / "permissions.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d) \|", text, flags=re.MULTILINE))
    assert {action: int(level) for action, level in rows.items()} == {a.value: level for a, level in LEVELS.items()}


def test_no_design_note_links_outside_the_repository():
    for note in [*DOCS.glob("*.md"), DOCS.parent / "README.md"]:
        for target in re.findall(r"\]\(([^)#]+)", note.read_text()):
            assert not target.startswith(("http:", "https:", "../", "/")), f"{note.name} links out: {target}"
            assert (note.parent / target).exists(), f"{note.name} links to a missing file: {target}"
