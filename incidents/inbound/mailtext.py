"""The words of an email: HTML made into safe plain text, and a reply's own words without
the quoted history and the signature under them."""

import re
from html.parser import HTMLParser

import nh3

# What the sanitiser keeps: structure that becomes line breaks; everything else (scripts,
# styles, images, links' targets, attributes) is gone before the text is taken.
_KEEP = {
    "p", "br", "div", "span", "li", "ul", "ol", "blockquote", "pre", "code", "table", "tr", "td", "th", "thead",
    "tbody", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "b", "i", "em", "strong", "a", "font", "section", "article",
}  # fmt: skip
_BLOCKS = {"p", "div", "ul", "ol", "blockquote", "pre", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
           "section", "article"}  # fmt: skip


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.quote = 0

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "blockquote":
            self.quote += 1
        if tag == "li":
            self.parts.append("\n- ")
        if tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        text = re.sub(r"\s+", " ", data)
        if self.quote and text.strip():
            text = "> " + text  # a quoted part stays recognisable as a quote
        self.parts.append(text)


def html_to_text(html):
    """Safe plain text of an HTML body: sanitised by nh3 first (scripts, styles, comments
    and every attribute dropped), then the text taken, blocks on their own lines."""
    clean = nh3.clean(html, tags=_KEEP, attributes={}, strip_comments=True, link_rel=None)
    parser = _Text()
    parser.feed(clean)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return _squeeze("\n".join(lines))


def _squeeze(text):
    """No runs of blank lines, none at the ends."""
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Where a reply's own words end: the quoted history a mail client puts under it, or the
# signature. Each is a line (or, for "On ... wrote:", up to three lines wrapped).
_WROTE = re.compile(r"^\s*(On|Le|Am|El|Op|Il)\b.{0,300}?(wrote|a écrit|schrieb|escribió|schreef|ha scritto)\s*:\s*$",
                    re.IGNORECASE | re.DOTALL)  # fmt: skip
_CUTS = (
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),  # Outlook
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above "From: ... Sent: ..."
    re.compile(r"^\s*-{2,}\s*Forwarded message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*From:\s.*\bSent:\s", re.IGNORECASE),
)
_SIGNATURE = re.compile(r"^--\s?$")  # RFC 3676's "-- " (and the "--" that trimming leaves)


def reply_text(text):
    """A reply's own words: everything above the first quote header ("On ... wrote:",
    Outlook's "-----Original Message-----" or its rule) or the signature ("-- "), and
    without the lines quoted with ">"."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = []
    for n, line in enumerate(lines):
        if _SIGNATURE.match(line) or any(cut.match(line) for cut in _CUTS):
            break
        if any(_WROTE.match(" ".join(lines[n : n + k]).strip()) for k in (1, 2, 3)):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return _squeeze("\n".join(kept))
