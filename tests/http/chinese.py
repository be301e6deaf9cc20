"""What a person reads on a page, and the English in it (issue 14 item 1).

`visible_texts(page)` is the text a browser shows (scripts, styles and comments left out) plus the
attributes a person reads: `title`, `placeholder`, `aria-label`, `alt` and the value of a button.
`english(text)` lists the words of Latin letters left in it once the allowlist is taken out: proper
names, units, codes that are part of a number (`TS2026-000123`), file extensions and the few
abbreviations Chinese pages use as they are. Anything else in Latin letters (`Cancel`, `None`,
`True`, `SALES`, `front_desk`) is English or a raw code, and a finding.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Read as text by a person: these attributes, and a button's value.
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
BUTTON_TYPES = frozenset({"submit", "button", "reset"})
# Not read: their content is code or not drawn.
SILENT_TAGS = frozenset({"script", "style", "template"})

# Words a Chinese page writes in Latin letters, and why each may stay.
ALLOWED_WORDS = frozenset({
    "PDF", "QR", "API", "ID", "URL", "CSV", "JSON", "XMP", "ICC", "xlsx",  # formats and abbreviations used as they are
    "Excel",  # the spreadsheet program clerks know by this name (a proper name)
    "SHA", "SM3", "HMAC", "ISO", "A4",  # hash names and standard numbers
    "Kefu",  # the product's name
    "English",  # the language menu names each language in its own language
    "chinesecalendar",  # the name of the package the holiday calendar comes from (a proper name)
    "kb", "KB", "MB", "GB", "km", "m", "cm", "mm", "kg", "h", "min",  # units
})
# A token that is part of a number or a code: letters fused with digits (TS2026-000123, KF-2026-000001,
# 3栋, 12345), a hash or its prefix, a file name with its extension, an e-mail address, a URL.
ALLOWED_PATTERNS = (
    re.compile(r"[\w./-]+\.(?:pdf|png|jpe?g|gif|webp|txt|csv|xlsx?|docx?|heic)\b", re.I),  # a file name
    re.compile(r"\b[0-9A-F]{4}(?:-[0-9A-F]{4}){2,}\b"),  # a printed form's verification code: 218F-F937-680A-C17E
    re.compile(r"\b[A-Z]{1,6}(?:/[A-Z]{1,6})?-?\d[\w-]*"),  # a number with its prefix: TS2026-000123, KF/QR-02
    re.compile(r"[\d*]{6,}X\b"),  # an ID-card number (masked or not) whose check digit is X
    re.compile(r"\b[0-9a-f]{6,}\b"),  # a hash or its prefix (SHA-256 / SM3 hex; a test record's tag)
    re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),  # an e-mail address
    re.compile(r"\b(?:PDF/A(?:-\d[a-z]?)?|DA/T|GB/T)"),  # standards named by their code (PDF/A-2b, GB/T 19012)
    re.compile(r"`[^`]+`"),  # a command quoted to be typed as it is: `flask --app run calendar seed`
    re.compile(r"\bhttps?://\S+"),  # an address (a QR code's, the verification URL)
    re.compile(r"\b\d+(?:\.\d+)?\s?(?:kb|KB|MB|GB|m²|㎡)"),  # a size or an area
)
VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                       "track", "wbr"})
WORD = re.compile(r"[A-Za-z][A-Za-z_']*")


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []
        self._open: list[tuple[str, bool]] = []  # (tag, quiet): quiet = not read, or a marked code

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        quiet = tag in SILENT_TAGS or a.get("translate") == "no"  # translate="no": a code, meant as is
        if not quiet and not self.quiet:
            for name in READ_ATTRIBUTES:
                if a.get(name):
                    self.found.append((f"<{tag} {name}>", a[name]))
            if tag == "input" and (a.get("type") or "").lower() in BUTTON_TYPES and a.get("value"):
                self.found.append((f"<{tag} value>", a["value"]))
        if tag not in VOID_TAGS:
            self._open.append((tag, quiet))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self._open.pop()

    def handle_endtag(self, tag):
        if any(t == tag for t, _ in self._open):  # tolerate an unclosed <p>/<li>: close up to the tag
            while self._open.pop()[0] != tag:
                pass

    @property
    def quiet(self) -> bool:
        return any(q for _, q in self._open)

    def handle_data(self, data):
        if data.strip() and not self.quiet:
            where = self._open[-1][0] if self._open else "text"
            self.found.append((f"<{where}>", data.strip()))


def visible_texts(page: str) -> list[tuple[str, str]]:
    """(where, text) of everything a person reads on the page."""
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader.found


def english(text: str) -> list[str]:
    """The words of `text` that are English or raw codes (outside the allowlist)."""
    for pattern in ALLOWED_PATTERNS:
        text = pattern.sub(" ", text)
    return [w for w in WORD.findall(text) if w not in ALLOWED_WORDS and w.strip("'") not in ALLOWED_WORDS]


def findings(page: str) -> list[tuple[str, str, list[str]]]:
    """(where, text, English words) for every piece of the page's readable text holding English."""
    out = []
    for where, text in visible_texts(page):
        words = english(text)
        if words:
            out.append((where, text[:120], words))
    return out
