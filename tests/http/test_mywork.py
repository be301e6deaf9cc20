"""Start the day (issue 14, item 3): the landing page is my-work — sections with a count, column headers,
what is due, who acts and by when, overdue first, ten rows a page, and «只看超期».

Built on tests/seed.py's minimal records: twelve complaints received by cs_staff, five of them long ago
(their acknowledgement overdue), so that what each section counts is exactly what was made here.
"""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, _prepared, make_config

OLD, NEW = 5, 7


@pytest.fixture(scope="module")
def small(databases):
    from app import create_app
    from app.domain import complaints, records
    from app.domain.calendar import local_now
    from app.extensions import db
    from app.models import Customer
    from tests.conftest import _prepare_migrated
    from tests.seed import seed_minimal

    def build(app):
        _prepare_migrated(app, {})
        with app.app_context():
            seed_minimal(db.session, app.appbuilder, PASSWORD)
            db.session.remove()

    app = create_app(make_config(databases.new()))
    _prepared(app, ("seeded",), {}, build)
    with app.app_context():
        session = db.session
        staff = app.appbuilder.sm.find_user(username="cs_staff")
        customer = session.scalar(select(Customer.id).where(Customer.name == "张三"))
        now = local_now()
        made = []
        with records.unit_of_work(session):
            for i in range(OLD + NEW):
                received = now - (timedelta(days=20, hours=i) if i < OLD else timedelta(minutes=10 + i))
                made.append(complaints.open_complaint(session, staff, channel="hotline", customer_id=customer,
                                                      content=f"我的工作测试 {i}", received_at=received))
        numbers = [c.number for c in made]
        db.session.remove()
    clients = {}
    for name in ("cs_staff", "cs_manager", "gm"):
        clients[name] = app.test_client()
        assert clients[name].post("/login/", data={"username": name, "password": PASSWORD}).status_code == 302
    yield clients, numbers
    with app.app_context():
        db.engine.dispose()


def section(page: str, key: str) -> str:
    match = re.search(rf'data-section="{key}">(.*?)(?=data-section="|\Z)', page, re.S)
    assert match, f"no section {key}"
    return match.group(1)


def rows(body: str) -> list[tuple[str, bool]]:
    """(number, overdue) of each row, in order."""
    return [(number, "kefu-overdue" in classes) for classes, number in re.findall(
        r'<tr class="(kefu-work-row[^"]*)">\s*<td><a href="[^"]*">([^<]*)</a>', body)]


def count(body: str) -> int:
    return int(re.search(r'class="badge kefu-work-count">(\d+)<', body).group(1))


def test_sections_count_exactly_the_persons_items_with_headers_overdue_first(small):
    clients, numbers = small
    page = clients["cs_staff"].get("/mywork/").get_data(as_text=True)
    mine = section(page, "complaint")
    assert count(mine) == OLD + NEW
    assert "kefu-work-overdue-count" in mine and "超期 5 件" in mine
    for header in ("编号", "待办事项", "办理人", "期限"):
        assert f">{header}</th>" in mine, header
    shown = rows(mine)
    assert [late for _n, late in shown] == [True] * OLD + [False] * NEW  # overdue first
    assert {n for n, late in shown if late} == set(numbers[:OLD]) and {n for n, _l in shown} == set(numbers)
    assert 'aria-controls="kefu-work-body-complaint"' in mine and "收起 / 展开" in mine  # it folds away
    assert "kefu-work-more" not in mine  # all on one page
    assert "首问责任人：李晓梅" in mine  # who acts, in words
    assert set(re.findall(r'data-section="([a-z_]+)"', page)) == {"complaint"}  # nothing else waits for them
    # nobody else has these
    for name in ("cs_manager", "gm"):
        theirs = clients[name].get("/mywork/").get_data(as_text=True)
        assert not set(numbers) & set(re.findall(r"TS\d{4}-\d{6}", theirs)), name
        assert 'data-section="complaint"' not in theirs, name


def test_a_long_section_pages_on_server_side(small, monkeypatch):
    from app.views import work

    clients, numbers = small
    monkeypatch.setattr(work, "MY_WORK_LIMIT", 5)
    first = clients["cs_staff"].get("/mywork/").get_data(as_text=True)
    more = re.search(r'class="btn btn-xs btn-default kefu-work-more" href="([^"]+)"', section(first, "complaint"))
    assert more and "p_complaint=2" in more.group(1) and "第 1 / 3 页" in first
    seen = [n for n, _l in rows(section(first, "complaint"))]
    for page_number in (2, 3):
        page = clients["cs_staff"].get(f"/mywork/?p_complaint={page_number}").get_data(as_text=True)
        seen += [n for n, _l in rows(section(page, "complaint"))]
    assert len(seen) == OLD + NEW and set(seen) == set(numbers)
    assert "kefu-work-more" not in section(page, "complaint") and "kefu-work-previous" in section(page, "complaint")
    assert count(section(page, "complaint")) == OLD + NEW


def test_overdue_only(small):
    clients, numbers = small
    page = clients["cs_staff"].get("/mywork/?overdue=1").get_data(as_text=True)
    mine = section(page, "complaint")
    assert count(mine) == OLD
    assert sorted(n for n, _l in rows(mine)) == sorted(numbers[:OLD])
    assert all(late for _n, late in rows(mine))
    assert "只看超期" in page


def test_the_landing_page_is_my_work(small):
    clients, numbers = small
    page = clients["cs_staff"].get("/").get_data(as_text=True)
    assert "客服专员" in page  # the greeting with the roles stays
    assert count(section(page, "complaint")) == OLD + NEW
    assert numbers[0] in page
    only_late = clients["cs_staff"].get("/?overdue=1").get_data(as_text=True)
    assert count(section(only_late, "complaint")) == OLD


def test_an_approval_is_overdue_after_a_day_by_one_definition():
    from app.domain import worklist
    from app.models import Approval

    requested = datetime(2026, 12, 1, 0, 0)  # UTC; due 2026-12-02 08:00 China time
    approval = Approval(state="pending", requested_at=requested)
    assert worklist.approval_due_at(approval) == datetime(2026, 12, 2, 8, 0)
    assert not worklist.approval_overdue(approval, datetime(2026, 12, 2, 7, 59))
    assert worklist.approval_overdue(approval, datetime(2026, 12, 2, 8, 1))
    approval.state = "approved"
    assert not worklist.approval_overdue(approval, datetime(2026, 12, 3))
