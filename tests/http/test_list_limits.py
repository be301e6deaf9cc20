"""Lists stay fast as data grows: capped counts, capped page size, a fixed number of statements per page."""


import pytest
from sqlalchemy import event

from app.extensions import db
from tests.conftest import PASSWORD, demo_app


@pytest.fixture
def capped_app(databases):
    """An app whose count cap is 50, on a database with the 200 demo customers."""
    app = demo_app(databases.new(), complaint_count=0, KEFU_COUNT_CAP=50)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _login(app, username="cs_staff"):
    client = app.test_client()
    assert client.post("/login/", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def test_a_count_past_the_cap_is_shown_as_cap_plus(capped_app):
    html = _login(capped_app).get("/customer/list/").get_data(as_text=True)
    assert "50+" in html
    assert 'class="kefu-count-capped"' in html


def test_a_count_below_the_cap_is_exact(capped_app):
    client = _login(capped_app)
    html = client.get("/customer/list/?_flt_0_name=王").get_data(as_text=True)
    assert 'class="kefu-count-capped"' not in html


def test_the_api_count_is_capped_too(capped_app):
    client = capped_app.test_client()
    token = client.post("/api/v1/security/login", json={"username": "cs_staff", "password": PASSWORD,
                                                        "provider": "db"}).get_json()["access_token"]
    body = client.get("/api/v1/customer/", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["count"] == 51


def _statements(app, client, url):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    client.get(url)  # warm up: FAB caches a few look-ups on its first request
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.status_code
    return statements


def test_statements_per_list_page_do_not_grow_with_the_page_size(app, login):
    client = login("cs_staff")
    small = len(_statements(app, client, "/customer/list/?psize_CustomerView=5"))
    large = len(_statements(app, client, "/customer/list/?psize_CustomerView=100"))
    assert small == large, f"{small} statements for 5 rows but {large} for 100: a query per row"


def test_statements_per_api_page_do_not_grow_with_the_page_size(app, api):
    client = api("cs_staff")
    small = len(_statements(app, client, "/api/v1/customer/?q=(page_size:5)"))
    large = len(_statements(app, client, "/api/v1/customer/?q=(page_size:100)"))
    assert small == large


def test_the_api_count_joins_no_related_table_and_still_counts_the_filtered_rows(app, api):
    """The API lists related columns (customer, department) but counts the complaints alone."""
    from sqlalchemy import func, select

    from app.models import Complaint

    client = api("cs_staff")
    counts = [sql for sql in _statements(app, client, "/api/v1/complaint/?q=(page_size:5)") if "count(*)" in sql]
    assert len(counts) == 1 and "JOIN" not in counts[0].upper(), counts
    with app.app_context():
        received = db.session.scalar(select(func.count()).select_from(Complaint).where(Complaint.state == "received"))
        department = db.session.scalar(select(Complaint.department_id).where(Complaint.department_id.is_not(None)))
        in_department = db.session.scalar(select(func.count()).select_from(Complaint)
                                          .where(Complaint.department_id == department))
    assert 0 < received and 0 < in_department
    body = client.get("/api/v1/complaint/?q=(filters:!((col:state,opr:eq,value:received)),page_size:5)").get_json()
    assert body["count"] == received
    body = client.get(f"/api/v1/complaint/?q=(filters:!((col:department_id,opr:eq,value:{department})))").get_json()
    assert body["count"] == in_department


def test_page_size_is_capped_at_100(app, login, api):
    html = login("cs_staff").get("/customer/list/?psize_CustomerView=100000").get_data(as_text=True)
    assert html.count('name="rowid"') <= 100
    body = api("cs_staff").get("/api/v1/customer/?q=(page_size:1000)").get_json()
    assert len(body["result"]) <= 100


def test_the_api_checks_each_query_schema_once_and_still_refuses_bad_arguments(app, api, monkeypatch):
    """The `q` argument's JSON schema is meta-checked once per schema (app/api/rison_schemas.py), not on
    every request; a malformed argument is still refused with FAB's 400 and its message."""
    from flask_appbuilder.api.schemas import get_list_schema
    from jsonschema.validators import validator_for

    from app.api import rison_schemas

    checks = []
    validator_class = validator_for(get_list_schema)
    original = validator_class.check_schema
    monkeypatch.setattr(validator_class, "check_schema", classmethod(
        lambda cls, schema, *a, **k: checks.append(schema) or original.__func__(cls, schema, *a, **k)))
    monkeypatch.setattr(rison_schemas, "_validators", {})
    client = api("cs_staff")
    for size in (5, 6, 7):
        assert client.get(f"/api/v1/customer/?q=(page_size:{size})").status_code == 200
    assert checks == [get_list_schema]

    refused = client.get("/api/v1/customer/?q=(page_size:'many')")
    assert refused.status_code == 400
    assert refused.get_json()["message"] == "请求无效。"  # FAB's English detail is not the message
    assert client.get("/api/v1/customer/?q=(filters:'name')").status_code == 400
    assert checks == [get_list_schema]


def test_a_page_beyond_any_offset_is_an_empty_page_not_a_server_error(app, api, login):
    """Page 2986259073561879040 of 25 rows overflowed SQLite's 64-bit INTEGER (a 500, found by schemathesis)."""
    for path in ("/api/v1/customer/", "/api/v1/complaint/", "/api/v1/case_entry/"):
        response = api("cs_manager").get(path, query_string={"q": "(page:2986259073561879040,page_size:25)"})
        assert response.status_code == 200, (path, response.get_data(as_text=True))
        assert response.get_json()["result"] == []
