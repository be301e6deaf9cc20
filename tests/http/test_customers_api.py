"""Customers through the REST API (mostly as cs_staff): validation with nothing written, masking, the
audited reveal, optimistic locking on PUT and DELETE, department scope and the search by full phone."""

from __future__ import annotations

import prison
import pytest

from app.domain.errors import StaleRecordError, VersionRequiredError
from app.domain.validation import check_id_number, check_mobile

from .conftest import (
    FULL_ID_IN_TEXT,
    FULL_MOBILE_IN_TEXT,
    MASKED_ID,
    MASKED_MOBILE,
    customer_payload,
    in_english,
    mask_id,
    mask_mobile,
    valid_id_number,
    wordings,
    wrong_check_digit,
)


def _message(response) -> str:
    body = response.get_json()
    assert isinstance(body, dict), response.get_data(as_text=True)
    message = body.get("message")
    assert isinstance(message, str) and message.strip(), body
    return message


def _filter(col, value, opr="eq") -> dict:
    return {"q": prison.dumps({"filters": [{"col": col, "opr": opr, "value": value}]})}


@pytest.fixture
def cs(api_as):
    return api_as("cs_staff")


def test_create_valid_customer(cs, dbr):
    payload = customer_payload()
    seq = dbr.last_seq()
    response = cs.post("/api/v1/customer/", json=payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    cid = body["id"]
    assert isinstance(cid, int)
    assert body["result"]["id"] == cid and body["result"]["version"] == 1
    assert body["result"]["mobile"] == mask_mobile(payload["mobile"])
    assert body["result"]["id_number"] == mask_id(payload["id_number"])
    stored = dbr.customer(cid)
    assert stored["mobile"] == payload["mobile"] and stored["id_number"] == payload["id_number"]
    assert stored["created_by_id"] is not None and stored["version"] == 1
    rows = dbr.audit_after(seq)
    assert [(r["table"], r["record_id"], r["action"], r["actor"]) for r in rows] == [
        ("customer", str(cid), "insert", "cs_staff")]
    assert rows[0]["changes"]["name"] == [None, payload["name"]]
    assert rows[0]["changes"]["mobile"] == [None, mask_mobile(payload["mobile"])]  # the log is masked too


def test_wrong_check_digit_is_refused_and_nothing_is_written(cs, dbr, app):
    payload = customer_payload()
    payload["id_number"] = wrong_check_digit(payload["id_number"])
    customers, audit_rows = dbr.customers(), dbr.audit_count()
    response = cs.post("/api/v1/customer/", json=payload)
    assert response.status_code == 422
    _message(response)
    errors = response.get_json()["errors"]
    assert errors["id_number"] in wordings(app, check_id_number(payload["id_number"]))
    assert dbr.customers() == customers and dbr.audit_count() == audit_rows
    assert dbr.customer_by_mobile(payload["mobile"]) == []


@pytest.mark.parametrize(("field", "value", "check"), [
    ("id_number", "110101199002301234", check_id_number),  # 30 February
    ("id_number", "1101011990030", check_id_number),
    ("mobile", "12345678901", check_mobile),
    ("mobile", "1380000111", check_mobile),
])
def test_invalid_field_is_refused_with_its_message(field, value, check, cs, dbr, app):
    payload = customer_payload(**{field: value})
    customers, audit_rows = dbr.customers(), dbr.audit_count()
    response = cs.post("/api/v1/customer/", json=payload)
    assert response.status_code == 422
    _message(response)
    assert response.get_json()["errors"][field] in wordings(app, check(value))
    assert dbr.customers() == customers and dbr.audit_count() == audit_rows


def test_list_and_detail_are_masked(cs, created):
    cid, payload, _ = created()
    listed = cs.get("/api/v1/customer/", query_string=_filter("name", payload["name"]))
    assert listed.status_code == 200
    rows = listed.get_json()["result"]
    assert [r["id"] for r in rows] == [cid]
    assert rows[0]["mobile"] == mask_mobile(payload["mobile"]) and MASKED_MOBILE.match(rows[0]["mobile"])
    assert rows[0]["id_number"] == mask_id(payload["id_number"]) and MASKED_ID.match(rows[0]["id_number"])
    assert "version" in rows[0]
    detail = cs.get(f"/api/v1/customer/{cid}")
    assert detail.status_code == 200
    result = detail.get_json()["result"]
    assert result["mobile"] == mask_mobile(payload["mobile"])
    assert result["id_number"] == mask_id(payload["id_number"])
    assert result["version"] == 1 and detail.get_json()["id"] == cid
    for response in (listed, detail):
        assert payload["mobile"] not in response.get_data(as_text=True)
        assert payload["id_number"] not in response.get_data(as_text=True)


def test_a_whole_page_of_the_list_has_no_full_personal_data(cs):
    response = cs.get("/api/v1/customer/", query_string={"q": prison.dumps({"page_size": 100, "page": 0})})
    assert response.status_code == 200
    assert len(response.get_json()["result"]) == 100
    text = response.get_data(as_text=True)
    assert not FULL_MOBILE_IN_TEXT.search(text) and not FULL_ID_IN_TEXT.search(text)


@pytest.mark.parametrize("page_size", [100_000, -1])
def test_api_page_size_is_capped_at_100(page_size, cs, dbr):
    assert dbr.customers() > 100
    response = cs.get("/api/v1/customer/", query_string={"q": prison.dumps({"page_size": page_size, "page": 0})})
    assert response.status_code == 200
    assert len(response.get_json()["result"]) == 100


@pytest.mark.parametrize("field", ["mobile", "id_number"])
def test_reveal_returns_the_full_value_and_is_audited_once(field, cs, created, dbr):
    cid, payload, _ = created()
    seq = dbr.last_seq()
    response = cs.post(f"/api/v1/customer/{cid}/reveal", json={"field": field})
    assert response.status_code == 200
    assert response.get_json()["value"] == payload[field]
    rows = dbr.audit_after(seq)
    assert len(rows) == 1
    assert rows[0]["action"] == "reveal" and rows[0]["table"] == "customer"
    assert rows[0]["record_id"] == str(cid) and rows[0]["actor"] == "cs_staff"
    assert rows[0]["changes"] == {"field": field}
    assert payload[field] not in str(rows[0]["changes"])
    assert dbr.customer(cid)["version"] == 1  # revealing is not a change of the record


def test_auditor_cannot_reveal(api_as, created, dbr):
    cid, payload, _ = created()
    audit_rows = dbr.audit_count()
    response = api_as("auditor").post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"})
    assert response.status_code == 403
    _message(response)
    assert payload["mobile"] not in response.get_data(as_text=True)
    assert dbr.audit_count() == audit_rows


def test_reveal_of_a_field_that_is_not_personal_data_is_refused(cs, created, dbr):
    cid, _, _ = created()
    audit_rows = dbr.audit_count()
    response = cs.post(f"/api/v1/customer/{cid}/reveal", json={"field": "remarks"})
    assert response.status_code == 422
    _message(response)
    assert dbr.audit_count() == audit_rows


def test_reveal_of_a_missing_customer_is_404(cs, dbr):
    audit_rows = dbr.audit_count()
    response = cs.post("/api/v1/customer/987654321/reveal", json={"field": "mobile"})
    assert response.status_code == 404
    _message(response)
    assert dbr.audit_count() == audit_rows


def test_put_with_the_current_version(cs, created, dbr):
    cid, payload, result = created()
    seq = dbr.last_seq()
    response = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "address": "拱墅区新址 1 号"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"]["version"] == result["version"] + 1
    assert body["result"]["address"] == "拱墅区新址 1 号"
    assert body["result"]["mobile"] == mask_mobile(payload["mobile"])
    stored = dbr.customer(cid)
    assert stored["address"] == "拱墅区新址 1 号" and stored["version"] == 2
    rows = dbr.audit_after(seq)
    assert len(rows) == 1
    assert (rows[0]["action"], rows[0]["record_id"], rows[0]["actor"]) == ("update", str(cid), "cs_staff")
    assert rows[0]["changes"] == {"address": [payload["address"], "拱墅区新址 1 号"]}


def test_put_with_a_stale_version_is_refused(cs, created, dbr, app):
    cid, payload, result = created()
    first = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "address": "第一次修改"})
    assert first.status_code == 200
    audit_rows = dbr.audit_count()
    response = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "address": "过期的修改",
                                                       "mobile": "13912345678"})
    assert response.status_code == 409
    assert _message(response) in wordings(app, StaleRecordError.default_message)
    stored = dbr.customer(cid)
    assert stored["address"] == "第一次修改" and stored["version"] == 2 and stored["mobile"] == payload["mobile"]
    assert dbr.audit_count() == audit_rows


def test_refusal_message_follows_the_requested_language(cs, created, app):
    cid, _, result = created()
    response = cs.put(f"/api/v1/customer/{cid}?_l_=en", json={"version": result["version"] + 5, "address": "x"})
    assert response.status_code == 409
    assert _message(response) == in_english(app, StaleRecordError.default_message)


def test_put_without_version_is_refused(cs, created, dbr, app):
    cid, payload, _ = created()
    audit_rows = dbr.audit_count()
    response = cs.put(f"/api/v1/customer/{cid}", json={"address": "没有版本号"})
    assert response.status_code == 422
    assert _message(response) in wordings(app, VersionRequiredError.default_message)
    stored = dbr.customer(cid)
    assert stored["address"] == payload["address"] and stored["version"] == 1
    assert dbr.audit_count() == audit_rows


def test_put_with_an_invalid_value_changes_nothing(cs, created, dbr, app):
    cid, payload, result = created()
    audit_rows = dbr.audit_count()
    bad = wrong_check_digit(valid_id_number())
    response = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "id_number": bad,
                                                       "address": "不该保存"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["id_number"] in wordings(app, check_id_number(bad))
    stored = dbr.customer(cid)
    assert stored["id_number"] == payload["id_number"] and stored["address"] == payload["address"]
    assert stored["version"] == 1 and dbr.audit_count() == audit_rows


def test_put_echoing_the_masked_values_keeps_the_stored_ones(cs, created, dbr):
    cid, payload, _ = created()
    read = cs.get(f"/api/v1/customer/{cid}").get_json()["result"]
    seq = dbr.last_seq()
    response = cs.put(f"/api/v1/customer/{cid}", json={
        "version": read["version"], "mobile": read["mobile"], "id_number": read["id_number"],
        "name": read["name"], "address": "只改地址"})
    assert response.status_code == 200, response.get_data(as_text=True)
    stored = dbr.customer(cid)
    assert stored["mobile"] == payload["mobile"] and stored["id_number"] == payload["id_number"]
    assert stored["address"] == "只改地址"
    rows = dbr.audit_after(seq)
    assert len(rows) == 1 and set(rows[0]["changes"]) == {"address"}


def test_put_can_still_change_a_personal_field(cs, created, dbr):
    cid, payload, result = created()
    new_mobile = customer_payload()["mobile"]
    seq = dbr.last_seq()
    response = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "mobile": new_mobile})
    assert response.status_code == 200
    assert dbr.customer(cid)["mobile"] == new_mobile
    rows = dbr.audit_after(seq)
    assert rows[0]["changes"] == {"mobile": [mask_mobile(payload["mobile"]), mask_mobile(new_mobile)]}


def test_delete_needs_the_current_version(cs, created, dbr):
    cid, _, result = created()
    audit_rows = dbr.audit_count()
    missing = cs.delete(f"/api/v1/customer/{cid}")
    assert missing.status_code == 422
    _message(missing)
    stale = cs.delete(f"/api/v1/customer/{cid}?version={result['version'] + 1}")
    assert stale.status_code == 409
    _message(stale)
    assert dbr.customer(cid) is not None and dbr.audit_count() == audit_rows
    seq = dbr.last_seq()
    done = cs.delete(f"/api/v1/customer/{cid}?version={result['version']}")
    assert done.status_code == 200
    assert dbr.customer(cid) is None
    rows = dbr.audit_after(seq)
    assert [(r["action"], r["record_id"]) for r in rows] == [("delete", str(cid))]
    assert cs.get(f"/api/v1/customer/{cid}").status_code == 404


def test_delete_of_a_customer_who_holds_a_unit_is_refused(cs, dbr):
    holder = dbr.customer_with_unit()
    audit_rows = dbr.audit_count()
    response = cs.delete(f"/api/v1/customer/{holder['id']}?version={holder['version']}")
    assert response.status_code == 409
    _message(response)
    assert dbr.customer(holder["id"])["version"] == holder["version"]
    assert dbr.audit_count() == audit_rows


@pytest.mark.parametrize("username", ["eng_staff", "pm_staff"])
def test_department_staff_never_get_a_customer(username, api_as, created, dbr):
    cid, payload, result = created()
    client = api_as(username)
    audit_rows = dbr.audit_count()
    responses = [
        client.get(f"/api/v1/customer/{cid}"),
        client.get("/api/v1/customer/", query_string=_filter("mobile", payload["mobile"])),
        client.post(f"/api/v1/customer/{cid}/reveal", json={"field": "mobile"}),
        client.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "address": "部门改的"}),
        client.delete(f"/api/v1/customer/{cid}?version={result['version']}"),
        client.get("/api/v1/customer_unit/"),
    ]
    for response in responses:
        assert response.status_code in (403, 404), response.request.url
        text = response.get_data(as_text=True)
        assert payload["name"] not in text and payload["mobile"] not in text
        assert mask_mobile(payload["mobile"]) not in text
    stored = dbr.customer(cid)
    assert stored["address"] == payload["address"] and stored["version"] == 1
    assert dbr.audit_count() == audit_rows


def test_search_by_full_mobile(cs, created):
    cid, payload, _ = created(mobile="13800001111") if not _taken(cs, "13800001111") else created()
    response = cs.get("/api/v1/customer/", query_string=_filter("mobile", payload["mobile"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 1 and [r["id"] for r in body["result"]] == [cid]
    assert body["result"][0]["mobile"] == mask_mobile(payload["mobile"])


def test_search_by_full_id_number(cs, created):
    cid, payload, _ = created()
    response = cs.get("/api/v1/customer/", query_string=_filter("id_number", payload["id_number"]))
    assert response.status_code == 200
    assert [r["id"] for r in response.get_json()["result"]] == [cid]


def test_search_by_the_masked_value_finds_nothing_extra(cs, created):
    """Searching for the masked form must not match by pattern (no wildcard leak of the mask)."""
    cid, payload, _ = created()
    response = cs.get("/api/v1/customer/", query_string=_filter("mobile", mask_mobile(payload["mobile"])))
    assert response.status_code == 200
    assert response.get_json()["count"] == 0


def _taken(cs, mobile) -> bool:
    return cs.get("/api/v1/customer/", query_string=_filter("mobile", mobile)).get_json()["count"] > 0


@pytest.mark.parametrize("extra", [{"birthday": "not-a-date"}, {"version": 7}, {"no_such_field": "x"}])
def test_malformed_post_answers_a_message_string_and_writes_nothing(extra, cs, dbr):
    payload = customer_payload(**extra)
    customers, audit_rows = dbr.customers(), dbr.audit_count()
    response = cs.post("/api/v1/customer/", json=payload)
    assert response.status_code == 422
    _message(response)
    assert set(extra) <= set(response.get_json()["errors"])
    assert dbr.customers() == customers and dbr.audit_count() == audit_rows


def test_malformed_put_answers_a_message_string_and_changes_nothing(cs, created, dbr):
    cid, payload, result = created()
    audit_rows = dbr.audit_count()
    response = cs.put(f"/api/v1/customer/{cid}", json={"version": result["version"], "birthday": "31/02/1990",
                                                       "address": "不该保存"})
    assert response.status_code == 422
    _message(response)
    assert "birthday" in response.get_json()["errors"]
    stored = dbr.customer(cid)
    assert stored["address"] == payload["address"] and stored["version"] == 1
    assert dbr.audit_count() == audit_rows
