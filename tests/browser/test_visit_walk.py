"""One visit walked through the UI, in Debian's Chromium against a live server (CSRF on), each step by
the user whose work it is, logging out and in between:

cs_staff plans the visit and records it on a phone (390×844) with two non-conforming items; cs_manager assigns their
rectifications to the property company (PM) and engineering (ENG); pm_staff and eng_staff each find
their item in "my work" and report it rectified; cs_staff records the customer satisfied with one and
not with the other, which goes back to engineering for a second round; eng_staff completes it again;
cs_staff records the customer satisfied and the return visit. Each step is taken with the button of the
detail page (only the allowed actions are offered); consequential steps ask for confirmation, which is
accepted; screenshots are kept as test artifacts."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE
from tests.browser.test_complaint_walk import choose, demo_customer_mobile, log_in

TIMEOUT = 10_000  # ms, for every expect() below
PROPERTY_COMPANY, ENGINEERING = "物业公司", "工程部"


def in_days(n: int) -> str:
    from app.domain.calendar import local_now

    return f"{local_now().date() + timedelta(days=n):%Y-%m-%d}"


def expect_state(page: Page, state: str) -> None:
    expect(page.locator(".kefu-state")).to_have_attribute("data-state", state, timeout=TIMEOUT)


def expect_actions(page: Page, actions: set[str]) -> None:
    buttons = page.locator(".kefu-actions a.kefu-action")
    expect(buttons).to_have_count(len(actions), timeout=TIMEOUT)
    assert {buttons.nth(i).get_attribute("data-action") for i in range(len(actions))} == actions


def open_step(page: Page, detail_url: str, action: str, kind: str = "visit") -> None:
    page.goto(detail_url)
    page.locator(f".kefu-actions a[data-action={action}]").click()
    expect(page).to_have_url(re.compile(rf"/{kind}/transition/\d+/{action}$"), timeout=TIMEOUT)
    expect(page.locator("form.kefu-step-form input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)


def submit_step(page: Page, detail_url: str) -> None:
    with page.expect_navigation(timeout=TIMEOUT):
        page.locator("form.kefu-step-form button[type=submit]").click()
    refused = page.locator(".alert-danger").all_inner_texts()
    assert not refused, f"the step was refused: {refused}"
    expect(page).to_have_url(detail_url, timeout=TIMEOUT)
    expect(page.locator(".alert-success")).to_have_count(1, timeout=TIMEOUT)


def complete(page: Page, item_url: str, note: str) -> None:
    open_step(page, item_url, "complete", "rectification")
    page.locator("#note").fill(note)
    choose(page, "customer_told", "yes")
    page.locator("#told_how").fill("电话告知客户")
    submit_step(page, item_url)
    expect_state(page, "done")


def test_a_visit_with_two_non_conforming_items_walks_to_its_return_visit(page: Page, live_server, app, artifact):
    page.set_default_timeout(15_000)
    base = live_server
    mobile = demo_customer_mobile(app)
    tag = secrets.token_hex(3)
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)

    # --- cs_staff plans the visit ------------------------------------------------------------------
    log_in(page, base, "cs_staff")
    page.goto(f"{base}/visit/add")
    form = page.locator("form.kefu-visit-add")
    expect(form.locator("input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)
    expect(form.locator("#planned_at")).not_to_have_value("", timeout=TIMEOUT)  # defaults to tomorrow morning
    form.locator("#customer").fill(mobile)
    form.locator("#contact_post").fill("业主")
    form.locator("#companions").fill(f"李四 {tag}")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/visit/show/\d+$"), timeout=TIMEOUT)
    detail_url = page.url
    number = page.locator(".kefu-number").inner_text()
    assert re.fullmatch(r"ZF\d{4}-\d{6}", number), number
    expect_state(page, "planned")
    expect(page.locator("body")).not_to_contain_text(mobile, timeout=TIMEOUT)  # masked
    expect_actions(page, {"visit"})

    # ... and records it on a phone (390×844): two items not conforming, one qualified, one outside the
    # management's scope. Each item's 合格/不合格 choice is a select as wide as the screen allows.
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    open_step(page, detail_url, "visit")
    expect(page.locator("tr.kefu-visit-item")).to_have_count(8, timeout=TIMEOUT)
    for code in ("security", "other"):
        box = page.locator(f"#result_{code}").bounding_box()
        assert box["width"] >= 300 and box["x"] + box["width"] <= PHONE["width"], (code, box)
        expect(page.locator(f"#result_{code}")).to_have_attribute("aria-label", re.compile(".+"), timeout=TIMEOUT)
    page.locator("#result_cleaning").select_option("non_conforming")
    page.locator("#opinion_cleaning").fill(f"大堂地面清洁不及时 {tag}")
    page.locator("#result_parking").select_option("non_conforming")
    page.locator("#opinion_parking").fill(f"地库照明不足 {tag}")
    page.locator("#result_security").select_option("qualified")
    page.locator("#result_other").select_option("out_of_scope")
    page.locator("#opinion_other").fill("希望增加公交线路")
    page.locator("#explanation_other").fill("公交线路由公交公司规划，已向客户说明")
    page.locator("#opinions").fill("希望加强夜间巡逻")
    page.locator("#result_parking").scroll_into_view_if_needed()
    page.screenshot(path=artifact("phone-visit-1-items.png"))  # the screen as the clerk sees it
    page.screenshot(path=artifact("visit-walk-1-visit-form.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing beside the screen
    submit_step(page, detail_url)
    expect_state(page, "visited")
    page.screenshot(path=artifact("phone-visit-2-visited.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(desktop)
    expect(page.locator("tr.kefu-item")).to_have_count(4, timeout=TIMEOUT)
    expect(page.locator("tr.kefu-item[data-result=non_conforming]")).to_have_count(2, timeout=TIMEOUT)

    # --- cs_manager assigns the rectifications -------------------------------------------------------
    log_in(page, base, "cs_manager")
    open_step(page, detail_url, "rectify")
    rows = page.locator("tr.kefu-rectify-row")
    expect(rows).to_have_count(2, timeout=TIMEOUT)
    for service_item, department, person in (("cleaning", PROPERTY_COMPANY, "孙丽"), ("parking", ENGINEERING, "赵工")):
        row = page.locator(f"tr.kefu-rectify-row[data-service-item={service_item}]")
        row.locator("select").select_option(label=department)
        row.locator("textarea").fill(f"{department}整改 {tag}")
        row.locator("input[name^=responsible_person_]").fill(person)
        row.locator("input[name^=deadline_]").fill(in_days(5))
    page.locator("tr.kefu-rectify-row[data-service-item=cleaning] input[type=checkbox]").check()
    submit_step(page, detail_url)
    expect_state(page, "rectifying")
    items = page.locator("tr.kefu-rectification")
    expect(items).to_have_count(2, timeout=TIMEOUT)
    pm_row = page.locator("tr.kefu-rectification", has_text=PROPERTY_COMPANY)
    eng_row = page.locator("tr.kefu-rectification", has_text=ENGINEERING)
    expect(pm_row.locator(".kefu-round")).to_have_attribute("data-round", "1", timeout=TIMEOUT)
    pm_number = pm_row.locator("a").first.inner_text()
    eng_number = eng_row.locator("a").first.inner_text()
    pm_url = f"{base}/rectification/show/{pm_row.get_attribute('data-pk')}"
    eng_url = f"{base}/rectification/show/{eng_row.get_attribute('data-pk')}"
    page.screenshot(path=artifact("visit-walk-2-rectifying.png"), full_page=True)

    # --- each department finds its item in "my work" and reports it rectified --------------------------
    log_in(page, base, "pm_staff")
    page.goto(f"{base}/mywork/")
    section = page.locator("[data-section=rectification]")
    expect(section).to_contain_text(pm_number, timeout=TIMEOUT)
    expect(section).not_to_contain_text(eng_number, timeout=TIMEOUT)
    section.locator("a", has_text=pm_number).click()
    expect(page).to_have_url(pm_url, timeout=TIMEOUT)
    expect_actions(page, {"report_progress", "complete"})
    complete(page, pm_url, "已增加拖地频次并铺设防滑垫")
    expect_actions(page, set())
    page.goto(f"{base}/rectification/list/?_flt_0_state=done")  # the department's items only
    expect(page.locator("tr.kefu-row", has_text=pm_number)).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("tr.kefu-row", has_text=eng_number)).to_have_count(0, timeout=TIMEOUT)
    page.screenshot(path=artifact("visit-walk-2b-department-list.png"), full_page=True)
    assert page.goto(eng_url).status == 404  # another department's item

    log_in(page, base, "eng_staff")
    page.goto(f"{base}/mywork/")
    expect(page.locator("[data-section=rectification]")).to_contain_text(eng_number, timeout=TIMEOUT)
    complete(page, eng_url, "已更换地库灯具")

    # --- cs_staff: the customer is satisfied with one, not with the other --------------------------------
    log_in(page, base, "cs_staff")
    page.goto(f"{base}/mywork/")
    expect(page.locator("[data-section=rectification]")).to_contain_text(pm_number, timeout=TIMEOUT)  # to judge
    page.goto(pm_url)
    expect_actions(page, {"accept", "reject"})
    open_step(page, pm_url, "accept", "rectification")
    page.locator("#note").fill("客户满意")
    submit_step(page, pm_url)
    expect_state(page, "satisfied")
    open_step(page, eng_url, "reject", "rectification")
    page.locator("#note").fill("客户认为照明仍不足")
    page.locator("#measure").fill(f"加装应急照明并重新布线 {tag}")
    page.locator("#deadline").fill(in_days(10))
    submit_step(page, eng_url)
    expect_state(page, "open")
    expect(page.locator(".kefu-round")).to_have_attribute("data-round", "2", timeout=TIMEOUT)
    page.screenshot(path=artifact("visit-walk-3-second-round.png"), full_page=True)

    # --- eng_staff completes the second round --------------------------------------------------------------
    log_in(page, base, "eng_staff")
    complete(page, eng_url, "应急照明已安装")
    expect(page.locator(".kefu-timeline-entry[data-round='2']")).to_have_count(2, timeout=TIMEOUT)  # reject, complete

    # --- cs_staff: satisfied now; the return visit -----------------------------------------------------------
    log_in(page, base, "cs_staff")
    open_step(page, eng_url, "accept", "rectification")
    submit_step(page, eng_url)
    expect_state(page, "satisfied")
    page.goto(detail_url)
    expect_actions(page, {"return_visit"})
    open_step(page, detail_url, "return_visit")
    choose(page, "return_visit_method", "on_site")
    page.locator("#return_visit_record").fill(f"整改效果良好，客户满意 {tag}")
    choose(page, "satisfaction", "5")
    page.locator("#effect_confirmed").check()
    asked = len(dialogs)
    submit_step(page, detail_url)
    assert len(dialogs) == asked + 1 and dialogs[-1]  # the return visit asked for confirmation
    expect_state(page, "return_visited")
    expect_actions(page, set())
    rows = page.locator("tr.kefu-rectification")
    expect(rows.filter(has_text=ENGINEERING).locator(".kefu-round")).to_have_attribute("data-round", "2",
                                                                                       timeout=TIMEOUT)
    expect(rows.filter(has_text=ENGINEERING).locator(".kefu-round")).to_have_text("2", timeout=TIMEOUT)
    expect(rows.filter(has_text=PROPERTY_COMPANY).locator(".kefu-round")).to_have_text("1", timeout=TIMEOUT)
    for i in range(2):
        expect(rows.nth(i)).to_have_attribute("data-state", "satisfied", timeout=TIMEOUT)
    timeline = page.locator(".kefu-timeline")
    # People by their names (the demo's 孙丽, 赵工, 王建国), never by their logins.
    for text in (f"加装应急照明并重新布线 {tag}", f"整改效果良好，客户满意 {tag}", "孙丽", "赵工", "王建国"):
        expect(timeline).to_contain_text(text, timeout=TIMEOUT)
    for login in ("pm_staff", "eng_staff", "cs_manager", "cs_staff"):
        expect(timeline).not_to_contain_text(login, timeout=TIMEOUT)
    entries = page.locator(".kefu-timeline-entry")
    expect(entries).to_have_count(10, timeout=TIMEOUT)
    assert [entries.nth(i).get_attribute("data-action") for i in range(10)] == [
        "plan", "visit", "rectify", "complete", "complete", "accept", "reject", "complete", "accept", "return_visit"]
    assert len(dialogs) >= 6  # complete ×3, accept ×2, reject: each asked first
    page.screenshot(path=artifact("visit-walk-4-return-visited.png"), full_page=True)

    # The list of visits: this one, return-visited, found by the customer's mobile.
    page.goto(f"{base}/visit/list/?_flt_0_customer={mobile}")
    expect(page.locator("tr.kefu-row", has_text=number)).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=artifact("visit-walk-5-list.png"), full_page=True)
