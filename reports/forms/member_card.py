"""会员卡 — the member card, at card size (85.6 × 54 mm, ISO/IEC 7810 ID-1): club name, member's name,
member number, card number, issued on, and a QR code of the card number (what the door's phone reads at
an activity). Not an A4 form: `build` draws the one page itself, PDF/A like every archived file, and
carries the archive number and verification code in small print on its back edge."""

from __future__ import annotations

import io

from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdf_canvas

from .. import base, pdfa

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-09", "A/0", "会员卡", False
SIZE = (85.6 * mm, 54 * mm)
QR = 24 * mm


def story(data: dict, kit) -> list:  # the forms' interface; a card is drawn by `build`
    return []


def build(data: dict, context) -> base.Printed:
    base.register_font()
    buffer = io.BytesIO()
    canvas = pdf_canvas.Canvas(buffer, pagesize=SIZE, invariant=1, initialFontName=base.FONT_NAME,
                               pdfVersion=pdfa.PDF_VERSION, enforceColorSpace="rgb", lang=pdfa.LANG)
    canvas.setTitle(f"{TITLE} {context.archive_number}")
    canvas.setAuthor(context.company)
    canvas.setSubject(CODE)
    canvas.setCreator("Kefu")
    canvas.setKeywords("; ".join(p for p in (context.archive_number, f"{CODE} {EDITION}", context.record,
                                            context.retention) if p))
    pdfa.apply(canvas, context.printed_at, pdfa.ArchiveFacts(context.archive_number, f"{CODE} {EDITION}",
                                                             context.record, context.retention))
    width, height = SIZE
    left = 5 * mm
    base.draw_text(canvas, left, height - 8 * mm, data["club"], 9)
    base.draw_text(canvas, width - left, height - 8 * mm, TITLE, 9, right=True)
    canvas.setLineWidth(0.6)
    canvas.line(left, height - 10 * mm, width - left, height - 10 * mm)
    base.draw_text(canvas, left, height - 18 * mm, data["name"], 14)
    base.draw_text(canvas, left, height - 25 * mm, f"会员编号：{data['member_number']}", 7.5)
    base.draw_text(canvas, left, height - 30 * mm, f"卡号：{data['card_number']}", 7.5)
    base.draw_text(canvas, left, height - 35 * mm, f"发卡日期：{data['issued_on']}", 7.5)
    base.draw_text(canvas, left, 4 * mm, f"{CODE}　档案号：{context.archive_number}　验证码：{context.verify_code}", 4.5)
    canvas.saveState()
    canvas.translate(width - left - QR, 7 * mm)
    base.draw_qr(canvas, base.qr_modules(data["card_number"]), size=QR)
    canvas.restoreState()
    canvas.showPage()
    canvas.save()
    return base.Printed(buffer.getvalue(), 1)
