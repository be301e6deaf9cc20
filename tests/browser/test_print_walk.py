"""A manager prints a complaint's record from its page: the browser asks first, the button shows the
work and one click opens the PDF, the archived copy's page shows its file verified, the PDF is the
archived bytes, and the address in the QR code opens a verification page that says the copy is genuine."""

from __future__ import annotations

import hashlib
import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from .test_complaint_walk import TIMEOUT, log_in


def a_fed_back_complaint(app) -> int:
    from app.extensions import db
    from app.models import Complaint

    with app.app_context():
        try:
            return db.session.scalar(select(Complaint.id).where(Complaint.state == "fed_back").order_by(Complaint.id))
        finally:
            db.session.rollback()
            db.session.remove()


def test_printing_a_complaint_record_files_it_and_the_code_verifies(page: Page, live_server, app, artifact):
    page.set_default_timeout(15_000)
    base = live_server
    complaint_id = a_fed_back_complaint(app)
    log_in(page, base, "cs_manager")
    page.goto(f"{base}/complaint/show/{complaint_id}")
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    button = page.locator(f"form.kefu-print-form[action$='/print/complaint/{complaint_id}/complaint_record'] button")
    # One click files the form and opens its PDF (the browser is sent to the archived file).
    with page.expect_request(re.compile(r"/archive/file/\d+$"), timeout=TIMEOUT) as opened:
        button.click()
    assert len(dialogs) == 1 and "归档" in dialogs[0]
    file_url = opened.value.url
    page.goto(base + "/archive/show/" + re.search(r"/archive/file/(\d+)$", file_url).group(1))
    expect(page.locator(".alert-success").first).to_contain_text("已打印并归档", timeout=TIMEOUT)
    expect(page.locator(".kefu-file-state")).to_have_attribute("data-state", "ok", timeout=TIMEOUT)
    page.screenshot(path=artifact("print-walk-1-archived.png"), full_page=True)

    table = page.locator(".kefu-archive-record")
    rows = {r.locator("th").inner_text(): r.locator("td").inner_text() for r in table.locator("tr").all()}
    number = next(v for k, v in rows.items() if k == "档案号")
    sha256 = next(v for k, v in rows.items() if "SHA-256" in k)
    code = next(v for k, v in rows.items() if k == "验证码")
    assert file_url.endswith(page.locator("a.kefu-open-pdf").get_attribute("href"))
    pdf = page.request.get(file_url)
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.body()).hexdigest() == sha256

    # What scanning the paper's QR code opens (the address printed under it).
    page.goto(f"{base}/verify/{number}?c={code}")
    expect(page.locator(".kefu-verdict")).to_have_attribute("data-verdict", "ok", timeout=TIMEOUT)
    page.screenshot(path=artifact("print-walk-2-verified.png"), full_page=True)
    page.goto(f"{base}/verify/{number}?c=0000-0000-0000-0000")
    expect(page.locator(".kefu-verdict")).to_have_attribute("data-verdict", "code", timeout=TIMEOUT)
