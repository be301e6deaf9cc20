"""One general complaint walked from receipt to closing through the UI, in Debian's Chromium against a
live server (CSRF on), each step by the user whose work it is, logging out and in between:

cs_staff receives and confirms it; cs_manager assesses it and assigns it to 工程部; eng_staff reports the
investigation and starts handling; cs_staff replies to the customer; cs_manager closes it (confirming the
dialog). Each step is taken with the button of the detail page, which offers only the allowed actions;
screenshots of the detail page with its timeline are kept as test artifacts."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

TIMEOUT = 10_000  # ms, for every expect() below

CUSTOMERS = "客户"  # the menu entry "Customers"
# Labels the Chinese catalogue already has (states and step buttons of the domain's transition table).
STATE = {"received": "受理", "confirmed": "确认", "assessed": "评估", "investigating": "调查",
         "handling": "处理", "replied": "回复", "closed": "关闭"}
BUTTON = {"confirm": "确认有效", "close_invalid": "无效/咨询关闭", "assess": "评估", "assign": "分派责任部门",
          "start_handling": "提交调查结果并开始处理", "add_progress": "登记处理进度", "reply": "回复客户",
          "close": "关闭", "acknowledge": "受理回执（告知客户投诉编号）"}
ENGINEERING = "工程部"


def demo_customer_mobile(app) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Customer

    with app.app_context():
        try:
            mobiles = db.session.scalars(select(Customer.mobile).where(Customer.mobile.is_not(None))
                                         .order_by(Customer.id).limit(50)).all()
            counts = {m: mobiles.count(m) for m in mobiles}
            return next(m for m in mobiles if counts[m] == 1)
        finally:
            db.session.remove()


def receive_late(app, mobile) -> str:
    """A complaint received ten days ago and still unconfirmed (overdue), through the domain; its number."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.domain import complaints, records
    from app.domain.calendar import local_now
    from app.extensions import db
    from app.models import Customer

    with app.app_context():
        try:
            actor = app.appbuilder.sm.find_user(username="cs_staff")
            customer_id = db.session.scalar(select(Customer.id).where(Customer.mobile == mobile))
            with records.unit_of_work(db.session):
                complaint = complaints.open_complaint(db.session, actor, channel="online", customer_id=customer_id,
                                                      content="十天前网上投诉：物业未回复",
                                                      received_at=local_now() - timedelta(days=10))
            return complaint.number
        finally:
            db.session.remove()


def log_out(page: Page, base: str) -> None:
    """As a user does: the user menu of the navbar, then its logout button (a form that posts the CSRF
    token; GET /logout/ only asks)."""
    page.goto(f"{base}/")
    form = page.locator("form.kefu-logout-form")
    if form.count():
        page.locator(".navbar a.dropdown-toggle:has(.fa-user)").click()
        form.locator("button").click()
        expect(page.locator("form.kefu-logout-form")).to_have_count(0, timeout=TIMEOUT)


def log_in(page: Page, base: str, username: str) -> None:
    log_out(page, base)
    page.goto(f"{base}/login/")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form[name=login] input[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login/"), timeout=TIMEOUT)


def expect_state(page: Page, state: str) -> None:
    expect(page.locator(".kefu-state")).to_have_attribute("data-state", state, timeout=TIMEOUT)
    expect(page.locator(".kefu-state")).to_have_text(STATE[state], timeout=TIMEOUT)


def expect_actions(page: Page, actions: set[str]) -> None:
    buttons = page.locator(".kefu-actions a.kefu-action")
    expect(buttons).to_have_count(len(actions), timeout=TIMEOUT)
    assert {buttons.nth(i).get_attribute("data-action") for i in range(len(actions))} == actions
    for action in actions:
        expect(page.locator(f".kefu-actions a[data-action={action}]")).to_have_text(BUTTON[action], timeout=TIMEOUT)


def open_step(page: Page, detail_url: str, action: str) -> None:
    page.goto(detail_url)
    page.locator(f".kefu-actions a[data-action={action}]").click()
    expect(page).to_have_url(re.compile(rf"/complaint/transition/\d+/{action}$"), timeout=TIMEOUT)
    expect(page.locator("form.kefu-step-form input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)


def choose(page: Page, field: str, value: str | None = None, label: str | None = None) -> None:
    """Pick an option of a select (drawn by Select2, which hides the real <select>)."""
    select = page.locator(f"select#{field}")
    if label is not None:
        select.select_option(label=label, force=True)
    else:
        select.select_option(value, force=True)


def submit_step(page: Page, detail_url: str) -> None:
    with page.expect_navigation(timeout=TIMEOUT):
        page.locator("form.kefu-step-form button[type=submit]").click()
    refused = page.locator(".alert-danger").all_inner_texts()
    assert not refused, f"the step was refused: {refused}"
    expect(page).to_have_url(detail_url, timeout=TIMEOUT)
    expect(page.locator(".alert-success")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator(".alert-danger")).to_have_count(0, timeout=TIMEOUT)


def test_a_general_complaint_walks_from_receipt_to_closing(page: Page, live_server, app, artifact):
    page.set_default_timeout(15_000)
    base = live_server
    mobile = demo_customer_mobile(app)
    tag = secrets.token_hex(3)
    content = f"卫生间顶棚渗水，已持续一周（浏览器测试 {tag}）"
    confirmed_how = f"电话回访，客户确认 {tag}"
    reply_result = f"已重做防水层并闭水试验 48 小时 {tag}"

    # --- cs_staff receives the complaint ---------------------------------------------------------
    log_in(page, base, "cs_staff")
    expect(page.locator(".navbar a[href*='/customer/list/']")).to_have_text(CUSTOMERS, timeout=TIMEOUT)
    page.goto(f"{base}/complaint/add")
    form = page.locator("form.kefu-complaint-add")
    expect(form.locator("input[name=csrf_token]")).to_have_count(1, timeout=TIMEOUT)
    expect(form.locator("#received_at")).not_to_have_value("", timeout=TIMEOUT)  # defaults to now
    choose(page, "channel", "hotline")
    form.locator("#customer").fill(mobile)
    expect(form.locator(".kefu-row-customer_id")).to_be_visible(timeout=TIMEOUT)  # the lookup answered
    units = form.locator("#unit_id option:not([value=''])")
    if units.count() > 1:  # a customer with several units: the clerk picks the one complained about
        form.locator("#unit_id").select_option(units.first.get_attribute("value"))
    form.locator("#content").fill(content)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/complaint/show/\d+$"), timeout=TIMEOUT)
    detail_url = page.url
    number = page.locator(".kefu-number").inner_text()
    assert re.fullmatch(r"TS\d{4}-\d{6}", number), number
    expect_state(page, "received")
    expect(page.locator(".kefu-section").first).to_contain_text(content, timeout=TIMEOUT)
    expect(page.locator("body")).not_to_contain_text(mobile, timeout=TIMEOUT)  # masked
    expect_actions(page, {"acknowledge", "confirm", "close_invalid"})  # 受理回执 is offered until given

    # ... and confirms it.
    open_step(page, detail_url, "confirm")
    page.locator("#confirmed_how").fill(confirmed_how)
    submit_step(page, detail_url)
    expect_state(page, "confirmed")
    expect(page.locator(".kefu-timeline")).to_contain_text(confirmed_how, timeout=TIMEOUT)
    expect_actions(page, {"acknowledge", "assess"})
    page.screenshot(path=artifact("complaint-walk-1-confirmed.png"), full_page=True)

    # --- cs_manager assesses it and assigns it to 工程部 -----------------------------------------------
    log_in(page, base, "cs_manager")
    open_step(page, detail_url, "assess")
    choose(page, "severity", "general")
    choose(page, "category", "engineering_quality")
    submit_step(page, detail_url)
    expect_state(page, "assessed")
    open_step(page, detail_url, "assign")
    choose(page, "department_id", label=ENGINEERING)
    page.locator("#assigned_post").fill("维修主管")
    page.locator("#assigned_person").fill("赵工")
    submit_step(page, detail_url)
    expect_state(page, "investigating")
    expect(page.locator(".kefu-section", has_text="赵工")).to_contain_text(ENGINEERING, timeout=TIMEOUT)

    # --- eng_staff finds it in "my work", reports the investigation and starts handling --------------
    log_in(page, base, "eng_staff")
    page.goto(f"{base}/mywork/")
    expect(page.locator("[data-section=complaint]")).to_contain_text(number, timeout=TIMEOUT)
    page.locator("[data-section=complaint] a", has_text=number).click()
    expect(page).to_have_url(detail_url, timeout=TIMEOUT)
    expect_actions(page, {"start_handling"})
    open_step(page, detail_url, "start_handling")
    page.locator("#cause_analysis").fill("楼上卫生间防水层破损")
    page.locator("#report").fill("现场勘查：顶棚有水渍，楼上闭水试验渗漏")
    page.locator("#measures").fill("重做楼上卫生间防水层，修复顶棚")
    page.locator("#handling_person").fill("赵工")
    page.locator("#handling_deadline").fill("2030-01-31")
    page.locator("#deadline_reason").fill("需等待第三方鉴定")
    submit_step(page, detail_url)
    expect_state(page, "handling")
    expect_actions(page, {"add_progress"})  # replying is the first-responsible person's

    # --- cs_staff (first-responsible) replies --------------------------------------------------------
    log_in(page, base, "cs_staff")
    page.goto(detail_url)
    expect_actions(page, {"acknowledge", "add_progress", "reply"})
    open_step(page, detail_url, "reply")
    page.locator("#reply_result").fill(reply_result)
    choose(page, "customer_accepted", "yes")
    choose(page, "satisfaction", "5")
    submit_step(page, detail_url)
    expect_state(page, "replied")
    expect_actions(page, {"acknowledge"})  # closing is the manager's

    # --- cs_manager closes it, confirming the dialog ---------------------------------------------------
    log_in(page, base, "cs_manager")
    open_step(page, detail_url, "close")
    page.locator("#department_signed_off").check()
    page.locator("#person_signed_off").check()
    page.screenshot(path=artifact("complaint-walk-close-form.png"), full_page=True)
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    submit_step(page, detail_url)
    assert len(dialogs) == 1 and dialogs[0]
    expect_state(page, "closed")
    entries = page.locator(".kefu-timeline-entry")
    expect(entries).to_have_count(7, timeout=TIMEOUT)
    assert [entries.nth(i).get_attribute("data-action") for i in range(7)] == [
        "receive", "confirm", "assess", "assign", "start_handling", "reply", "close"]
    timeline = page.locator(".kefu-timeline")
    from app.demo import USERS

    names = {username: family + given for username, _role, _dept, family, given in USERS}
    for text in (confirmed_how, ENGINEERING, "楼上卫生间防水层破损", reply_result, names["cs_staff"],
                 names["cs_manager"], names["eng_staff"]):  # people by their names
        expect(timeline).to_contain_text(text, timeout=TIMEOUT)
    expect(entries.last).to_contain_text(f"{STATE['replied']} → {STATE['closed']}", timeout=TIMEOUT)
    page.screenshot(path=artifact("complaint-walk-2-closed.png"), full_page=True)

    # The closed complaint now waits for its return visit in the first-responsible person's work.
    log_in(page, base, "cs_staff")
    page.goto(f"{base}/mywork/")
    expect(page.locator("[data-section=complaint]")).to_contain_text(number, timeout=TIMEOUT)
    page.screenshot(path=artifact("complaint-walk-3-my-work.png"), full_page=True)
    # The list of this customer's complaints: an overdue one (received ten days ago) is shown in red.
    late = receive_late(app, mobile)
    page.goto(f"{base}/complaint/list/?_flt_0_customer={mobile}")
    expect(page.locator("tr.kefu-row", has_text=number)).to_contain_text(STATE["closed"], timeout=TIMEOUT)
    expect(page.locator("tr.kefu-row", has_text=number)).not_to_have_class(re.compile("kefu-overdue"))
    expect(page.locator("tr.kefu-row", has_text=late)).to_have_class(re.compile(r"\bdanger\b.*kefu-overdue"),
                                                                              timeout=TIMEOUT)
    page.screenshot(path=artifact("complaint-walk-4-list.png"), full_page=True)

    # The month at a glance for the manager: the statistics page with the complaint in its ledger.
    log_in(page, base, "cs_manager")
    page.goto(f"{base}/complaintstats/?sort=received_at&dir=desc")
    expect(page.locator(".kefu-ledger")).to_contain_text(number, timeout=TIMEOUT)
    expect(page.locator(".kefu-ledger tr", has_text=number)).to_contain_text(STATE["closed"], timeout=TIMEOUT)
    page.screenshot(path=artifact("complaint-walk-5-statistics.png"))  # the top: figures and breakdowns


def test_logging_out_is_the_navbar_form_and_a_link_only_asks(page: Page, live_server):
    """GET /logout/ (a bookmark, another site's link) shows a question and leaves the session alive;
    the navbar's logout button ends it."""
    base = live_server
    log_in(page, base, "cs_staff")
    page.goto(f"{base}/logout/")
    expect(page.get_by_text("确定要退出登录吗")).to_be_visible(timeout=TIMEOUT)
    page.goto(f"{base}/customer/list/")
    expect(page).to_have_url(re.compile(r"/customer/list/"), timeout=TIMEOUT)
    log_out(page, base)
    page.goto(f"{base}/customer/list/")
    expect(page).to_have_url(re.compile(r"/login/"), timeout=TIMEOUT)


def plan_awaiting_gm(app, mobile: str, tag: str) -> tuple[int, str]:
    """A major complaint received, confirmed and assessed through the domain: its handling plan waits in
    the GM's queue. The pending approval's id and the complaint's number."""
    from sqlalchemy import select

    from app.domain import approvals, complaints, records
    from app.extensions import db
    from app.models import Customer

    with app.app_context():
        try:
            sm = app.appbuilder.sm
            staff, manager = sm.find_user(username="cs_staff"), sm.find_user(username="cs_manager")
            customer_id = db.session.scalar(select(Customer.id).where(Customer.mobile == mobile))
            with records.unit_of_work(db.session):
                complaint = complaints.open_complaint(db.session, staff, channel="hotline", customer_id=customer_id,
                                                      content=f"外墙瓷砖脱落砸坏车辆，要求赔偿 {tag}")
                complaints.transition(db.session, complaint, "confirm", staff, complaint.version,
                                      {"confirmed_how": "电话回访客户，确认为有效投诉"})
                complaints.transition(db.session, complaint, "assess", manager, complaint.version, {
                    "severity": "major", "category": "engineering_quality",
                    "legal_opinion": f"先行委托第三方鉴定，按合同承担责任 {tag}",
                    "handling_plan": f"搭设吊篮排查外墙空鼓，拆除重贴；协商赔偿车辆维修费 {tag}"})
                approval = approvals.pending_for(db.session, complaint, "complaint_plan")
            return approval.id, complaint.number
        finally:
            db.session.remove()


def test_the_gm_approves_a_handling_plan_on_a_phone(phone_page: Page, live_server, app, artifact):
    """At 390×844: the GM finds the plan in my work, reads it and approves it; the page fits the screen."""
    page, base = phone_page, live_server
    tag = secrets.token_hex(3)
    approval_id, number = plan_awaiting_gm(app, demo_customer_mobile(app), tag)
    log_in(page, base, "gm")
    page.goto(f"{base}/mywork/")
    page.screenshot(path=artifact("phone-gm-1-my-work.png"), full_page=True)
    page.goto(f"{base}/approval/show/{approval_id}")
    expect(page.locator("body")).to_contain_text(number, timeout=TIMEOUT)
    expect(page.locator("body")).to_contain_text(f"协商赔偿车辆维修费 {tag}", timeout=TIMEOUT)  # the plan
    approve = page.locator("input[name=decision][value=approve]")
    if approve.count():  # the decision as radio buttons
        approve.check()
    else:
        page.locator("select#decision").select_option("approve", force=True)
    page.locator("#comment").fill(f"同意，按方案执行 {tag}")
    submit = page.locator("form.kefu-decide-form button[type=submit]")
    submit.scroll_into_view_if_needed()
    box = submit.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box  # on the screen, not beside it
    page.screenshot(path=artifact("phone-gm-2-approval.png"), full_page=True)
    with page.expect_navigation(timeout=TIMEOUT):
        submit.click()
    expect(page.locator(".alert-success")).to_have_count(1, timeout=TIMEOUT)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    page.screenshot(path=artifact("phone-gm-3-approved.png"), full_page=True)
    from app.extensions import db
    from app.models import Approval

    with app.app_context():
        try:
            approval = db.session.get(Approval, approval_id)
            assert (approval.state, approval.decided_by_name) == ("approved", "gm")
            assert approval.comment == f"同意，按方案执行 {tag}"
        finally:
            db.session.remove()
