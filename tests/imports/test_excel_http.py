"""The import through the API and the page, and the Excel export of a list (issue 16, items 7-9)."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.imports.sheets import id_number, xlsx

HEADERS = ["名称", "客户阶段", "身份证号", "手机", "项目", "楼栋", "房号"]


def customers(app) -> int:
    from app.extensions import db
    from app.models import Customer

    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(Customer))
        finally:
            db.session.rollback()
            db.session.remove()


def post(client, data, dry_run, name="customers.xlsx"):
    return client.post("/api/v1/customer/import", data={"dry_run": dry_run, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_the_api_previews_then_imports_and_refuses_bad_files(app, api):
    client = api("cs_staff")
    before = customers(app)
    good = xlsx([["王甲", "业主", id_number(41), "13900000041", "试验花园", "1栋", "101"]], HEADERS)
    preview = post(client, good, "true")
    assert preview.status_code == 200, preview.get_json()
    assert (preview.get_json()["created"], preview.get_json()["dry_run"]) == (1, True)
    assert customers(app) == before  # a dry run writes nothing

    bad = xlsx([["王乙", "业主", None, "1390000004", None, None, None]], HEADERS)
    refused = post(client, bad, "false")
    assert refused.status_code == 422
    body = refused.get_json()
    assert re.search(r"[\u4e00-\u9fff]", body["message"]) and "1" in body["message"]
    assert body["errors"] == [{"row": 2, "column": "手机", "message": body["errors"][0]["message"]}]
    assert "13" in body["errors"][0]["message"]  # the mobile rule's own wording: 11 digits starting 13–19
    assert customers(app) == before

    not_xlsx = post(client, b"%PDF-1.4 not a sheet", "true", name="customers.xlsx")
    assert not_xlsx.status_code == 422
    assert ".xlsx" in not_xlsx.get_json()["message"] and re.search(r"[\u4e00-\u9fff]", not_xlsx.get_json()["message"])

    done = post(client, good, "false")
    assert done.status_code == 201, done.get_json()
    assert (done.get_json()["created"], done.get_json()["linked"]) == (1, 1)
    assert customers(app) == before + 1


def test_only_roles_that_may_add_customers_may_import(app, api):
    data = xlsx([["王丙", "业主", None, "13900000042", None, None, None]], HEADERS)
    assert post(api("archivist"), data, "true").status_code == 403
    assert post(api("gm"), data, "false").status_code == 403


def test_the_page_checks_shows_the_errors_and_imports_on_confirmation(app, login):
    client = login("cs_staff")
    page = client.get("/customerimport/")
    assert page.status_code == 200 and "导入客户" in page.get_data(as_text=True)
    template = client.get("/customerimport/template")
    headers = [c.value for c in next(load_workbook(io.BytesIO(template.data)).active.iter_rows(max_row=1))]
    assert {"名称", "身份证号", "手机", "项目", "楼栋", "房号"} <= set(headers)

    bad = xlsx([["陈甲", "业主", None, "13900000051", None, None, None],
                ["陈乙", "外星人", None, "13900000052", None, None, None]], HEADERS)
    checked = client.post("/customerimport/check", data={"file": (io.BytesIO(bad), "bad.xlsx")},
                          content_type="multipart/form-data")
    text = checked.get_data(as_text=True)
    assert checked.status_code == 422 and "外星人" in text and "kefu-import-confirm" not in text
    token = re.search(r"/customerimport/errors/([0-9a-f]{32})", text).group(1)
    sheet = load_workbook(io.BytesIO(client.get(f"/customerimport/errors/{token}").data)).active
    assert [row[-1] for row in sheet.iter_rows(values_only=True)][:3][0] == "错误"

    before = customers(app)
    good = xlsx([["陈丙", "业主", None, "13900000053", None, None, None]], HEADERS)
    checked = client.post("/customerimport/check", data={"file": (io.BytesIO(good), "good.xlsx")},
                          content_type="multipart/form-data")
    assert checked.status_code == 200 and "kefu-import-confirm" in checked.get_data(as_text=True)
    assert customers(app) == before
    token = re.search(r"/customerimport/confirm/([0-9a-f]{32})", checked.get_data(as_text=True)).group(1)
    assert client.post(f"/customerimport/confirm/{token}").status_code == 302
    assert customers(app) == before + 1
    assert login("archivist").get("/customerimport/").status_code in (302, 403)


def test_the_excel_export_is_masked_and_writes_formula_looking_values_as_text(app, login, api):
    client = api("cs_staff")
    planted = xlsx([["=HYPERLINK(\"http://x\")", "业主", None, "13900000061", None, None, None],
                    ["+1+1", "业主", None, "13900000062", None, None, None]], HEADERS)
    assert post(client, planted, "false").status_code == 201
    response = login("cs_staff").get("/customer/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows())
    assert rows[0][1].value == "名称"
    cells = [cell for row in rows[1:] for cell in row if cell.value is not None]
    formula = [c for c in cells if c.value == "=HYPERLINK(\"http://x\")"]
    assert formula and formula[0].data_type == "s"
    assert [c for c in cells if c.value == "+1+1"][0].data_type == "s"
    assert not [c for c in cells if c.data_type == "f"]
    text = " ".join(str(c.value) for c in cells)
    for mobile in ("13800000001", "13900000061", "13900000062"):
        assert mobile not in text
    assert "139****0061" in text
    # Filters apply as on the list page: one customer by name.
    one = login("cs_staff").get("/customer/export.xlsx?_flt_0_name=%2B1%2B1")
    assert [r[1] for r in load_workbook(io.BytesIO(one.data)).active.iter_rows(values_only=True)] == ["名称", "+1+1"]
