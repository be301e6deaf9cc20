"""Reading a printed PDF's geometry back with pdfplumber: where each character is drawn, in which font,
and whether it stays inside its cell, inside the page's body frame, and off the header and footer.

The page template (reports/base.py) fixes three zones on every page: the header above the body frame,
the body frame, and the footer below the footer rule. Everything a form's story draws lies in the frame;
everything in the header and footer zones is the template's. A character or line that straddles two zones
is drawn over what the other zone holds.
"""

from __future__ import annotations

import io
import re
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass

import pdfplumber
import pikepdf
from fontTools.ttLib import TTFont as FontFile

from reports import base

TOLERANCE = 0.6  # points: rounding in the PDF's numbers and anti-aliasing, far less than a character


@dataclass
class Page:
    number: int
    width: float
    height: float
    chars: list[dict]
    edges: list[dict]  # lines and the sides of rectangles: cell borders and backgrounds
    graphics: list[dict]  # lines and rectangles as drawn


def read(pdf: bytes) -> list[Page]:
    pages = []
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            pages.append(Page(page.page_number, float(page.width), float(page.height),
                              [c for c in page.chars if c["text"].strip()], list(page.edges),
                              list(page.lines) + list(page.rects)))
    return pages


def zones(page: Page) -> dict[str, tuple[float, float]]:
    """(bottom, top) of each zone in PDF coordinates (y up), from the page template's constants."""
    frame_bottom = base.MARGIN + base.FOOTER_HEIGHT
    frame_top = page.height - (base.MARGIN + base.HEADER_HEIGHT - 8 * base.mm)
    footer_rule = base.MARGIN + base.QR_SIZE + 3
    return {"footer": (0, footer_rule), "body": (frame_bottom, frame_top), "header": (frame_top, page.height)}


def zone_of(page: Page, bottom: float, top: float) -> str | None:
    for name, (low, high) in zones(page).items():
        if bottom >= low - TOLERANCE and top <= high + TOLERANCE:
            return name
    return None


def text_counts(pages: list[Page]) -> Counter:
    return Counter(c["text"] for page in pages for c in page.chars)


def missing_characters(record_texts: list[str], pages: list[Page]) -> Counter:
    """Characters of the record (whitespace aside) that the PDF holds fewer times than the record."""
    wanted = Counter(ch for text in record_texts for ch in text if not ch.isspace())
    return wanted - text_counts(pages)


def zone_problems(pages: list[Page]) -> list[str]:
    """Characters and graphics that lie across zones or outside the page's margins."""
    problems = []
    for page in pages:
        left, right = base.MARGIN, page.width - base.MARGIN
        for c in page.chars:
            where = zone_of(page, c["y0"], c["y1"])
            if where is None or c["x0"] < left - TOLERANCE or c["x1"] > right + TOLERANCE:
                problems.append(f"page {page.number}: {c['text']!r} at x {c['x0']:.1f}–{c['x1']:.1f}, "
                                f"y {c['y0']:.1f}–{c['y1']:.1f} lies across zones or outside the margins")
        for g in page.graphics:
            if zone_of(page, g["y0"], g["y1"]) is None:
                problems.append(f"page {page.number}: a {g['object_type']} at y {g['y0']:.1f}–{g['y1']:.1f} "
                                "is drawn across the body frame and the header or footer")
    return problems


def crossing_problems(pages: list[Page]) -> list[str]:
    """Characters that a cell border runs through: text leaving its cell for the next one."""
    problems = []
    for page in pages:
        vertical = sorted((e["x0"], e["y0"], e["y1"]) for e in page.edges if e["orientation"] == "v")
        horizontal = sorted((e["y0"], e["x0"], e["x1"]) for e in page.edges if e["orientation"] == "h")
        vx, hy = [e[0] for e in vertical], [e[0] for e in horizontal]
        for c in page.chars:
            x0, x1, y0, y1 = c["x0"] + TOLERANCE, c["x1"] - TOLERANCE, c["y0"] + TOLERANCE, c["y1"] - TOLERANCE
            crossed = [f"a cell border at x {x:.1f}" for x, low, high in
                       vertical[bisect_right(vx, x0):bisect_left(vx, x1)] if min(y1, high) - max(y0, low) > 0]
            crossed += [f"a cell border at y {y:.1f}" for y, low, high in
                        horizontal[bisect_right(hy, y0):bisect_left(hy, y1)] if min(x1, high) - max(x0, low) > 0]
            if crossed:
                problems.append(f"page {page.number}: {crossed[0]} runs through {c['text']!r} "
                                f"(x {c['x0']:.1f}–{c['x1']:.1f}, y {c['y0']:.1f}–{c['y1']:.1f})")
    return problems


def overlap_problems(pages: list[Page]) -> list[str]:
    """Characters drawn over one another: text overprinting other text."""
    problems = []
    for page in pages:
        buckets = defaultdict(list)
        for c in page.chars:
            for bx in range(int(c["x0"] // 20), int(c["x1"] // 20) + 1):
                for by in range(int(c["y0"] // 20), int(c["y1"] // 20) + 1):
                    buckets[bx, by].append(c)
        seen = set()
        for chars in buckets.values():
            for i, a in enumerate(chars):
                for b in chars[i + 1:]:
                    w = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
                    h = min(a["y1"], b["y1"]) - max(a["y0"], b["y0"])
                    # Neighbours on a line touch and lines may touch; a real overprint covers a good part
                    # of the smaller character both ways.
                    small = min(a["x1"] - a["x0"], b["x1"] - b["x0"]), min(a["size"], b["size"])
                    if w > 0.3 * small[0] and h > 0.3 * small[1] and (id(a), id(b)) not in seen:
                        seen.add((id(a), id(b)))
                        problems.append(f"page {page.number}: {a['text']!r} and {b['text']!r} overprint at "
                                        f"x {a['x0']:.1f}, y {a['y0']:.1f}")
    return problems


def all_problems(pages: list[Page]) -> list[str]:
    return zone_problems(pages) + crossing_problems(pages) + overlap_problems(pages)


def _to_unicode(cmap: bytes) -> dict[int, str]:
    """A ToUnicode CMap's bfchar entries: character code → text (UTF-16BE, surrogate pairs included)."""
    found = {}
    for code, text in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", cmap.split(b"beginbfchar", 1)[-1]):
        found[int(code, 16)] = bytes.fromhex(text.decode()).decode("utf-16-be")
    return found


def glyphs_by_font(pdf: bytes) -> dict[str, set[str]]:
    """For each font embedded in the PDF (by its BaseFont name, as pdfplumber reports it), the characters
    its embedded file has a real glyph for: the code that ToUnicode gives the character maps, through the
    embedded font's own cmap, to a glyph other than .notdef (glyph 0, the empty box)."""
    found: dict[str, set[str]] = defaultdict(set)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            for _name, font in page.Resources.get("/Font", {}).items():
                file = font.get("/FontDescriptor", {}).get("/FontFile2")
                if file is None or "/ToUnicode" not in font:
                    continue  # not an embedded TrueType font: none of its characters count
                embedded = FontFile(io.BytesIO(file.read_bytes()))
                cmap = {}
                for table in embedded["cmap"].tables:
                    cmap.update(table.cmap)
                for code, text in _to_unicode(font.ToUnicode.read_bytes()).items():
                    glyph = cmap.get(code)
                    if glyph is not None and embedded.getGlyphID(glyph) != 0:
                        found[str(font.BaseFont)[1:]].add(text)
    return found


def font_problems(pdf: bytes, pages: list[Page]) -> list[str]:
    """Characters drawn in a font whose embedded character map has no glyph for them."""
    glyphs = glyphs_by_font(pdf)
    return [f"page {page.number}: {c['text']!r} (U+{ord(c['text'][0]):04X}) is drawn in {c['fontname']}, "
            "which has no glyph for it" for page in pages for c in page.chars if c["text"] not in glyphs[c["fontname"]]]
