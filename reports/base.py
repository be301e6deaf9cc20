"""The page template every printed form shares, and `build(form, data, context) -> bytes`.

A form is a small module (see reports/forms/): CODE, EDITION, TITLE, LANDSCAPE and
`story(data, kit) -> list[Flowable]`. This module owns what is the same on every form: the embedded
CJK TrueType font, the company header with the form code and the copy's archive number, the footer
with `第 x 页 / 共 y 页`, who printed it and when, and the verification code (QR + text).

Every PDF is PDF/A-2b by construction (reports/pdfa.py: XMP metadata, sRGB output intent, the print
time as creation date). Output is reproducible: ReportLab's invariant mode fixes the document's id, so
the same data printed with the same print time gives the same bytes (the archive hashes exactly those bytes).
"""

from __future__ import annotations

import io
import itertools
import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from reportlab import rl_config
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import pdfa

rl_config.invariant = 1

FONT_NAME = "KefuCJK"
# TrueType CJK fonts that ReportLab embeds (subset). Noto CJK (CFF outlines) is refused by ReportLab and
# the built-in CID fonts are not embedded, so neither is used. KEFU_CJK_FONT names another file.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
MARGIN = 14 * mm
FRAME_PADDING = 6  # points: ReportLab's Frame pads each side by this much
HEADER_HEIGHT = 24 * mm
FOOTER_HEIGHT = 24 * mm
QR_SIZE = 20 * mm
LINE = colors.black
QR_FORM = "KefuVerificationQR"
# Every table names the font, even one of paragraphs only: ReportLab's default cell style would
# select (and add to the PDF, unembedded) Helvetica.
FONT_ALL = ("FONTNAME", (0, 0), (-1, -1), FONT_NAME)
SHADE = colors.Color(0.92, 0.92, 0.92)


class FontMissing(RuntimeError):
    pass


@lru_cache(maxsize=1)
def font_path() -> str:
    configured = os.environ.get("KEFU_CJK_FONT")
    for path in ((configured,) if configured else FONT_CANDIDATES):
        if path and os.path.exists(path):
            return path
    raise FontMissing("No embeddable Chinese TrueType font found: apt-get install fonts-wqy-microhei "
                      "(or set KEFU_CJK_FONT to a .ttf/.ttc file)")


@lru_cache(maxsize=1)
def register_font() -> str:
    """Register the CJK font once per process; ReportLab embeds the subset of glyphs each PDF uses."""
    pdfmetrics.registerFont(TTFont(FONT_NAME, font_path(), subfontIndex=0))
    return FONT_NAME


@dataclass(frozen=True)
class PrintContext:
    """What the page template prints besides the form's own data."""

    company: str
    archive_number: str
    verify_url: str  # what the QR code encodes
    verify_code: str  # the same code, printed as text
    printed_at: datetime
    printed_by: str
    record: str = ""  # the record printed, e.g. "complaint TS2026-000012" (PDF metadata)
    retention: str = ""  # e.g. 永久 (PDF metadata)


class Kit:
    """Styles and the building blocks forms are made of, in the form's font and page width."""

    def __init__(self, width: float):
        font = register_font()
        self.width = width
        self.text = ParagraphStyle("text", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
        self.small = ParagraphStyle("small", parent=self.text, fontSize=8, leading=10)
        self.title = ParagraphStyle("title", parent=self.text, fontSize=16, leading=22, alignment=1,
                                    spaceAfter=4 * mm)
        self.section_style = ParagraphStyle("section", parent=self.text, fontSize=11, leading=15,
                                            spaceBefore=3 * mm, spaceAfter=1.5 * mm)

    def p(self, value, style=None) -> Paragraph:
        """A wrapping paragraph of plain text (escaped; line breaks kept)."""
        text = "" if value is None else str(value)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")
        return Paragraph(text, style or self.text)

    def heading(self, title: str) -> Paragraph:
        return Paragraph(title, self.title)

    def section(self, title: str) -> Paragraph:
        return self.p(f"■ {title}", self.section_style)

    def grid_style(self, header_rows: int = 0) -> list:
        style = [
            ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("GRID", (0, 0), (-1, -1), 0.5, LINE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if header_rows:
            style += [("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE),
                      ("ALIGN", (0, 0), (-1, header_rows - 1), "CENTER")]
        return style

    def fields(self, pairs: list[tuple[str, object]], columns: int = 2, label_width: float = 28 * mm) -> Table:
        """Label | value cells, `columns` pairs per row; long values wrap."""
        value_width = (self.width - columns * label_width) / columns
        rows, row = [], []
        for label, value in pairs:
            row += [self.p(label, self.small), self.p(value)]
            if len(row) == 2 * columns:
                rows.append(row)
                row = []
        if row:
            rows.append(row + [""] * (2 * columns - len(row)))
        if not rows:
            rows = [[""] * (2 * columns)]
        table = Table(rows, colWidths=[label_width, value_width] * columns)
        style = self.grid_style()
        style += [("BACKGROUND", (c, 0), (c, -1), SHADE) for c in range(0, 2 * columns, 2)]
        table.setStyle(TableStyle(style))
        return table

    def table(self, header: list[str], rows: list[list], widths: list[float],
              wrap: frozenset[int] = frozenset(), row_height: float | None = None) -> RepeatingTable:
        """A table whose header row repeats on every page; columns in `wrap` wrap as paragraphs (the
        others are single lines: cheaper, and what a ledger wants). `row_height` leaves room to write by hand."""
        scale = self.width / sum(widths)
        style = [  # few commands: ReportLab applies each to every cell of every page's table
            ("FONT", (0, 0), (-1, -1), FONT_NAME, 8, 10),
            ("GRID", (0, 0), (-1, -1), 0.5, LINE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ]
        return RepeatingTable([self.p(h, self.small) for h in header], rows, [w * scale for w in widths],
                              style, cell=lambda i, value: self.p(value, self.small) if i in wrap else
                              ("" if value is None else str(value)), row_height=row_height)

    def signatures(self, labels: list[str]) -> Table:
        """Boxes with a label and a date line, left empty for a pen."""
        cells = [[self.p(f"{label}："), Spacer(1, 12 * mm), self.p("日期：　　　年　　月　　日")] for label in labels]
        table = Table([cells], colWidths=[self.width / len(labels)] * len(labels), rowHeights=[24 * mm])
        table.setStyle(TableStyle([FONT_ALL, ("BOX", (0, 0), (-1, -1), 0.5, LINE), ("INNERGRID", (0, 0), (-1, -1), 0.5, LINE),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return table

    def box(self, label: str, height: float, content: str = "") -> Table:
        """A large empty (or filled) box with its label above, for handwriting."""
        table = Table([[self.p(label, self.small)], [self.p(content)]], colWidths=[self.width],
                      rowHeights=[None, height])
        table.setStyle(TableStyle([FONT_ALL, ("BOX", (0, 0), (-1, -1), 0.5, LINE), ("LINEBELOW", (0, 0), (-1, 0), 0.5, LINE),
                                   ("BACKGROUND", (0, 0), (-1, 0), SHADE), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return table

    @staticmethod
    def gap(height: float = 3 * mm) -> Spacer:
        return Spacer(1, height)


class RepeatingTable(Flowable):
    """The rows of a long table, laid out page by page: each page gets a Table of the header and the
    rows that fit there, built from a window of rows just larger than a page can hold. ReportLab's own
    Table would re-measure every remaining row on every page (quadratic in the rows); this stays linear.
    """

    MIN_ROW_HEIGHT = 13  # points (8 pt text on a 10 pt leading, 3.5 pt padding): a page holds no more rows

    def __init__(self, head: list, rows: list[list], widths: list[float], style: list, cell, start: int = 0,
                 row_height: float | None = None):
        super().__init__()
        self.head, self.rows, self.widths, self.style, self.cell, self.start = head, rows, widths, style, cell, start
        self.row_height = row_height
        self._table: Table | None = None
        self._table_height = None
        self._complete = False

    def _window(self, available_height: float) -> Table:
        if self._table is not None and self._table_height == available_height:
            return self._table  # wrap() then split() on the same page: build the window once
        self._table_height = available_height
        count = int(available_height // self.MIN_ROW_HEIGHT) + 1
        chunk = self.rows[self.start:self.start + count]
        body = [[self.cell(i, value) for i, value in enumerate(row)] for row in chunk]
        heights = [None] + [self.row_height] * len(body) if self.row_height else None
        table = Table([self.head, *body], colWidths=self.widths, repeatRows=1, rowHeights=heights)
        table.setStyle(TableStyle(self.style))
        self._complete = self.start + count >= len(self.rows)
        self._table = table
        return table

    def wrap(self, available_width, available_height):
        width, height = self._window(available_height).wrap(available_width, available_height)
        if not self._complete and height <= available_height:
            height = available_height + 1  # more rows follow: ask the frame to split here
        return width, height

    def split(self, available_width, available_height):
        parts = self._window(available_height).split(available_width, available_height)
        if not parts:
            return []
        fitted = len(parts[0]._cellvalues) - 1  # body rows on this page
        if fitted <= 0:
            return []
        rest = RepeatingTable(self.head, self.rows, self.widths, self.style, self.cell, self.start + fitted,
                              self.row_height)
        return [parts[0], rest] if self.start + fitted < len(self.rows) else [parts[0]]

    def draw(self):
        self._table.drawOn(self.canv, 0, 0)


def qr_modules(value: str) -> list[list[bool]]:
    """The QR code's dark modules (ReportLab's own encoder, error correction level M)."""
    widget = QrCodeWidget(value, barLevel="M")
    widget.qr.make()
    return [[bool(module) for module in row] for row in widget.qr.modules]


def draw_qr(canvas, modules: list[list[bool]], size: float = QR_SIZE, border: int = 2) -> None:
    """The code as filled rectangles, one per run of dark modules, with a quiet zone around it."""
    box = size / (len(modules) + 2 * border)
    canvas.setFillColor(colors.black)
    for r, row in enumerate(modules):
        c = 0
        for dark, run in itertools.groupby(row):
            count = len(list(run))
            if dark:
                canvas.rect((c + border) * box, size - (r + border + 1) * box, count * box, box, stroke=0, fill=1)
            c += count


def _canvas_class(form, context: PrintContext):
    """A canvas that keeps every page until the end, so that the footer can say `共 y 页`."""
    modules = qr_modules(context.verify_url)
    facts = pdfa.ArchiveFacts(context.archive_number, f"{form.CODE} {form.EDITION}", context.record,
                              context.retention)

    class FormCanvas(pdf_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["initialFontName"] = FONT_NAME  # else ReportLab adds an unembedded Helvetica
            kwargs["pdfVersion"] = pdfa.PDF_VERSION
            super().__init__(*args, **kwargs)
            pdfa.apply(self, context.printed_at, facts)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                if number == 1:  # the QR code is drawn once, as a form every page refers to
                    self.beginForm(QR_FORM)
                    draw_qr(self, modules)
                    self.endForm()
                draw_frame(self, form, context, number, total)
                super().showPage()
            super().save()

    return FormCanvas


def draw_frame(canvas, form, context: PrintContext, page: int, total: int) -> None:
    width, height = canvas._pagesize
    font = FONT_NAME
    top = height - MARGIN
    canvas.saveState()
    canvas.setFont(font, 10)
    canvas.drawString(MARGIN, top - 10, context.company)
    canvas.setFont(font, 9)
    canvas.drawRightString(width - MARGIN, top - 10, f"表单编号：{form.CODE} {form.EDITION}")
    canvas.drawRightString(width - MARGIN, top - 23, f"档案号：{context.archive_number}")
    canvas.setFont(font, 12)
    canvas.drawString(MARGIN, top - 24, form.TITLE)
    canvas.setLineWidth(0.8)
    canvas.line(MARGIN, top - 30, width - MARGIN, top - 30)

    bottom = MARGIN
    canvas.line(MARGIN, bottom + QR_SIZE + 3, width - MARGIN, bottom + QR_SIZE + 3)
    canvas.setFont(font, 9)
    canvas.drawString(MARGIN, bottom + QR_SIZE - 10, f"第 {page} 页 / 共 {total} 页")
    canvas.setFont(font, 8)
    canvas.drawString(MARGIN, bottom + QR_SIZE - 24,
                      f"打印：{context.printed_by}　{context.printed_at:%Y-%m-%d %H:%M}")
    canvas.drawString(MARGIN, bottom + QR_SIZE - 36, f"验证码：{context.archive_number} {context.verify_code}")
    canvas.drawRightString(width - MARGIN - QR_SIZE - 4, bottom + QR_SIZE - 24, "扫码核验本页与归档文件是否一致")
    canvas.drawRightString(width - MARGIN - QR_SIZE - 4, bottom + QR_SIZE - 36, context.verify_url)
    canvas.translate(width - MARGIN - QR_SIZE, bottom)
    canvas.doForm(QR_FORM)
    canvas.restoreState()


def page_size(form):
    return landscape(A4) if getattr(form, "LANDSCAPE", False) else A4


def frame_width(form) -> float:
    return page_size(form)[0] - 2 * MARGIN


@dataclass(frozen=True)
class Printed:
    pdf: bytes
    pages: int


def metadata_keywords(form, context: PrintContext) -> str:
    """The Info dictionary's Keywords (and XMP pdf:Keywords): what an archivist searches a file by."""
    parts = [context.archive_number, f"{form.CODE} {form.EDITION}", context.record, context.retention]
    return "; ".join(part for part in parts if part)


def build(form, data, context: PrintContext) -> Printed:
    """Render one form to PDF bytes (A4, the form's orientation, CJK font embedded as a subset)."""
    register_font()
    size = page_size(form)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=size, leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_HEIGHT - 8 * mm, bottomMargin=MARGIN + FOOTER_HEIGHT,
        title=f"{form.TITLE} {context.archive_number}", author=context.company, subject=form.CODE,
        creator="Kefu", invariant=1, lang=pdfa.LANG, enforceColorSpace="rgb",
        keywords=metadata_keywords(form, context),
    )
    kit = Kit(doc.width - 2 * FRAME_PADDING)  # what the frame holds: tables then line up edge to edge
    story = form.story(data, kit)
    canvas_class = _canvas_class(form, context)
    doc.build(story, canvasmaker=canvas_class)
    pdf = buffer.getvalue()
    return Printed(pdf, doc.page)
