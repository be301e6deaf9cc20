"""Personal data cannot be recovered through search or sort (issue 11, item 1).

The attack: extend a prefix (or suffix, or "contains") filter on a masked column one digit at a time
and watch which rows come back, in an HTML list (`_flt_<index>_<col>`), the REST API (rison `opr`) or
an export; or sort by the masked column and bisect. Every list the app registers (discovered from the
appbuilder, not listed here) × every masked column (the model's `__personal_fields__`, and those of
related models reachable by a dotted column or by a relation's search filter) × every filter operator
FAB knows must be refused (400) or match the full value only.
"""

from __future__ import annotations

import re

import prison
import pytest
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter, map_args_filter
from flask_appbuilder.models.sqla import filters as fab_filters
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select

from app.domain.privacy import mask

from .conftest import customer_payload, text_of, wordings

USER = "admin"  # sees every list and every department: the widest view an attacker could have
PAGE = 100
HTML_INDEXES = range(10)  # FAB reads `_flt_(\d)_<col>`: one digit
SEARCH_REFUSED = _l("Personal data (ID-card numbers, phones) can be searched only by the full value.")
SORT_REFUSED = _l("Lists cannot be sorted by personal data (ID-card numbers, phones).")


def _personal(model) -> tuple[str, ...]:
    return tuple(getattr(model, "__personal_fields__", ()))


def _relations_to_personal(model):
    """(relation name, related model) for each relation whose target holds personal data."""
    for rel in inspect(model).relationships:
        if _personal(rel.mapper.class_):
            yield rel.key, rel.mapper.class_


def masked_paths(model) -> list[str]:
    """`mobile` on the model itself, `customer.mobile` through a relation."""
    paths = list(_personal(model))
    for name, target in _relations_to_personal(model):
        paths += [f"{name}.{field}" for field in _personal(target)]
    return paths


def fab_operators() -> set[str]:
    """Every operator FAB knows: its SQLA filter classes' arg_names, and every arg_name registered
    (FAB records each filter class it instantiates, the app's custom ones too)."""
    names = {cls.arg_name for cls in vars(fab_filters).values()
             if isinstance(cls, type) and issubclass(cls, BaseFilter) and cls.arg_name}
    return names | {name for name in map_args_filter if name}


def _views(app, kind):
    return [v for v in app.appbuilder.baseviews if isinstance(v, kind) and getattr(v, "datamodel", None)]


def _record_with(dbr, model, path):
    """(pk, full value) of a record of `model` whose `path` holds a value long enough to attack."""
    from sqlalchemy import func

    with dbr.session() as s:
        if "." in path:
            rel, field = path.split(".")
            target = getattr(model, rel).property.mapper.class_
            column = getattr(target, field)
            query = select(model.id, column).join(getattr(model, rel))
        else:
            column = getattr(model, path)
            query = select(model.id, column)
        row = s.execute(query.where(func.length(column) >= 8).order_by(model.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def _partials(value: str) -> list[str]:
    """What an attacker sends on the way to the full value: one digit short at either end."""
    return [value[:-1], value[1:]]


@pytest.fixture(scope="module")
def full_customer(api_as):
    """A customer with every personal field set, so that none is left untested for lack of data."""
    payload = customer_payload(phone="0571-88886666", main_contact="王主管", main_contact_phone="13957112345",
                               property_contact="李物业", property_contact_phone="0571-87654321")
    response = api_as("cs_staff").post("/api/v1/customer/", json=payload)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"], payload


# --- HTML lists ------------------------------------------------------------------------------------

def _html_rows(response) -> set[str]:
    return set(re.findall(r"/show/(\d+)", response.get_data(as_text=True)))


def _html_targets(view):
    """(column as sent in `_flt_`, path of the value to attack, filter indexes to try)."""
    model = view.datamodel.obj
    for path in masked_paths(model):
        yield path, path, HTML_INDEXES
    searchable = set(view.search_columns or [])
    for name, target in _relations_to_personal(model):
        if name in searchable:  # e.g. the complaint list's customer box (name, full mobile or ID number)
            # The filters the list offers on the relation (an index beyond them is item 8's 400).
            indexes = range(len(view._filters.get_search_filters()[name]))
            for field in _personal(target):
                yield name, f"{name}.{field}", indexes


def test_html_lists_refuse_or_match_the_full_value_only(app, html_as, dbr, full_customer):
    client = html_as(USER)
    refused = wordings(app, SEARCH_REFUSED)
    tried, found_by_full_value, leaks = set(), set(), []
    for view in _views(app, ModelView):
        name, base = view.__class__.__name__, view.route_base
        for column, path, indexes in _html_targets(view):
            record = _record_with(dbr, view.datamodel.obj, path)
            if record is None:
                continue
            pk, value = str(record[0]), record[1]
            size = f"psize_{name}={PAGE}"
            unfiltered = _html_rows(client.get(f"{base}/list/?{size}"))
            for index in indexes:
                for attempt in _partials(value):
                    response = client.get(f"{base}/list/?{size}&_flt_{index}_{column}={attempt}")
                    tried.add((name, column))
                    assert response.status_code in (200, 400), (name, column, index, response.status_code)
                    if response.status_code == 400:
                        assert any(m in text_of(response) for m in refused), (name, column, index)
                        continue
                    rows = _html_rows(response)
                    if pk in rows and rows != unfiltered:
                        leaks.append((name, column, index, attempt))
                if column == path:  # the full value finds the record by equality
                    response = client.get(f"{base}/list/?{size}&_flt_{index}_{column}={value}")
                    if response.status_code == 200 and pk in _html_rows(response) and \
                            _html_rows(response) != unfiltered:
                        found_by_full_value.add((name, column))
    assert not leaks, leaks
    # The walk reached the lists that hold personal data (a rename would otherwise pass silently).
    assert {("CustomerView", c) for c in ("mobile", "id_number", "phone")} <= tried
    assert ("ComplaintView", "customer") in tried
    assert {("CustomerView", c) for c in ("mobile", "id_number", "phone")} <= found_by_full_value


def test_html_lists_refuse_sorting_by_masked_columns(app, html_as):
    client = html_as(USER)
    refused = wordings(app, SORT_REFUSED)
    tried = 0
    for view in _views(app, ModelView):
        name, base = view.__class__.__name__, view.route_base
        for path in masked_paths(view.datamodel.obj):
            for direction in ("asc", "desc"):
                response = client.get(f"{base}/list/?_oc_{name}={path}&_od_{name}={direction}")
                assert response.status_code == 400, (name, path, response.status_code)
                assert any(m in text_of(response) for m in refused), (name, path)
                tried += 1
            assert path not in (view.order_columns or []), (name, path)
    assert tried


def test_html_export_refuses_a_prefix_filter_on_a_masked_column(app, html_as, dbr, full_customer):
    _pk, payload = full_customer
    client = html_as(USER)
    exports = [view for view in _views(app, ModelView) if hasattr(view, "export_table")]
    assert {"CustomerView", "ComplaintView"} <= {view.__class__.__name__ for view in exports}
    for view in exports:
        unfiltered = client.get(f"{view.route_base}/export/").get_data(as_text=True)
        for column in masked_paths(view.datamodel.obj):
            value = payload["mobile" if column.endswith("mobile") else "id_number"]
            for index in HTML_INDEXES:
                for attempt in _partials(value):
                    response = client.get(f"{view.route_base}/export/?_flt_{index}_{column}={attempt}")
                    assert response.status_code in (200, 400), (view, column, index)
                    body = response.get_data(as_text=True)
                    # Refused, or the filter matched no row (equality) or was not applied at all.
                    assert response.status_code == 400 or payload["name"] not in body or body == unfiltered
    response = client.get(f"/customer/export/?_flt_0_mobile={payload['mobile']}")
    assert payload["name"] in response.get_data(as_text=True)


def test_quick_search_by_full_number_still_finds_the_customer(html_as, full_customer):
    pk, payload = full_customer
    client = html_as(USER)
    for text in (payload["mobile"], payload["id_number"], payload["phone"]):
        response = client.get(f"/customer/list/?q={text}", follow_redirects=True)
        assert response.status_code == 200
        assert str(pk) in _html_rows(response), text


# --- REST API --------------------------------------------------------------------------------------

def _api_get(client, resource, q):
    return client.get(f"/api/v1/{resource}/", query_string={"q": prison.dumps(q)})


def test_api_lists_refuse_or_match_the_full_value_only(app, api_as, dbr, full_customer):
    client = api_as(USER)
    refused = wordings(app, SEARCH_REFUSED)
    operators = fab_operators()
    assert {"sw", "ew", "ct", "eq", "neq", "nsw", "new", "nct", "in", "not_in", "gt", "lt"} <= operators
    tried, found, leaks = set(), set(), []
    for api in _views(app, ModelRestApi):
        resource = api.resource_name
        for path in masked_paths(api.datamodel.obj):
            record = _record_with(dbr, api.datamodel.obj, path)
            if record is None:
                continue
            pk, value = record
            unfiltered = set(_api_get(client, resource, {"page_size": PAGE}).get_json().get("ids", []))
            for opr in sorted(operators):
                for attempt in _partials(value):
                    sent = [attempt] if opr in ("in", "not_in") else attempt
                    response = _api_get(client, resource, {
                        "filters": [{"col": path, "opr": opr, "value": sent}], "page_size": PAGE})
                    tried.add((resource, path, opr))
                    assert response.status_code in (200, 400), (resource, path, opr, response.status_code)
                    if response.status_code == 400:
                        if opr != "eq":
                            assert response.get_json()["message"] in refused, (resource, path, opr)
                        continue
                    ids = set(response.get_json()["ids"])
                    if pk in ids and ids != unfiltered:
                        leaks.append((resource, path, opr, attempt))
            response = _api_get(client, resource, {"filters": [{"col": path, "opr": "eq", "value": value}]})
            if response.status_code == 200 and pk in response.get_json()["ids"]:
                found.add((resource, path))
    assert not leaks, leaks
    assert {("customer", c, "sw") for c in ("mobile", "id_number", "phone")} <= tried
    assert {("customer", c) for c in ("mobile", "id_number", "phone")} <= found


def test_api_lists_refuse_sorting_by_masked_columns(app, api_as):
    client = api_as(USER)
    refused = wordings(app, SORT_REFUSED)
    tried = 0
    for api in _views(app, ModelRestApi):
        for path in masked_paths(api.datamodel.obj):
            response = _api_get(client, api.resource_name, {"order_column": path, "order_direction": "asc"})
            assert response.status_code == 400, (api.resource_name, path)
            assert response.get_json()["message"] in refused, (api.resource_name, path)
            assert path not in api.order_columns
            tried += 1
    assert tried


def test_the_auditor_cannot_walk_a_mobile_prefix(app, api_as, html_as, full_customer):
    """The probe of the issue, as the role it was found with."""
    pk, payload = full_customer
    mobile = payload["mobile"]
    response = _api_get(api_as("auditor"), "customer",
                        {"filters": [{"col": "name", "opr": "eq", "value": payload["name"]},
                                     {"col": "mobile", "opr": "sw", "value": mobile[:4]}]})
    assert response.status_code in (400, 403)
    response = html_as("auditor").get(f"/customer/list/?_flt_0_mobile={mobile[:6]}")
    assert response.status_code in (400, 403) or str(pk) not in _html_rows(response)


# --- masking -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, birth", [
    ("110101198001011234", slice(6, 14)),   # 18 digits: the birth date is digits 7-14
    ("110101800101123", slice(6, 12)),
])
def test_the_masked_id_number_hides_the_birth_date(value, birth):
    masked = mask("id_number", value)
    assert len(masked) == len(value)
    assert set(masked[birth]) == {"*"}, masked
    assert masked[:4] == value[:4]
