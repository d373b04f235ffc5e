"""Every colour pair of the stylesheet meets WCAG AA: 4.5:1 for text, 3:1 for the chart's
bars against the card. Rules that set both a colour and a background are found in the
CSS itself; text that inherits its background is listed below."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "static" / "css" / "firebreak.css").read_text()
VARIABLES = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", CSS))

# (what, text, background): text drawn on a background it inherits.
INHERITED = [
    ("body text", "var(--text)", "var(--bg)"),
    ("muted text on the page", "var(--muted)", "var(--bg)"),
    ("muted text on a card", "var(--muted)", "var(--surface)"),
    ("links on the page", "var(--link)", "var(--bg)"),
    ("links on a card", "var(--link)", "var(--surface)"),
    ("errors on a card", "var(--bad)", "var(--surface)"),
    ("warnings on a card", "var(--warn)", "var(--surface)"),
    ("navigation links", "#dfe5ec", "#1c2430"),
    ("muted text in the header", "#b8c2cd", "#1c2430"),
    ("chart labels", "#5a6472", "#ffffff"),
]
GRAPHICS = [("created bars", "#1f4fb5", "#ffffff"), ("resolved bars", "#5b8fd0", "#ffffff")]


def _hex(value):
    value = value.strip()
    match = re.match(r"var\(--([\w-]+)\)", value)
    if match:
        return VARIABLES.get(match.group(1))
    match = re.match(r"(#[0-9a-fA-F]{3,6})\b", value)
    return match.group(1) if match else None


def _luminance(colour):
    colour = colour.lstrip("#")
    if len(colour) == 3:
        colour = "".join(c * 2 for c in colour)
    channels = [int(colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    high, low = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rule_pairs():
    pairs = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS):
        text = re.search(r"(?<![-\w])color:\s*([^;]+)", body)
        background = re.search(r"background(?:-color)?:\s*([^;]+)", body)
        if text and background and _hex(text.group(1)) and _hex(background.group(1)):
            pairs.append((" ".join(selector.split()), _hex(text.group(1)), _hex(background.group(1))))
    return pairs


def test_the_stylesheet_has_colour_pairs_to_check():
    assert len(_rule_pairs()) > 20


@pytest.mark.parametrize(("what", "text", "background"), _rule_pairs() + [
    (what, _hex(text), _hex(background)) for what, text, background in INHERITED
])
def test_text_meets_wcag_aa(what, text, background):
    assert contrast(text, background) >= 4.5, f"{what}: {text} on {background} is {contrast(text, background):.2f}:1"


@pytest.mark.parametrize(("what", "colour", "background"), GRAPHICS)
def test_chart_bars_meet_the_graphics_contrast(what, colour, background):
    assert contrast(colour, background) >= 3, what


def test_the_p2_badge_meets_aa():
    p2 = next(pair for pair in _rule_pairs() if pair[0] == ".prio-2")
    assert contrast(p2[1], p2[2]) >= 4.5
