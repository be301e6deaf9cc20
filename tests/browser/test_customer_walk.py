"""The path a customer-service employee walks, in Debian's Chromium against a live server (CSRF on):
log in through the form, see the Chinese UI, enter a customer with a wrong ID-card check digit, see the
Chinese error beside the field with nothing typed lost, correct it, save, find the customer by the full
mobile number in the quick search, see the mobile masked, and keep a screenshot as a test artifact."""

from __future__ import annotations

import random
import re

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

TIMEOUT = 10_000  # ms, for every expect() below

CUSTOMERS = "客户"  # "Customers"
NEW_CUSTOMER = "新增客户"  # "New customer"
ID_NUMBER = "身份证号"  # "ID-card number"
MOBILE = "手机"  # "Mobile"
CHECK_DIGIT_ERROR = "身份证号校验位错误（GB 11643），请核对号码。"  # GB 11643 check digit is wrong
SAVED = "记录已添加"  # FAB's "Added Row" (its zh catalogue)


def unused_customer_data(app) -> tuple[str, str, str]:
    """A mobile (139…) and a valid ID-card number that no customer in the database has yet;
    returns (mobile, id_number, id_number_with_a_wrong_check_digit)."""
    from sqlalchemy import select

    from app.domain.validation import id_number_check_digit
    from app.extensions import db
    from app.models import Customer

    rng = random.SystemRandom()
    with app.app_context():
        try:
            while True:
                mobile = "139" + "".join(rng.choice("0123456789") for _ in range(8))
                first17 = f"330106{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" \
                          f"{rng.randint(0, 999):03d}"
                right = id_number_check_digit(first17)
                wrong = next(c for c in "0123456789X" if c != right)
                taken = db.session.scalar(select(Customer.id).where(
                    (Customer.mobile == mobile) | (Customer.id_number == first17 + right)).limit(1))
                if taken is None:
                    return mobile, first17 + right, first17 + wrong
        finally:
            db.session.remove()


def test_cs_staff_enters_a_customer_and_finds_it_by_phone(page: Page, live_server, app, artifact):
    page.set_default_timeout(15_000)
    mobile, id_number, wrong_id_number = unused_customer_data(app)
    name = "林晓雯"
    address = "杭州市西湖区文三路 90 号"

    # Log in through the form (CSRF token included, as in production).
    page.goto(f"{live_server}/login/")
    expect(page.locator("form[name=login] input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)
    page.locator("#username").fill("cs_staff")
    page.locator("#password").fill(PASSWORD)
    page.locator("form[name=login] input[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login/"), timeout=TIMEOUT)

    # The Chinese UI: the menu offers 客户.
    navbar = page.locator(".navbar")
    expect(navbar.locator("a[href*='/customer/list/']")).to_have_text(CUSTOMERS, timeout=TIMEOUT)

    # A new customer with a wrong ID-card check digit.
    page.goto(f"{live_server}/customer/add")
    expect(page.locator(".panel-title, .panel-heading").first).to_contain_text(NEW_CUSTOMER, timeout=TIMEOUT)
    expect(page.locator("label[for=id_number]")).to_contain_text(ID_NUMBER, timeout=TIMEOUT)
    expect(page.locator("label[for=mobile]")).to_contain_text(MOBILE, timeout=TIMEOUT)
    form = page.locator("#model_form")
    expect(form.locator("input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)
    form.locator("#name").fill(name)
    form.locator("#mobile").fill(mobile)
    form.locator("#id_number").fill(wrong_id_number)
    form.locator("#address").fill(address)
    form.locator("button[type=submit]").click()

    # The Chinese error beside the ID field, and nothing typed is lost.
    id_row = form.locator("tr", has=page.locator("#id_number"))
    expect(id_row.locator(".alert-danger")).to_contain_text(CHECK_DIGIT_ERROR, timeout=TIMEOUT)
    expect(page).to_have_url(re.compile(r"/customer/add"), timeout=TIMEOUT)
    expect(form.locator("#name")).to_have_value(name, timeout=TIMEOUT)
    expect(form.locator("#mobile")).to_have_value(mobile, timeout=TIMEOUT)
    expect(form.locator("#id_number")).to_have_value(wrong_id_number, timeout=TIMEOUT)
    expect(form.locator("#address")).to_have_value(address, timeout=TIMEOUT)
    expect(form.locator(".alert-danger")).to_have_count(1, timeout=TIMEOUT)  # only the ID number is wrong
    page.screenshot(path=artifact("customer-walk-id-error.png"), full_page=True)

    # Correct the check digit and save: the success message, no error left.
    form.locator("#id_number").fill(id_number)
    form.locator("button[type=submit]").click()
    expect(page.locator(".alert-success")).to_contain_text(SAVED, timeout=TIMEOUT)
    expect(page).not_to_have_url(re.compile(r"/customer/add"), timeout=TIMEOUT)
    expect(page.locator(".alert-danger")).to_have_count(0, timeout=TIMEOUT)

    # Find the customer by the full mobile number with the quick search.
    page.goto(f"{live_server}/customer/list/")
    search = page.locator("input[name=q]")
    search.fill(mobile)
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/customer/list/\?.*_flt_\d+_mobile=" + mobile), timeout=TIMEOUT)
    rows = page.locator("table tbody tr", has_text=name)
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    masked = f"{mobile[:3]}****{mobile[-4:]}"
    expect(rows.first).to_contain_text(masked, timeout=TIMEOUT)
    expect(page.locator("body")).not_to_contain_text(mobile, timeout=TIMEOUT)  # never the full number
    expect(page.locator("body")).not_to_contain_text(id_number, timeout=TIMEOUT)

    page.screenshot(path=artifact("customer-walk.png"), full_page=True)
