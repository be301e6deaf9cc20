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
from dataclasses import dataclass
from datetime import datetime

from reportlab import rl_config
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from . import fonts, pdfa

rl_config.invariant = 1

FONT_NAME = fonts.MAIN
FONT_CANDIDATES = fonts.MAIN_CANDIDATES
FontMissing = fonts.FontMissing
font_path = fonts.font_path
register_font = fonts.register
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


@dataclass(frozen=True)
class Column:
    """How one column's text is set: size and leading in points, alignment, shaded (a label column)."""

    size: float = 8
    leading: float = 10
    align: str = "LEFT"
    shaded: bool = False


SMALL = Column(8, 10)
TEXT = Column(9.5, 13)
PAD_X, PAD_TOP, PAD_BOTTOM = 3, 1.5, 2.5  # cell padding; the bottom one holds the descenders of the last line


class Grid:
    """What every page's piece of one table shares: columns, widths, the header row, the least height of a
    row (room to write by hand), and the cells already laid out. A row is laid out as one or more pieces:
    each cell's text broken into lines that fit its column, and a row taller than MAX_PIECE points cut
    between lines into pieces, so that a row of any length flows over pages and no piece outgrows one.
    A cell is the tuple of its lines."""

    MAX_PIECE = 120  # points; a page's frame is never lower than three of them

    def __init__(self, head: list | None, widths: list[float], columns: list[Column], head_column: Column = SMALL,
                 min_height: float | None = None):
        self.widths, self.columns, self.min_height = widths, columns, min_height
        self.head_column = head_column
        self.head = None
        self.head_height = 0.0
        if head is not None:
            self.head = [self._lines(value, c, head_column) for c, value in enumerate(head)]
            self.head_height = max(max(1, len(lines)) for lines in self.head) * head_column.leading \
                + PAD_TOP + PAD_BOTTOM
        self.per_piece = [max(1, int((self.MAX_PIECE - PAD_TOP - PAD_BOTTOM) // col.leading)) for col in columns]
        self.cache: dict[int, list] = {}

    def _lines(self, value, c: int, column: Column) -> tuple[str, ...]:
        text = "" if value is None else str(value)
        return fonts.wrap_lines(text, self.widths[c] - 2 * PAD_X, column.size) if text else ()

    def pieces(self, index: int, row: list) -> list[tuple[list, float]]:
        """Row `index` as (cells, height) pieces, cached until the row is printed."""
        found = self.cache.get(index)
        if found is not None:
            return found
        columns = self.columns
        lines = [self._lines(value, c, columns[c]) for c, value in enumerate(row)]
        if all(len(part) <= self.per_piece[c] for c, part in enumerate(lines)):  # the usual row: one piece
            pieces = [(lines, max(max(1, len(part)) * columns[c].leading for c, part in enumerate(lines))
                       + PAD_TOP + PAD_BOTTOM)]
        else:
            count = max(-(-len(part) // self.per_piece[c]) for c, part in enumerate(lines))
            pieces = []
            for j in range(count):
                cells = [part[j * self.per_piece[c]:(j + 1) * self.per_piece[c]] for c, part in enumerate(lines)]
                height = max(max(1, len(chunk)) * columns[c].leading for c, chunk in enumerate(cells))
                pieces.append((cells, height + PAD_TOP + PAD_BOTTOM))
        if self.min_height:
            short = self.min_height - sum(height for _cells, height in pieces)
            if short > 0:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + short)
        self.cache[index] = pieces
        return pieces


class GridPage(Flowable):
    """One page's piece of a grid — the header and the row pieces that fit — drawn directly: the cells'
    text as one text object, then the shading and the rules. ReportLab's Table would style every cell and
    draw each one with a text object of its own: two thirds of a long ledger's time, for the same marks."""

    def __init__(self, grid: Grid, rows: list[list[tuple[str, ...]]], heights: list[float], row_ends: list[int]):
        super().__init__()
        self.grid, self.rows, self.heights, self.row_ends = grid, rows, heights, row_ends
        self.width, self.height = sum(grid.widths), sum(heights)

    def wrap(self, available_width, available_height):
        return self.width, self.height

    def draw(self):
        canv, grid = self.canv, self.grid
        xs = list(itertools.accumulate([0.0] + grid.widths))
        tops = list(itertools.accumulate([self.height] + [-h for h in self.heights]))
        first = 1 if grid.head is not None else 0
        canv.saveState()
        canv.setFillColor(SHADE)
        if first:
            canv.rect(0, tops[1], self.width, self.heights[0], stroke=0, fill=1)
        for c, column in enumerate(grid.columns):
            if column.shaded and len(self.rows) > first:
                canv.rect(xs[c], 0, grid.widths[c], tops[first], stroke=0, fill=1)
        canv.setFillColor(colors.black)
        text, current = canv.beginText(), None
        for r, cells in enumerate(self.rows):
            for c, lines in enumerate(cells):
                column = grid.head_column if r < first else grid.columns[c]
                y = tops[r] - PAD_TOP - column.size
                for line in lines:
                    x = xs[c] + PAD_X
                    if column.align != "LEFT":
                        spare = grid.widths[c] - 2 * PAD_X - fonts.text_width(line, column.size)
                        x += spare / 2 if column.align == "CENTER" else spare
                    text.setTextOrigin(x, y)
                    for font, chunk in fonts.runs(line):
                        if current != (font, column.size):
                            current = (font, column.size)
                            text.setFont(font, column.size, column.leading)
                        text.textOut(chunk)
                    y -= column.leading
        canv.drawText(text)
        canv.setStrokeColor(LINE)
        canv.setLineWidth(0.5)
        for x in xs[1:-1]:
            canv.line(x, 0, x, self.height)
        for r in ([0] if first else []) + self.row_ends:
            canv.line(0, tops[r + 1], self.width, tops[r + 1])
        canv.rect(0, 0, self.width, self.height, stroke=1, fill=0)
        canv.restoreState()


class RepeatingTable(Flowable):
    """The rows of a table, laid out page by page: each page gets a GridPage of the header and the row
    pieces that fit there (heights known in advance, so nothing is measured twice). ReportLab's own Table
    would re-measure every remaining row on every page (quadratic in the rows), and cannot split inside a
    row; this stays linear and splits a long row between its lines."""

    def __init__(self, grid: Grid, rows: list[list], start: int = 0, piece: int = 0):
        super().__init__()
        self.grid, self.rows, self.start, self.piece = grid, rows, start, piece
        self._page: GridPage | None = None
        self._page_height = None
        self._next = (start, piece)

    def _window(self, available_height: float) -> GridPage:
        if self._page is not None and self._page_height == available_height:
            return self._page  # wrap() then split() on the same page: lay the window out once
        grid = self.grid
        self._page_height = available_height
        used = grid.head_height
        cells, heights, row_ends = [], [], []
        index, piece = self.start, self.piece
        while index < len(self.rows):
            pieces = grid.pieces(index, self.rows[index])
            row_cells, height = pieces[piece]
            if used + height > available_height:
                break
            cells.append(row_cells)
            heights.append(height)
            used += height
            piece += 1
            if piece == len(pieces):
                row_ends.append(len(cells) - (0 if grid.head is not None else 1))
                index, piece = index + 1, 0
        self._next = (index, piece)
        self._fitted = len(cells)
        if grid.head is not None:
            cells, heights = [grid.head] + cells, [grid.head_height] + heights
        if not cells:
            cells, heights = [[()] * len(grid.widths)], [0]
        self._page = GridPage(grid, cells, heights, row_ends)
        return self._page

    @property
    def _complete(self) -> bool:
        return self._next[0] >= len(self.rows)

    def wrap(self, available_width, available_height):
        width, height = self._window(available_height).wrap(available_width, available_height)
        if not self._complete or (self._fitted == 0 and self.rows):
            height = available_height + 1  # more rows follow: ask the frame to split here
        return width, height

    def split(self, available_width, available_height):
        page = self._window(available_height)
        if self._fitted == 0:
            return []  # not even one piece of a row fits under the header here: start on the next page
        for index in range(self.start, self._next[0]):
            self.grid.cache.pop(index, None)  # printed: let the memory go
        if self._complete:
            return [page]
        return [page, RepeatingTable(self.grid, self.rows, *self._next)]

    def draw(self):
        self._page.drawOn(self.canv, 0, 0)


class Kit:
    """Styles and the building blocks forms are made of, in the form's font and page width. Every block
    that holds a record's text flows: its text wraps inside its cell and continues on the next page."""

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
        """A wrapping paragraph of plain text (escaped; line breaks kept; rare characters in a fallback font)."""
        return Paragraph(fonts.markup(value), style or self.text)

    def heading(self, title: str) -> Paragraph:
        return self.p(title, self.title)

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

    def fields(self, pairs: list[tuple[str, object]], columns: int = 2, label_width: float = 28 * mm) -> RepeatingTable:
        """Label | value cells, `columns` pairs per row; long values wrap and flow over pages."""
        value_width = (self.width - columns * label_width) / columns
        rows, row = [], []
        for label, value in pairs:
            row += [label, value]
            if len(row) == 2 * columns:
                rows.append(row)
                row = []
        if row:
            rows.append(row + [""] * (2 * columns - len(row)))
        if not rows:
            rows = [[""] * (2 * columns)]
        label = Column(SMALL.size, SMALL.leading, shaded=True)
        grid = Grid(None, [label_width, value_width] * columns, [label, TEXT] * columns)
        return RepeatingTable(grid, rows)

    def table(self, header: list[str], rows: list[list], widths: list[float],
              wrap: frozenset[int] = frozenset(), row_height: float | None = None) -> RepeatingTable:
        """A table whose header row repeats on every page. Every column wraps inside its cell (`wrap` is
        kept for callers; it no longer matters). `row_height` is the least height of a row: room to write
        by hand; a longer text makes its row taller."""
        scale = self.width / sum(widths)
        grid = Grid(header, [w * scale for w in widths], [SMALL] * len(widths),
                    head_column=Column(SMALL.size, SMALL.leading, align="CENTER"), min_height=row_height)
        return RepeatingTable(grid, rows)

    def signatures(self, labels: list[str]) -> Table:
        """Boxes with a label and a date line, left empty for a pen (at least 24 mm high)."""
        cells = [[self.p(f"{label}："), Spacer(1, 13 * mm), self.p("日期：　　　年　　月　　日")] for label in labels]
        table = Table([cells], colWidths=[self.width / len(labels)] * len(labels))
        table.setStyle(TableStyle([FONT_ALL, ("BOX", (0, 0), (-1, -1), 0.5, LINE), ("INNERGRID", (0, 0), (-1, -1), 0.5, LINE),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return table

    def box(self, label: str, height: float, content: str = "") -> RepeatingTable:
        """A large empty (or filled) box with its label above, for handwriting: at least `height` high; a
        longer text makes it taller and flows over pages, the label repeated on each."""
        grid = Grid([label], [self.width], [TEXT], min_height=height)
        return RepeatingTable(grid, [[content]])

    @staticmethod
    def gap(height: float = 3 * mm) -> Spacer:
        return Spacer(1, height)


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


def draw_text(canvas, x: float, y: float, text: str, size: float, right: bool = False) -> None:
    """One line of the page template, each character in a font that has it (a printer's or company's
    name may use a rare character as much as a customer's)."""
    text = fonts.clean(text).replace("\n", " ")
    if right:
        x -= fonts.text_width(text, size)
    line = canvas.beginText(x, y)
    for font, chunk in fonts.runs(text):
        line.setFont(font, size)
        line.textOut(chunk)
    canvas.drawText(line)


def draw_frame(canvas, form, context: PrintContext, page: int, total: int) -> None:
    width, height = canvas._pagesize
    top = height - MARGIN
    canvas.saveState()
    draw_text(canvas, MARGIN, top - 10, context.company, 10)
    draw_text(canvas, width - MARGIN, top - 10, f"表单编号：{form.CODE} {form.EDITION}", 9, right=True)
    draw_text(canvas, width - MARGIN, top - 23, f"档案号：{context.archive_number}", 9, right=True)
    draw_text(canvas, MARGIN, top - 24, form.TITLE, 12)
    canvas.setLineWidth(0.8)
    canvas.line(MARGIN, top - 30, width - MARGIN, top - 30)

    bottom = MARGIN
    canvas.line(MARGIN, bottom + QR_SIZE + 3, width - MARGIN, bottom + QR_SIZE + 3)
    draw_text(canvas, MARGIN, bottom + QR_SIZE - 10, f"第 {page} 页 / 共 {total} 页", 9)
    draw_text(canvas, MARGIN, bottom + QR_SIZE - 24,
              f"打印：{context.printed_by}　{context.printed_at:%Y-%m-%d %H:%M}", 8)
    draw_text(canvas, MARGIN, bottom + QR_SIZE - 36, f"验证码：{context.archive_number} {context.verify_code}", 8)
    draw_text(canvas, width - MARGIN - QR_SIZE - 4, bottom + QR_SIZE - 24, "扫码核验本页与归档文件是否一致", 8, right=True)
    draw_text(canvas, width - MARGIN - QR_SIZE - 4, bottom + QR_SIZE - 36, context.verify_url, 8, right=True)
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
    """Render one form to PDF bytes (A4, the form's orientation, CJK font embedded as a subset). A form
    of another size (the member card) draws itself: its own `build`."""
    if callable(getattr(form, "build", None)):
        return form.build(data, context)
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
