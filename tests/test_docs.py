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


def test_the_configuration_table_is_what_the_settings_read():
    settings = (DOCS.parent / "servicedesk" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', settings))
    section = (DOCS.parent / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in re.findall(r"^\| ([^|]+) \|", section, flags=re.MULTILINE):
        documented |= set(re.findall(r"`([A-Z0-9_]+)`", row))
    assert read - documented == set(), "read by the settings, missing from the README's table"
    assert documented - read == set(), "in the README's table, read by no setting"
