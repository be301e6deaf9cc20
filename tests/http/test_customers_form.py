"""Customers through the HTML forms as cs_staff (CSRF is off in the test app): validation beside the
field with nothing written, the audit row of each save, the optimistic lock, masked edit forms, the
quick search, the history on the detail page, the masked CSV export and the page-size cap."""

from __future__ import annotations

import csv
import io
import re

import pytest

from app.domain.errors import StaleRecordError
from app.domain.validation import check_id_number
from app.labels import AUDIT_ACTIONS

from .conftest import (
    FULL_ID_IN_TEXT,
    FULL_MOBILE_IN_TEXT,
    customer_payload,
    form_values,
    mask_id,
    mask_mobile,
    text_of,
    wordings,
    wrong_check_digit,
)


@pytest.fixture
def cs(html_as):
    return html_as("cs_staff")


def _add_form(cs) -> dict:
    """The add form as a browser would submit it, before the user types anything."""
    response = cs.get("/customer/add")
    assert response.status_code == 200
    return form_values(text_of(response))


def _edit_form(cs, cid) -> dict:
    response = cs.get(f"/customer/edit/{cid}")
    assert response.status_code == 200
    return form_values(text_of(response))


def _field_cell(page: str, field: str) -> str:
    """The HTML from the field's input to the end of its table cell (where FAB puts its errors)."""
    start = page.index(f'id="{field}"')
    return page[start:page.index("</td>", start)]


def _alerts(page: str) -> str:
    return " ".join(re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', page, re.S))


def test_add_with_a_wrong_check_digit_shows_the_error_beside_the_field(cs, dbr, app):
    data = {**_add_form(cs), **customer_payload()}
    data["id_number"] = wrong_check_digit(data["id_number"])
    customers, audit_rows = dbr.customers(), dbr.audit_count()
    response = cs.post("/customer/add", data=data)
    assert response.status_code == 200  # the form again, not a redirect
    page = text_of(response)
    cell = _field_cell(page, "id_number")
    assert any(message in cell for message in wordings(app, check_id_number(data["id_number"]))), cell
    assert f'value="{data["id_number"]}"' in cell  # what the user typed is kept for correction
    assert dbr.customers() == customers and dbr.audit_count() == audit_rows
    assert dbr.customer_by_mobile(data["mobile"]) == []


def test_add_valid_customer_writes_one_insert_audit_row(cs, dbr):
    data = {**_add_form(cs), **customer_payload()}
    seq = dbr.last_seq()
    response = cs.post("/customer/add", data=data)
    assert response.status_code == 302, _alerts(text_of(response)) or text_of(response)[:3000]
    found = dbr.customer_by_mobile(data["mobile"])
    assert len(found) == 1
    assert found[0]["id_number"] == data["id_number"] and found[0]["name"] == data["name"]
    rows = dbr.audit_after(seq)
    assert [(r["table"], r["record_id"], r["action"], r["actor"]) for r in rows] == [
        ("customer", str(found[0]["id"]), "insert", "cs_staff")]


def test_edit_with_the_version_read_succeeds(cs, created, dbr):
    cid, payload, _ = created()
    form = _edit_form(cs, cid)
    assert form["version"] == "1"
    form["address"] = "表单修改后的地址"
    seq = dbr.last_seq()
    response = cs.post(f"/customer/edit/{cid}", data=form)
    assert response.status_code == 302, _alerts(text_of(response))
    stored = dbr.customer(cid)
    assert stored["address"] == "表单修改后的地址" and stored["version"] == 2
    rows = dbr.audit_after(seq)
    assert len(rows) == 1
    assert (rows[0]["action"], rows[0]["record_id"], rows[0]["actor"]) == ("update", str(cid), "cs_staff")
    assert rows[0]["changes"]["address"] == [payload["address"], "表单修改后的地址"]


def test_edit_with_a_stale_version_is_refused_and_changes_nothing(cs, html_as, created, dbr, app):
    cid, payload, _ = created()
    mine = _edit_form(cs, cid)
    theirs = _edit_form(html_as("cs_manager"), cid)
    theirs["address"] = "经理先保存的地址"
    assert html_as("cs_manager").post(f"/customer/edit/{cid}", data=theirs).status_code == 302
    audit_rows = dbr.audit_count()
    mine["address"] = "我后保存的地址"
    mine["remarks"] = "不应保存"
    response = cs.post(f"/customer/edit/{cid}", data=mine, follow_redirects=True)
    assert response.status_code == 200
    alerts = _alerts(text_of(response))
    assert any(message in alerts for message in wordings(app, StaleRecordError.default_message)), alerts
    stored = dbr.customer(cid)
    assert stored["address"] == "经理先保存的地址" and stored["version"] == 2
    assert not stored["remarks"]
    assert dbr.audit_count() == audit_rows


def test_edit_with_a_forged_older_version_is_refused(cs, created, dbr):
    cid, payload, result = created()
    form = _edit_form(cs, cid)
    form["address"] = "第一次"
    assert cs.post(f"/customer/edit/{cid}", data=form).status_code == 302
    form = _edit_form(cs, cid)
    assert form["version"] == "2"
    form.update(version="1", address="回到旧版本")
    audit_rows = dbr.audit_count()
    cs.post(f"/customer/edit/{cid}", data=form)
    stored = dbr.customer(cid)
    assert stored["address"] == "第一次" and stored["version"] == 2
    assert dbr.audit_count() == audit_rows


def test_edit_form_masks_personal_data_and_an_unchanged_save_keeps_it(cs, created, dbr):
    cid, payload, _ = created(phone="0571-88886666")
    response = cs.get(f"/customer/edit/{cid}")
    page = text_of(response)
    for full in (payload["mobile"], payload["id_number"], "0571-88886666"):
        assert full not in page
    form = form_values(page)
    assert form["mobile"] == mask_mobile(payload["mobile"])
    assert form["id_number"] == mask_id(payload["id_number"])
    assert "*" in form["phone"]
    form["remarks"] = "只改备注"
    seq = dbr.last_seq()
    assert cs.post(f"/customer/edit/{cid}", data=form).status_code == 302
    stored = dbr.customer(cid)
    assert stored["mobile"] == payload["mobile"] and stored["id_number"] == payload["id_number"]
    assert stored["phone"] == "0571-88886666" and stored["remarks"] == "只改备注"
    rows = dbr.audit_after(seq)
    assert len(rows) == 1
    assert not {"mobile", "id_number", "phone"} & set(rows[0]["changes"])


def test_edit_form_can_replace_a_personal_field(cs, created, dbr):
    cid, payload, _ = created()
    form = _edit_form(cs, cid)
    new_mobile = customer_payload()["mobile"]
    form["mobile"] = new_mobile
    assert cs.post(f"/customer/edit/{cid}", data=form).status_code == 302
    assert dbr.customer(cid)["mobile"] == new_mobile


@pytest.mark.parametrize("key", ["mobile", "id_number"])
def test_quick_search_by_full_number_finds_the_customer(key, cs, created):
    cid, payload, _ = created()
    other_id, other, _ = created()
    response = cs.get("/customer/list/", query_string={"q": payload[key]}, follow_redirects=True)
    assert response.status_code == 200
    page = text_of(response)
    assert payload["name"] in page and other["name"] not in page
    assert set(re.findall(r"/customer/show/(\d+)", page)) == {str(cid)}
    # The number typed is echoed in the search box and the active filter; the row shows it masked.
    row = next(r for r in re.findall(r"<tr\b.*?</tr>", page, re.S) if f"/customer/show/{cid}" in r)
    assert mask_mobile(payload["mobile"]) in row and mask_id(payload["id_number"]) in row
    assert payload["mobile"] not in row and payload["id_number"] not in row


def test_show_page_has_the_history_with_the_insert_row(cs, created, app):
    cid, payload, _ = created()
    response = cs.get(f"/customer/show/{cid}")
    assert response.status_code == 200
    page = text_of(response)
    history = page[page.index("kefu-history"):]
    rows = re.findall(r"<tr>(.*?)</tr>", history, re.S)
    body_rows = [r for r in rows if "<td>" in r]
    assert len(body_rows) == 1
    with app.app_context():  # who made the change, by the name on their user record
        user = app.appbuilder.sm.find_user(username="cs_staff")
        name = f"{user.first_name}{user.last_name}"
    assert name and name in body_rows[0]
    assert any(label in body_rows[0] for label in wordings(app, AUDIT_ACTIONS["insert"]))
    assert mask_mobile(payload["mobile"]) in body_rows[0] and payload["mobile"] not in page


def test_show_page_history_grows_with_each_change(cs, api_as, created, app):
    cid, _, result = created()
    assert api_as("cs_staff").put(f"/api/v1/customer/{cid}",
                                  json={"version": result["version"], "address": "历史测试"}).status_code == 200
    page = text_of(cs.get(f"/customer/show/{cid}"))
    history = page[page.index("kefu-history"):]
    body_rows = [r for r in re.findall(r"<tr>(.*?)</tr>", history, re.S) if "<td>" in r]
    assert len(body_rows) == 2
    assert any(label in body_rows[0] for label in wordings(app, AUDIT_ACTIONS["update"]))
    assert "历史测试" in body_rows[0]


def test_delete_of_a_customer_who_holds_a_unit_is_refused(cs, dbr):
    holder = dbr.customer_with_unit()
    audit_rows = dbr.audit_count()
    response = cs.post(f"/customer/delete/{holder['id']}", follow_redirects=True)
    assert response.status_code == 200
    danger = re.findall(r'<div class="alert alert-danger"[^>]*>(.*?)</div>', text_of(response), re.S)
    assert danger and re.sub(r"<[^>]+>|&times;|×", "", danger[0]).strip()  # a message, not an empty box
    stored = dbr.customer(holder["id"])
    assert stored is not None and stored["version"] == holder["version"]
    assert dbr.audit_count() == audit_rows


def test_delete_through_the_form_writes_one_delete_audit_row(cs, created, dbr):
    cid, _, _ = created()
    seq = dbr.last_seq()
    response = cs.post(f"/customer/delete/{cid}")
    assert response.status_code == 302
    assert dbr.customer(cid) is None
    assert [(r["action"], r["record_id"], r["actor"]) for r in dbr.audit_after(seq)] == [
        ("delete", str(cid), "cs_staff")]


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_export_is_csv_with_masked_personal_data(cs, created):
    cid, payload, _ = created()
    response = cs.get("/customer/export/", query_string={"_flt_3_mobile": payload["mobile"]})
    rows = _csv_rows(response)
    assert len(rows) == 2  # header and our customer
    row = rows[1]
    assert str(cid) in row and payload["name"] in row
    assert mask_mobile(payload["mobile"]) in row and mask_id(payload["id_number"]) in row
    assert payload["mobile"] not in response.get_data(as_text=True)


def test_whole_export_has_no_full_personal_data(cs, dbr):
    response = cs.get("/customer/export/")
    rows = _csv_rows(response)
    assert len(rows) == dbr.customers() + 1
    text = response.get_data(as_text=True)
    assert not FULL_MOBILE_IN_TEXT.search(text) and not FULL_ID_IN_TEXT.search(text)


def test_list_page_size_is_capped_at_100(cs, dbr):
    assert dbr.customers() > 100
    response = cs.get("/customer/list/?psize_CustomerView=100000")
    assert response.status_code == 200
    shown = set(re.findall(r"/customer/show/(\d+)", response.get_data(as_text=True)))
    assert len(shown) == 100


def test_list_page_has_no_full_personal_data(cs):
    response = cs.get("/customer/list/?psize_CustomerView=100")
    assert response.status_code == 200
    text = text_of(response)
    assert not FULL_MOBILE_IN_TEXT.search(text) and not FULL_ID_IN_TEXT.search(text)
