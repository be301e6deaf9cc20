"""Chinese on every screen (issue 14 item 1): every demo user walks every page they can reach — the menu,
lists, detail pages, add and edit forms, step forms (tests/http/chinese_crawl.py) — and no page shows an
English word or a raw code outside the short allowlist of tests/http/chinese.py. The detector is itself
tested on pages with English put in, so the walk can fail."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, USERNAMES
from tests.http.chinese import english, findings, visible_texts
from tests.http.chinese_crawl import crawl_as

# A login name is an account's name, like an e-mail address: the user administration pages show it as such.
LOGIN_PAGES = ("KefuUserDBModelView.", "RoleModelView.")


# --- the detector ------------------------------------------------------------------------------------

PAGE = """<html><head><title>{title}</title><style>.x {{ color: red }}</style>
<script>var label = "Cancel";</script></head><body>
<nav><a href="/" title="{tip}">首页</a></nav>
<table><tr><td>{cell}</td><td>TS2026-000123</td><td>138****5678</td></tr></table>
<form><input type="submit" value="{button}"><input name="q" placeholder="{hint}">
<select><option value="x">{option}</option></select></form>
<span translate="no">SALES</span><p>文件 a.pdf，PDF/A，QR 码，KF/QR-02，`flask --app run calendar seed`</p>
</body></html>"""
CHINESE = dict(title="投诉列表", tip="回到首页", cell="已受理", button="保存", hint="搜索", option="热线")


def test_a_chinese_page_passes():
    assert findings(PAGE.format(**CHINESE)) == []


@pytest.mark.parametrize("slot, english_text", [
    ("title", "Complaints"), ("tip", "Back home"), ("cell", "None"), ("cell", "True"), ("cell", "SALES"),
    ("cell", "front_desk"), ("button", "OK"), ("hint", "Search"), ("option", "Hotline"), ("cell", "已受理 Cancel"),
])
def test_english_anywhere_a_person_reads_it_is_found(slot, english_text):
    page = PAGE.format(**{**CHINESE, slot: english_text})
    found = [w for _, _, words in findings(page) for w in words]
    assert found and set(found) <= set(english_text.replace("已受理 ", "").split()), found


def test_scripts_styles_and_marked_codes_are_not_read():
    texts = " ".join(text for _, text in visible_texts(PAGE.format(**CHINESE)))
    assert "Cancel" not in texts and "color" not in texts and "SALES" not in texts
    assert english("编号 TS2026-000123、身份证 3301**********803X、校验码 218F-F937-680A-C17E、a.pdf") == []
    assert english("部门 SALES、None、can_list") == ["SALES", "None", "can_list"]


# --- the walk ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def walked(app, targets_plain):
    """Every demo user's pages (one walk each, shared by the tests below)."""
    return {username: crawl_as(app, targets_plain, username, PASSWORD) for username in USERNAMES}


@pytest.fixture(scope="module")
def targets_plain(app):
    from tests.http.crawl import Targets

    return Targets(app)


def _logins(app) -> set[str]:
    from tests.http.conftest import Db

    with Db(app).session() as s:
        return {u.username for u in s.query(app.appbuilder.sm.user_model)}


def test_every_page_of_every_user_is_in_chinese(app, walked):
    logins = _logins(app)
    problems = []
    for username, pages in walked.items():
        for page in pages:
            allowed = logins if page.endpoint.startswith(LOGIN_PAGES) else set()
            for where, text, words in findings(page.body):
                if set(words) - allowed:
                    problems.append(f"{username} {page.url} [{page.status}] {where} {text!r}: {words}")
    assert not problems, f"{len(problems)} pieces of English:\n" + "\n".join(sorted(set(problems))[:80])


def test_the_walk_reached_the_kinds_of_pages(walked):
    """The walk is not empty: each user reached pages, and together lists, detail pages, forms and step
    forms of the workflows, and error pages."""
    endpoints = {p.endpoint for pages in walked.values() for p in pages}
    assert all(len([p for p in pages if p.status == 200]) >= 10 for pages in walked.values())
    for expected in ("ComplaintView.list", "ComplaintView.show", "ComplaintView.add", "ComplaintView.transition",
                     "VisitView.transition", "CustomerView.edit", "AuditLogView.list", "MyWorkView.index",
                     "KefuUserDBModelView.list", "RoleModelView.list"):
        assert expected in endpoints, expected
    assert {403, 404} <= {p.status for pages in walked.values() for p in pages}


# --- China time, said once per page (issue 14 item 2) -------------------------------------------------

ZONE_NOTE = "时间均为北京时间"


def test_every_page_says_once_that_times_are_china_time(walked):
    pages = [p for pages in walked.values() for p in pages if p.status == 200]
    wrong = sorted({p.url for p in pages if p.body.count(ZONE_NOTE) != 1})
    assert not wrong, wrong[:20]


def test_a_stored_utc_moment_shows_eight_hours_later(app, html_as):
    """A customer's audit rows and bookkeeping times are stored in UTC: its page (history included) and the
    audit log show them in China time, never the stored UTC reading."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.models import AuditLog, Customer
    from tests.http.conftest import Db

    with Db(app).session() as s:
        customer = s.scalars(select(Customer).order_by(Customer.id)).first()
        rows = s.scalars(select(AuditLog).where(AuditLog.table_name == "customer",
                                                AuditLog.record_id == str(customer.id))).all()
        pk, created, moments = customer.id, customer.created_at, [r.at for r in rows]
    assert moments, "the demo customer has no audit rows"
    page = html_as("cs_staff").get(f"/customer/show/{pk}").get_data(as_text=True)
    for at in moments:
        china = at + timedelta(hours=8)
        assert f"{china:%Y-%m-%d %H:%M:%S}" in page
        if china.date() != at.date() or china.hour != at.hour:
            assert f"{at:%Y-%m-%d %H:%M:%S}" not in page
    assert f"{created + timedelta(hours=8):%Y-%m-%d %H:%M}" in page
    log = html_as("auditor").get(f"/auditlog/list/?_flt_0_record_id={pk}&_flt_0_table_name=customer")
    assert f"{moments[0] + timedelta(hours=8):%Y-%m-%d %H:%M:%S}" in log.get_data(as_text=True)


# --- labels that said the wrong thing (issue 14 item 6) --------------------------------------------------

def test_the_labels_say_what_the_field_is(app, html_as):
    from sqlalchemy import select

    from app.models import ArchiveRecord, CaseEntry, VisitSummary
    from tests.http.conftest import Db

    with Db(app).session() as s:
        retentions = set(s.scalars(select(ArchiveRecord.retention_years)))
        case_id = s.scalar(select(CaseEntry.id).where(CaseEntry.source_table == "complaint").limit(1))
        summary_id = s.scalar(select(VisitSummary.id).limit(1))
    archive = html_as("archivist").get("/archive/list/").get_data(as_text=True)
    assert retentions, "the demo has no archived copies"
    for years in retentions:
        assert ("永久" if years is None else f"{years} 年") in archive
    cases = html_as("cs_manager").get("/caseentry/list/").get_data(as_text=True)
    assert "项目阶段" in cases and "问题类别" in cases and "客户阶段" not in cases and "投诉类别" not in cases
    returns = html_as("cs_staff").get("/returnvisit/list/").get_data(as_text=True)
    assert "应回访时间" in returns and "应还日期" not in returns
    if summary_id:
        summary = html_as("cs_manager").get(f"/visitsummary/show/{summary_id}").get_data(as_text=True)
        assert "报告内容" in summary and "投诉内容" not in summary
    case = html_as("cs_manager").get(f"/caseentry/show/{case_id}").get_data(as_text=True)
    assert "投诉 TS" in case, "the source record is named by its number"


def test_error_pages_are_chinese_inside_the_layout(html_as):
    """405 (a GET on a POST-only route) and 404 (no such page; no such record) as well as the walk's 403s."""
    client = html_as("cs_staff")
    for url, status in (("/customer/delete/1", 405), ("/no-such-page/", 404), ("/customer/show/2147483000", 404)):
        response = client.get(url)
        page = response.get_data(as_text=True)
        assert response.status_code == status, (url, response.status_code)
        assert findings(page) == [], (url, findings(page))
        assert 'class="navbar' in page and ZONE_NOTE in page, url  # the layout with its menu
