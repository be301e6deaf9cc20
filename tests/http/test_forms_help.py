"""Forms that help (issue 14, item 5), on the minimal seed (tests/seed.py: 张三 holds 试验花园 1栋 101, the
company holds 201, 赵六 holds none): the customer lookup of the receipt form (name, full phone or ID-card
number only, masked, scoped), the unit taken from the customer's units, every error of a submit at once,
the handling-deadline rules through the API and the form, satisfaction in words, several evidence files at
once, an approval without a decision refused, and a refused delete that says why."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, _prepared, make_config

from .conftest import form_values, text_of

PERSON_MOBILE, PERSON_ID = "13800000001", "11010519491231002X"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


@pytest.fixture(scope="module")
def app(databases):
    """An app on a copy of the minimal seed (no demo data)."""
    from app import create_app
    from app.extensions import db
    from tests.conftest import _prepare_migrated
    from tests.seed import seed_minimal

    def build(app):
        _prepare_migrated(app, {})
        with app.app_context():
            seed_minimal(db.session, app.appbuilder, PASSWORD)
            db.session.remove()

    app = create_app(make_config(databases.new()))
    _prepared(app, ("seeded",), {}, build)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def client_of(app):
    """client_of('cs_staff') -> a logged-in test client, one per user for the module."""
    clients = {}

    def _get(username):
        if username not in clients:
            client = app.test_client()
            assert client.post("/login/", data={"username": username, "password": PASSWORD}).status_code == 302
            clients[username] = client
        return clients[username]

    return _get


@pytest.fixture(scope="module")
def token_of(app):
    def _get(username):
        client = app.test_client()
        answer = client.post("/api/v1/security/login",
                             json={"username": username, "password": PASSWORD, "provider": "db"})
        return client, {"Authorization": f"Bearer {answer.get_json()['access_token']}"}

    return _get


def read(app, fn):
    from app.extensions import db

    with app.app_context():
        try:
            return fn(db.session)
        finally:
            db.session.rollback()
            db.session.remove()


def ids(app):
    from app.models import Customer, Department, Unit

    def fn(s):
        return {"person": s.scalar(select(Customer.id).where(Customer.mobile == PERSON_MOBILE)),
                "company": s.scalar(select(Customer.id).where(Customer.mobile == "13800000002")),
                "prospect": s.scalar(select(Customer.id).where(Customer.mobile == "13800000003")),
                "unit101": s.scalar(select(Unit.id).where(Unit.number == "101")),
                "unit201": s.scalar(select(Unit.id).where(Unit.number == "201")),
                "eng": s.scalar(select(Department.id).where(Department.code == "ENG"))}
    return read(app, fn)


def complaint_in(app, state: str, severity="general", customer_mobile=PERSON_MOBILE) -> int:
    """A complaint walked through the domain to `state` ("investigating" or "assessed_major")."""
    from app.domain import complaints, records
    from app.extensions import db
    from app.models import Customer, Department

    with app.app_context():
        s, sm = db.session, app.appbuilder.sm
        user = {n: sm.find_user(username=n) for n in ("cs_staff", "cs_manager")}
        customer_id = s.scalar(select(Customer.id).where(Customer.mobile == customer_mobile))
        with records.unit_of_work(s):
            c = complaints.open_complaint(s, user["cs_staff"], channel="hotline", customer_id=customer_id,
                                          content="卫生间渗水")
        steps = [("confirm", "cs_staff", {"confirmed_how": "电话确认"})]
        if severity == "general":
            steps += [("assess", "cs_manager", {"severity": "general", "category": "engineering_quality"}),
                      ("assign", "cs_manager", {"department_id": s.scalar(select(Department.id).where(
                          Department.code == "ENG")), "assigned_post": "主管", "assigned_person": "赵工"})]
        else:
            steps += [("assess", "cs_manager", {"severity": "major", "category": "engineering_quality",
                                                "legal_opinion": "先行委托第三方鉴定", "handling_plan": "重做防水层"})]
        for action, who, fields in steps:
            with records.unit_of_work(s):
                complaints.transition(s, c, action, user[who], c.version, fields)
        pk = c.id
        s.remove()
        return pk


# --- the customer lookup ----------------------------------------------------------------------------

def lookup(client, q):
    response = client.get("/customer/lookup", query_string={"q": q})
    return response.status_code, (response.get_json() or {}).get("results")


def test_lookup_by_name_shows_masked_phones_and_the_units(client_of, app):
    status, results = lookup(client_of("cs_staff"), "张")
    assert status == 200
    assert [(r["name"], r["mobile"], [u["label"] for u in r["units"]]) for r in results] == [
        ("张三", "138****0001", ["试验花园 1栋 101"])]
    raw = client_of("cs_staff").get("/customer/lookup?q=张三").get_data(as_text=True)
    assert PERSON_MOBILE not in raw and PERSON_ID not in raw


@pytest.mark.parametrize("typed, found", [
    (PERSON_MOBILE, ["张三"]), ("138 0000 0001", ["张三"]), (PERSON_ID, ["张三"]), (PERSON_ID.lower(), ["张三"]),
    ("1380000", []), ("138000000", []), ("13800000", []), ("0001", []), ("110105", []), (PERSON_ID[:17], []),
    ("138****0001", []), ("试验贸易", ["杭州试验贸易有限公司"]), ("", []), ("无此人", []),
])
def test_lookup_takes_a_phone_or_id_number_only_whole(typed, found, client_of):
    status, results = lookup(client_of("cs_staff"), typed)
    assert status == 200 and [r["name"] for r in results] == found


def test_lookup_is_capped_and_scoped_and_needs_a_login(client_of, app):
    status, results = lookup(client_of("cs_manager"), "1")  # digits alone: a part of a number, nothing
    assert status == 200 and results == []
    status, results = lookup(client_of("cs_manager"), "三")
    assert status == 200 and 1 <= len(results) <= 10
    status, results = lookup(client_of("eng_staff"), "张三")  # department staff see no customers
    assert status == 403 and results is None
    anonymous = app.test_client().get("/customer/lookup?q=张三")
    assert anonymous.status_code == 302 and "/login/" in anonymous.headers["Location"]


# --- receiving: the customer, the unit, every error at once --------------------------------------

def receive(client, **fields):
    data = form_values(text_of(client.get("/complaint/add")), 'name="customer"')
    data.update(channel="hotline", content="客厅墙面空鼓")
    data.update(fields)
    return client.post("/complaint/add", data=data)


def last_complaint(app):
    from app.models import Complaint

    return read(app, lambda s: s.execute(select(Complaint.id, Complaint.customer_id, Complaint.unit_id,
                                                Complaint.remedy_requested)
                                         .order_by(Complaint.id.desc()).limit(1)).one())


def test_a_name_finds_the_customer_and_the_only_unit_is_taken(client_of, app):
    known = ids(app)
    response = receive(client_of("cs_staff"), customer="张三", remedy_requested="重做防水")
    assert response.status_code == 302 and "/complaint/show/" in response.headers["Location"]
    made = last_complaint(app)
    assert (made.customer_id, made.unit_id, made.remedy_requested) == (known["person"], known["unit101"], "重做防水")


def test_the_unit_is_offered_from_the_customers_units_and_prefilled(client_of, app):
    known = ids(app)
    page = text_of(client_of("cs_staff").get(f"/complaint/add?customer={PERSON_MOBILE}"))
    unit_select = page[page.index('id="unit_id"'):page.index("</select>", page.index('id="unit_id"'))]
    assert re.findall(r'<option[^>]*value="(\d+)"', unit_select) == [str(known["unit101"])]
    assert "selected" in unit_select and "试验花园 1栋 101" in unit_select
    # A unit that is not the customer's is refused beside the unit, nothing written.
    before = last_complaint(app).id
    page = text_of(receive(client_of("cs_staff"), customer=PERSON_MOBILE, unit_id=str(known["unit201"])))
    assert "该房号不在此客户名下" in cell(page, "unit_id") and last_complaint(app).id == before


def test_a_choice_among_suggestions_is_what_the_script_sends(client_of, app):
    known = ids(app)
    response = receive(client_of("cs_staff"), customer="试验", customer_id=str(known["company"]),
                       unit_id=str(known["unit201"]))
    assert response.status_code == 302
    made = last_complaint(app)
    assert (made.customer_id, made.unit_id) == (known["company"], known["unit201"])


def cell(page: str, field: str) -> str:
    start = page.index(f'id="{field}"')
    return page[start:page.index("</td>", start)]


def test_every_error_of_a_submit_is_shown_at_once_and_nothing_typed_is_lost(client_of, app):
    before = last_complaint(app).id if read(app, _count) else None
    future = "2099-01-01T10:00"
    response = receive(client_of("cs_staff"), channel="", customer="无此人", content="", received_at=future,
                       remedy_requested="赔偿损失")
    page = text_of(response)
    assert response.status_code == 200
    for field, words in (("channel", "渠道"), ("customer", "未找到客户"), ("content", "必填"),
                         ("received_at", "不能晚于今天")):
        assert "alert-danger" in cell(page, field), field
        assert words in cell(page, field), (field, cell(page, field))
    assert 'value="无此人"' in page and "赔偿损失</textarea>" in page and future in page
    assert (last_complaint(app).id if read(app, _count) else None) == before


def _count(s):
    from app.models import Complaint

    return s.scalar(select(func.count()).select_from(Complaint))


# --- deadlines --------------------------------------------------------------------------------------

START = {"cause_analysis": "防水层破损", "report": "现场勘查报告", "measures": "重做防水", "handling_person": "赵工"}


def close_by(app, pk):
    from app.models import Complaint

    return read(app, lambda s: s.get(Complaint, pk).close_due_at.date())


def test_deadline_rules_through_the_api(token_of, app):
    from app.domain.calendar import local_now

    pk = complaint_in(app, "investigating")
    client, headers = token_of("eng_staff")
    version = client.get(f"/api/v1/complaint/{pk}", headers=headers).get_json()["result"]["version"]

    def step(**fields):
        return client.post(f"/api/v1/complaint/{pk}/transition", headers=headers,
                           json={"action": "start_handling", "version": version, **START, **fields})

    past = step(handling_deadline=f"{local_now().date() - timedelta(days=1):%Y-%m-%d}")
    assert past.status_code == 422 and "处理期限不能早于今天" in past.get_json()["errors"]["handling_deadline"]
    late = f"{close_by(app, pk) + timedelta(days=1):%Y-%m-%d}"
    no_reason = step(handling_deadline=late)
    assert no_reason.status_code == 422 and "请填写原因" in no_reason.get_json()["errors"]["deadline_reason"]
    assert step(handling_deadline=late, deadline_reason="需等待第三方检测").status_code == 200


def test_deadline_rules_through_the_form(client_of, app):
    from app.domain.calendar import local_now

    pk = complaint_in(app, "investigating")
    client = client_of("eng_staff")
    data = form_values(text_of(client.get(f"/complaint/transition/{pk}/start_handling")), 'name="version"')
    past = f"{local_now().date() - timedelta(days=2):%Y-%m-%d}"
    response = client.post(f"/complaint/transition/{pk}/start_handling", data={**data, **START,
                                                                               "handling_deadline": past})
    page = text_of(response)
    assert response.status_code == 422
    assert "处理期限不能早于今天" in cell(page, "handling_deadline")
    assert "重做防水</textarea>" in page and 'value="赵工"' in page and past in page  # nothing typed lost
    ok = f"{close_by(app, pk):%Y-%m-%d}"  # on the close-by day itself: no reason needed
    response = client.post(f"/complaint/transition/{pk}/start_handling", data={**data, **START,
                                                                               "handling_deadline": ok})
    assert response.status_code == 302


# --- satisfaction in words -------------------------------------------------------------------------

def test_satisfaction_is_chosen_and_shown_in_words(client_of, app):
    from app.models.choices import Satisfaction
    from app.views.workflow import SCORES

    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert [(v, str(t)) for v, t in SCORES[1:]] == [
            ("5", "5 非常满意"), ("4", "4 满意"), ("3", "3 一般"), ("2", "2 不满意"), ("1", "1 非常不满意")]
        assert Satisfaction.label_of(4) == "4 满意" and Satisfaction.label_of(None) == ""
    from app import labels

    with app.test_request_context():
        assert labels.readable("satisfaction", 2) == "2 不满意"
        assert labels.readable("return_visit_satisfaction", 5) == "5 非常满意"


# --- evidence ---------------------------------------------------------------------------------------

def test_several_evidence_files_at_once_listed_and_downloadable(client_of, app):
    pk = complaint_in(app, "investigating")
    client = client_of("cs_staff")
    response = client.post(f"/complaint/attach/{pk}", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(PNG), "现场照片.png"), (io.BytesIO(PDF), "检测报告.pdf")]})
    assert response.status_code == 302
    page = text_of(client.get(f"/complaint/show/{pk}"))
    assert 'multiple' in page and 'capture="environment"' in page and 'accept="image/*,application/pdf"' in page
    links = re.findall(r'class="kefu-attachment" href="([^"]+)">([^<]+)<', page)
    assert [name for _, name in links] == ["现场照片.png", "检测报告.pdf"]
    download = client.get(links[1][0])
    assert download.status_code == 200 and download.data == PDF and download.mimetype == "application/pdf"
    # One bad file refuses them all, naming it; nothing is kept.
    response = client.post(f"/complaint/attach/{pk}", content_type="multipart/form-data", data={
        "files": [(io.BytesIO(PNG + b"1"), "好.png"), (io.BytesIO(b"<html>x</html>"), "坏.html")]})
    page = text_of(client.get(response.headers["Location"]))
    assert "坏.html" in page and len(re.findall(r'class="kefu-attachment"', page)) == 2


# --- the general manager's approval -----------------------------------------------------------------

def test_the_approval_page_shows_the_complaint_and_refuses_no_decision(client_of, app):
    from app.models import Approval

    pk = complaint_in(app, "assessed", severity="major")
    approval_id = read(app, lambda s: s.scalar(select(Approval.id).where(
        Approval.subject_table == "complaint", Approval.subject_id == pk, Approval.state == "pending")))
    client = client_of("gm")
    page = text_of(client.get(f"/approval/show/{approval_id}"))
    for words in ("卫生间渗水", "张三", "先行委托第三方鉴定", "重做防水层", "138****0001"):
        assert words in page, words
    assert "checked" not in page[page.index('name="decision"') - 200:page.index("</ul>", page.index('name="decision"'))]
    response = client.post(f"/approval/decide/{approval_id}", data={"comment": ""})
    assert response.status_code == 422
    assert "审批结论只能是" in text_of(response)
    assert read(app, lambda s: s.get(Approval, approval_id).state) == "pending"


# --- a refused delete says why ------------------------------------------------------------------------

def test_a_refused_delete_says_why(client_of, token_of, app):
    from app.models import Building, Customer, Department

    complaint_in(app, "investigating", customer_mobile="13800000003")  # 赵六: one complaint, no unit
    known = ids(app)
    client, headers = token_of("cs_manager")
    version = read(app, lambda s: s.get(Customer, known["prospect"]).version)
    refused = client.delete(f"/api/v1/customer/{known['prospect']}?version={version}", headers=headers)
    assert refused.status_code == 409 and refused.get_json()["message"] == "该客户有 1 件投诉，不能删除"
    assert read(app, lambda s: s.get(Customer, known["prospect"])) is not None
    page = text_of(client_of("cs_manager").post(f"/customer/delete/{known['prospect']}", follow_redirects=True))
    assert "该客户有 1 件投诉，不能删除" in page  # the list page's delete button: the same words
    assert read(app, lambda s: s.get(Customer, known["prospect"])) is not None
    from app.domain import in_use, records
    from app.domain.errors import ConflictError

    with app.test_request_context(headers={"Accept-Language": "zh"}):
        from app.extensions import db

        building = db.session.scalar(select(Building))
        with pytest.raises(ConflictError) as err:
            records.delete(db.session, building, None, building.version)
        assert str(err.value) == "该楼栋有 3 个房号，不能删除"
        department = db.session.get(Department, known["eng"])
        with pytest.raises(in_use.InUseError) as err:
            in_use.check_deletable(db.session, department)
        assert str(err.value).startswith("该部门有 ") and str(err.value).endswith("，不能删除")
        db.session.rollback()



# --- printing in one click ---------------------------------------------------------------------------

def test_a_print_files_the_form_and_opens_its_pdf(client_of, app):
    from app.models import ArchiveRecord

    client = client_of("cs_staff")
    page = text_of(client.get(f"/complaint/show/{complaint_in(app, 'investigating')}"))
    assert 'name="open" value="pdf"' in page or "kefu-print-form" not in page
    before = read(app, lambda s: s.scalar(select(func.count()).select_from(ArchiveRecord)))
    response = client.post("/print/blank/opinion_sheet", data={"open": "pdf"})
    assert response.status_code == 302
    file_url = response.headers["Location"]
    assert re.search(r"/archive/file/\d+$", file_url)
    assert read(app, lambda s: s.scalar(select(func.count()).select_from(ArchiveRecord))) == before + 1
    pdf = client.get(file_url)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    # Without `open` (another page's own button), the archived copy's page, as before.
    assert "/archive/show/" in client.post("/print/blank/opinion_sheet").headers["Location"]
