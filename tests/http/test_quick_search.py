"""The lists' quick search (issue 14, item 4): one box that finds a complaint by its number (full or the
numeric part), the customer's name or full phone, words of the content or a unit «project building
number»; a near miss finds nothing, a masked or partial phone never matches; the active filters stay
visible above the list, each with a link that clears it. Visits, rectification items and return visits
take the same box.

Built on tests/seed.py's minimal records (not the demo), so what is found is exactly what was made here.
"""

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, _prepared, make_config


@pytest.fixture(scope="module")
def small(databases):
    from app import create_app
    from app.domain import complaints, records, visit_planning
    from app.domain.calendar import local_now
    from app.extensions import db
    from app.models import Customer, Unit
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
        people = {c.name: c for c in session.scalars(select(Customer))}
        units = {u.number: u.id for u in session.scalars(select(Unit))}
        now = local_now()
        made = {}
        with records.unit_of_work(session):
            for key, customer, unit, content in (
                    ("leak", "张三", "101", "卫生间渗水严重，楼下天花板发霉"),
                    ("door", "赵六", None, "门禁卡失灵，无法进入单元门"),
                    ("lift", "杭州试验贸易有限公司", "201", "电梯运行噪音很大")):
                made[key] = complaints.open_complaint(
                    session, staff, channel="hotline", customer_id=people[customer].id, content=content,
                    unit_id=units.get(unit), received_at=now - timedelta(hours=2))
            visit = visit_planning.plan_visit(session, staff, customer_id=people["赵六"].id,
                                              planned_at=now + timedelta(days=1), contact_name="赵六")
        ids = {key: c.id for key, c in made.items()}
        ids["visit"] = visit.id
        numbers = {key: c.number for key, c in made.items()}
        db.session.remove()
    client = app.test_client()
    assert client.post("/login/", data={"username": "cs_staff", "password": PASSWORD}).status_code == 302
    yield app, client, ids, numbers
    with app.app_context():
        db.engine.dispose()


def listed(client, url: str, **args) -> tuple[set[int], str]:
    """The pks of the rows the list shows (following the box's redirect), and the page."""
    response = client.get(url, query_string=args or None, follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    page = response.get_data(as_text=True)
    return {int(pk) for pk in re.findall(r'<tr class="kefu-row[^"]*" data-pk="(\d+)"', page)}, page


def found(client, text: str) -> set[int]:
    return listed(client, "/complaint/list/", q=text)[0]


def test_a_complaint_number_full_or_its_numeric_part_finds_it(small):
    _app, client, ids, numbers = small
    assert found(client, numbers["leak"]) == {ids["leak"]}
    assert found(client, str(ids["leak"])) == {ids["leak"]}
    assert found(client, f"{ids['leak']:06d}") == {ids["leak"]}
    assert found(client, f"TS2000-{ids['leak'] + 900:06d}") == set()  # a near miss
    assert found(client, f"ZF2026-{ids['leak']:06d}") == set()  # another list's number
    assert found(client, "9999999999") == set() and found(client, "TS2026-9999999999") == set()  # beyond INTEGER


def test_a_customer_found_by_name_and_full_mobile_never_by_a_part(small):
    _app, client, ids, _numbers = small
    assert found(client, "张三") == {ids["leak"]}
    assert found(client, "13800000003") == {ids["door"]}
    assert found(client, "138 0000 0003") == {ids["door"]}
    assert found(client, "张") == set()  # a part of a name is no customer's name, and no content word
    # a prefix, the masked form, a wrong last digit (digits alone are read as a number: none that high)
    for partial in ("1380000000", "138000", "138****0003", "138 0000", "13800000009"):
        assert found(client, partial) == set(), partial


def test_words_of_the_content_find_a_complaint_having_all_of_them(small):
    _app, client, ids, _numbers = small
    assert found(client, "渗水") == {ids["leak"]}
    assert found(client, "天花板 卫生间") == {ids["leak"]}
    assert found(client, "渗水 电梯") == set()


def test_a_unit_is_parsed_from_project_building_and_number(small):
    _app, client, ids, _numbers = small
    assert found(client, "试验花园 1栋 101") == {ids["leak"]}
    assert found(client, "试验花园1栋101") == {ids["leak"]}
    assert found(client, "试验花园 1栋 201") == {ids["lift"]}
    assert found(client, "试验花园 1栋 301") == set()  # a unit without complaints
    assert found(client, "试验花园 2栋 101") == set()  # no such building


def test_filters_by_first_responsible_state_and_overdue(small):
    _app, client, ids, _numbers = small
    everything = {ids["leak"], ids["door"], ids["lift"]}
    assert listed(client, "/complaint/list/", _flt_0_first_responsible="cs_staff")[0] == everything
    assert listed(client, "/complaint/list/", _flt_0_first_responsible="cs_manager")[0] == set()
    assert listed(client, "/complaint/list/", _flt_0_state="received")[0] == everything
    assert listed(client, "/complaint/list/", _flt_0_state="closed")[0] == set()
    assert listed(client, "/complaint/list/", _flt_0_overdue="y")[0] == set()  # received two hours ago
    assert listed(client, "/complaint/list/", _flt_0_overdue="n")[0] == everything


def test_active_filters_stay_visible_each_with_a_way_to_clear_it(small):
    _app, client, ids, _numbers = small
    response = client.get("/complaint/list/", query_string={"q": "渗水", "_flt_0_state": "received"})
    assert response.status_code == 302
    assert "_flt_0_quick=" in response.location and "_flt_0_state=received" in response.location
    rows, page = listed(client, unquote(response.location))
    assert rows == {ids["leak"]}
    chips = re.findall(r'data-filter="([^"]+)"', page)
    assert sorted(chips) == ["_flt_0_quick", "_flt_0_state"]
    chip_text = {key: re.sub(r"<[^>]+>|\s+", " ", body) for key, body in re.findall(
        r'data-filter="([^"]+)"[^>]*>(.*?)</span>', page, re.S)}
    assert "渗水" in chip_text["_flt_0_quick"]
    assert "受理" in chip_text["_flt_0_state"] and "received" not in chip_text["_flt_0_state"]  # its label
    assert 'value="渗水"' in page  # the box keeps the search
    clear_links = re.findall(r'class="kefu-clear-filter" href="([^"]+)"|href="([^"]+)" class="kefu-clear-filter"', page)
    clear = [a or b for a, b in clear_links]
    assert len(clear) == 2
    without_quick = next(u for u in clear if "_flt_0_quick" not in u)
    assert "_flt_0_state=received" in without_quick
    assert listed(client, unquote(without_quick.replace("&amp;", "&")))[0] == {ids["leak"], ids["door"], ids["lift"]}
    clear_all = re.search(r'class="btn btn-xs btn-default kefu-clear-filters" href="([^"]+)"', page).group(1)
    assert "_flt_" not in clear_all
    assert "kefu-active-filter" not in listed(client, clear_all.replace("&amp;", "&"))[1]


def test_the_box_on_visits_rectification_items_and_return_visits(small):
    _app, client, ids, _numbers = small
    assert listed(client, "/visit/list/", q="13800000003")[0] == {ids["visit"]}
    assert listed(client, "/visit/list/", q="13800000001")[0] == set()
    assert listed(client, "/visit/list/", q=f"ZF2026-{ids['visit']:06d}")[0] == {ids["visit"]}
    for url in ("/rectification/list/", "/returnvisit/list/"):
        rows, page = listed(client, url, q="赵六")
        assert rows == set() and 'id="kefu-q"' in page and 'data-filter="_flt_0_quick"' in page, url


def test_the_parser_reads_each_kind():
    from app.domain.search import parse

    assert parse("TS2026-000123").kind == "number" and parse("TS2026-000123").value == "123"
    assert parse("ts2026-000123").prefix == "TS"
    assert parse("2026-000123").value == "123"
    assert parse("13800000001").kind == "mobile"
    assert parse("0571-88886666").kind == "landline"
    assert parse("11010519491231002x").value == "11010519491231002X"
    assert parse("翠湖花园 2栋 701").unit == ("翠湖花园", "2栋", "701")
    assert parse("翠湖花园2栋701").unit == ("翠湖花园", "2栋", "701")
    assert parse("漏水").unit is None and parse("漏水").kind == "text"
    assert parse("  ") is None
