"""Receiving a complaint as a clerk does, at desktop size and on a phone (390×844): the customer found by
typing part of the name (suggestions with masked phones and the units), the unit taken from the customer's
one unit, then two evidence files attached at once from the complaint's page and listed there.
Screenshots are kept as test artifacts."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from .test_complaint_walk import TIMEOUT, choose, log_in

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def a_customer_with_one_unit(app, skip=0) -> tuple[int, str, int]:
    """(id, name, unit id) of a demo customer whose name no other customer's contains and who holds one unit."""
    from app.extensions import db
    from app.models import Customer, CustomerUnit

    with app.app_context():
        try:
            s = db.session
            one_unit = (select(CustomerUnit.customer_id).group_by(CustomerUnit.customer_id)
                        .having(func.count() == 1))
            found = []
            for cid, name in s.execute(select(Customer.id, Customer.name).where(Customer.id.in_(one_unit))
                                       .order_by(Customer.id).limit(60)):
                if s.scalar(select(func.count()).select_from(Customer).where(Customer.name.contains(name))) == 1:
                    found.append((cid, name, s.scalar(select(CustomerUnit.unit_id)
                                                     .where(CustomerUnit.customer_id == cid))))
            return found[skip]
        finally:
            db.session.rollback()
            db.session.remove()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_receipt_with_customer_lookup_and_evidence_upload(size, page: Page, live_server, app, artifact, tmp_path):
    page.set_default_timeout(15_000)
    if size == "phone":
        page.set_viewport_size({"width": 390, "height": 844})
    base = live_server
    customer_id, name, unit_id = a_customer_with_one_unit(app, skip=0 if size == "desktop" else 1)
    content = f"阳台推拉门关不严，雨天进水（浏览器测试 {secrets.token_hex(3)}）"

    log_in(page, base, "cs_staff")
    page.goto(f"{base}/complaint/add")
    form = page.locator("form.kefu-complaint-add")
    choose(page, "channel", "hotline")
    form.locator("#customer").fill(name)  # a name (no other customer's contains it)
    choice = form.locator("#customer_id")
    expect(form.locator(".kefu-row-customer_id")).to_be_visible(timeout=TIMEOUT)
    expect(choice.locator(f"option[value='{customer_id}']")).to_have_count(1, timeout=TIMEOUT)
    offered = choice.locator(f"option[value='{customer_id}']").inner_text()
    assert name in offered and re.search(r"1\d\d\*{4}\d{4}", offered), offered  # the phone masked
    choice.select_option(str(customer_id))
    expect(form.locator("#unit_id")).to_have_value(str(unit_id), timeout=TIMEOUT)  # the one unit, pre-filled
    form.locator("#content").fill(content)
    form.locator("#remedy_requested").fill("尽快维修")
    page.screenshot(path=artifact(f"receipt-walk-{size}-1-form.png"), full_page=True)
    with page.expect_navigation(timeout=TIMEOUT):
        form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/complaint/show/\d+$"), timeout=TIMEOUT)
    expect(page.locator(".kefu-section").first).to_contain_text(content, timeout=TIMEOUT)

    # Evidence: two files at once (a photo and a PDF), listed and downloadable.
    photo, report = tmp_path / "现场照片.png", tmp_path / "检测报告.pdf"
    photo.write_bytes(PNG)
    report.write_bytes(PDF)
    upload = page.locator("form.kefu-attach-form")
    expect(upload.locator("#kefu-camera")).to_have_attribute("capture", "environment")
    upload.locator("#kefu-files").set_input_files([str(photo), str(report)])
    with page.expect_navigation(timeout=TIMEOUT):
        upload.locator("button[type=submit]").click()
    links = page.locator(".kefu-attachments a.kefu-attachment")
    expect(links).to_have_count(2, timeout=TIMEOUT)
    expect(links.nth(0)).to_have_text("现场照片.png")
    expect(links.nth(1)).to_have_text("检测报告.pdf")
    pdf = page.request.get(base + links.nth(1).get_attribute("href"))
    assert pdf.ok and pdf.body() == PDF
    page.locator(".kefu-attachments").scroll_into_view_if_needed()
    page.screenshot(path=artifact(f"receipt-walk-{size}-2-evidence.png"), full_page=True)
