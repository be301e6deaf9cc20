"""Deleting and revealing in Chromium against the live server (CSRF on): the list's delete button asks
in Chinese and then posts FAB's hidden form with the CSRF token; the detail page's reveal button posts
with the token in its header. Neither works by a plain link (GET): that is test_csrf's."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.http.conftest import Db, customer_payload

TIMEOUT = 10_000
CONFIRM_DELETE = "确定要删除这条记录吗？"
DELETED = "记录已删除"  # FAB's "Deleted Row" (its zh catalogue)


def _login(page: Page, live_server: str, username: str) -> None:
    page.goto(f"{live_server}/login/")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[name=login] input[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login/"), timeout=TIMEOUT)


def test_cs_staff_reveals_a_mobile_and_deletes_a_customer_from_the_list(page: Page, live_server, app, api):
    page.set_default_timeout(15_000)
    payload = customer_payload()
    cid = api("cs_staff").post("/api/v1/customer/", json=payload).get_json()["id"]
    _login(page, live_server, "cs_staff")

    # The reveal button posts with the token (and asks first, in Chinese).
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(f"{live_server}/customer/show/{cid}")
    page.locator(".kefu-reveal-btn[data-field=mobile]").click()
    expect(page.locator("#revealed-mobile")).to_have_text(payload["mobile"], timeout=TIMEOUT)
    assert dialogs and "审计" in dialogs[0], dialogs

    # The delete button: FAB's dialog in Chinese, then the POST form with the token.
    page.goto(f"{live_server}/customer/list/?q={payload['name']}")
    row = page.locator("table tbody tr", has_text=payload["name"])
    expect(row).to_have_count(1, timeout=TIMEOUT)
    row.locator("a.confirm[id^='btn-delete-']").click()
    dialog = page.locator("#modal-confirm")
    expect(dialog).to_be_visible(timeout=TIMEOUT)
    expect(dialog).to_contain_text(CONFIRM_DELETE, timeout=TIMEOUT)
    expect(dialog.locator("#modal-confirm-ok")).to_have_text("确定", timeout=TIMEOUT)
    dialog.locator("#modal-confirm-ok").click()
    expect(page.locator(".alert-success")).to_contain_text(DELETED, timeout=TIMEOUT)
    assert Db(app).customer(cid) is None
