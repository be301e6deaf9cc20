"""The fonts printed forms are set in, and per-character fallback between them.

The main font (WenQuanYi Micro Hei, or KEFU_CJK_FONT) lacks characters that real Chinese names use —
CJK Extension A (䶮 U+4DAE, 㛃 U+36C3) and the supplementary planes (𠮷 U+20BB7, 𡒄 U+21484). Each such
character is set in the first fallback TrueType font whose character map (cmap) has it: Debian's
fonts-hanazono (HanaMinA: BMP incl. Extension A; HanaMinB: Extension B and beyond). `runs()` is the one
place that decides, character by character; `markup()` (paragraphs) and `wrap_lines()` (table cells) use it.
Fallback fonts are loaded only when a text first needs them (a ledger of common names never does).
"""

from __future__ import annotations

import os
import re
from functools import cache, lru_cache
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

MAIN = "KefuCJK"
# TrueType CJK fonts that ReportLab embeds (subset). Noto CJK (CFF outlines) is refused by ReportLab and
# the built-in CID fonts are not embedded, so neither is used. KEFU_CJK_FONT names another file.
MAIN_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# (name, file): tried in this order for a character the main font lacks (apt-get install fonts-hanazono).
FALLBACKS = (
    ("KefuHanaMinA", "/usr/share/fonts/truetype/hanazono/HanaMinA.ttf"),
    ("KefuHanaMinB", "/usr/share/fonts/truetype/hanazono/HanaMinB.ttf"),
)
# Characters that are layout, not text: a line break is kept, the other control characters print as a space.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def font_path() -> str:
    configured = os.environ.get("KEFU_CJK_FONT")
    for path in ((configured,) if configured else MAIN_CANDIDATES):
        if path and os.path.exists(path):
            return path
    raise FontMissing("No embeddable Chinese TrueType font found: apt-get install fonts-wqy-microhei "
                      "(or set KEFU_CJK_FONT to a .ttf/.ttc file)")


def _to_unicode_cmap(fontname, subset):
    """ReportLab's ToUnicode CMap, but a character beyond U+FFFF is written as its UTF-16 surrogate pair
    (ReportLab writes `<20BB7>`, which readers take as U+20BB then 7: 𠮷 would not copy or search)."""
    def utf16(code: int) -> str:
        return chr(code).encode("utf-16-be").hex().upper()

    return "\n".join([
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap", "/CIDSystemInfo",
        f"<< /Registry ({fontname})", f"/Ordering ({fontname})", "/Supplement 0", ">> def",
        f"/CMapName /{fontname} def", "/CMapType 2 def", "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>", "endcodespacerange", f"{len(subset)} beginbfchar",
        *(f"<{i:02X}> <{utf16(v)}>" for i, v in enumerate(subset)),
        "endbfchar", "endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"])


ttfonts.makeToUnicodeCMap = _to_unicode_cmap  # looked up by name when ReportLab writes each subset


def _charset(font: TTFont) -> frozenset[str]:
    return frozenset(chr(code) for code, glyph in font.face.charToGlyph.items() if glyph)


@lru_cache(maxsize=1)
def register() -> str:
    """Register the main font once per process; ReportLab embeds the subset of glyphs each PDF uses."""
    pdfmetrics.registerFont(TTFont(MAIN, font_path(), subfontIndex=0))
    return MAIN


@lru_cache(maxsize=1)
def main_chars() -> frozenset[str]:
    return _charset(pdfmetrics.getFont(register()))


@cache
def _fallback(index: int) -> tuple[str, frozenset[str]] | None:
    name, path = FALLBACKS[index]
    if not os.path.exists(path):
        return None
    font = TTFont(name, path)
    pdfmetrics.registerFont(font)
    return name, _charset(font)


@lru_cache(maxsize=4096)
def font_of(char: str) -> str:
    """The font a character is set in: the main font if it has it, else the first fallback that has it
    (else the main font, which then prints its .notdef box: nothing installed has the character)."""
    if char in main_chars():
        return MAIN
    for index in range(len(FALLBACKS)):
        found = _fallback(index)
        if found and char in found[1]:
            return found[0]
    return MAIN


def clean(text) -> str:
    return _CONTROL.sub(" ", "" if text is None else str(text))


def runs(text: str) -> list[tuple[str, str]]:
    """The text as (font name, characters) runs, each character in a font whose cmap has it."""
    register()
    if main_chars().issuperset(text):
        return [(MAIN, text)] if text else []
    out: list[tuple[str, str]] = []
    for char in text:
        font = font_of(char)
        if out and out[-1][0] == font:
            out[-1] = (font, out[-1][1] + char)
        else:
            out.append((font, char))
    return out


def markup(text) -> str:
    """Plain text as Paragraph markup: escaped, line breaks kept, fallback runs in <font name=...>."""
    lines = []
    for line in clean(text).split("\n"):
        lines.append("".join(escape(chunk) if font == MAIN else f'<font name="{font}">{escape(chunk)}</font>'
                             for font, chunk in runs(line)))
    return "<br/>".join(lines)


# --- line breaking for table cells ----------------------------------------------------------------------

# A break may fall anywhere between two CJK characters; a run of other characters (a Latin word, a number,
# ASCII punctuation) stays together with its trailing spaces unless it alone is wider than the line.
# Closing punctuation that Chinese typesetting never puts at the start of a line.
NO_LINE_START = frozenset("，。、；：！？）》」』】〕〉”’…—·％．),.;:!?%]}")
# Opening punctuation never ends a line: it goes down with the character it opens.
NO_LINE_END = frozenset("（《「『【〔〈“‘([{")
_TOKEN = re.compile(r"[\u0021-\u2e7f\uff61-\uffdc]+ *| +|.", re.S)


@lru_cache(maxsize=65536)
def _char_width(char: str, size: float) -> float:
    return pdfmetrics.stringWidth(char, font_of(char), size)


def text_width(text: str, size: float) -> float:
    if main_chars().issuperset(text):
        return pdfmetrics.stringWidth(text, MAIN, size)
    return sum(_char_width(c, size) for c in text)


def _openers_down(line: str, carry: str) -> tuple[str, str]:
    """A line about to end gives its trailing opening punctuation (（《“) to the next line's `carry`:
    an opening mark goes down with what it opens (unless it is all the line holds)."""
    line = line.rstrip(" ")
    while len(line) > 1 and line[-1] in NO_LINE_END:
        line, carry = line[:-1].rstrip(" "), line[-1] + carry
    return line, carry


@lru_cache(maxsize=65536)
def wrap_lines(text: str, width: float, size: float) -> tuple[str, ...]:
    """`text` broken into lines no wider than `width` at `size` points (greedy; line breaks kept; spaces at
    the end of a line dropped). Cached: a ledger repeats most of its values."""
    lines: list[str] = []
    for para in clean(text).split("\n"):
        if "\n" not in para and text_width(para, size) <= width:
            lines.append(para.rstrip(" "))
            continue
        line, used = "", 0.0
        for token in _TOKEN.findall(para):
            w = text_width(token, size)
            if used + text_width(token.rstrip(" "), size) <= width:
                line, used = line + token, used + w
                continue
            carry = ""
            if line.strip(" "):
                line = line.rstrip(" ")  # the spaces before a break are the break
                if token[0] in NO_LINE_START and len(line) > 1 and ord(line[-1]) >= 0x2E80 \
                        and line[-1] not in NO_LINE_START:
                    line, carry = line[:-1], line[-1]  # 。 never starts a line: its character goes with it
                line, carry = _openers_down(line, carry)
                lines.append(line)
                line, used = "", 0.0
            if token.strip(" ") == "":
                continue  # spaces at a break are the break
            if text_width(carry + token.rstrip(" "), size) <= width:
                line, used = carry + token, text_width(carry, size) + w
                continue
            line, used = carry, text_width(carry, size)
            for char in token:  # a word wider than the line: break it between characters
                cw = _char_width(char, size)
                if used + cw > width and line:
                    line, carry = _openers_down(line, "")
                    lines.append(line)
                    line, used = carry, text_width(carry, size)
                line, used = line + char, used + cw
        lines.append(line.rstrip(" "))
    return tuple(lines)
