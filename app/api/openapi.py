"""The OpenAPI document (/api/v1/_openapi) says what the API answers: FAB's generator gets some of it
wrong for every API (its own security APIs included), so the document is corrected where it is built
(FAB's `OpenApi._create_api_spec`), once, for all. Schemathesis checks every answer against it
(tests/http/test_schemathesis.py).

What FAB documents wrongly, and what is answered in fact:
- date-times as RFC 3339 `date-time`: the API answers ISO 8601 times without an offset (China local
  time for workflow times, UTC for bookkeeping — each column's label says which);
- `ids` of a list as strings: they are the integer primary keys;
- `_info`'s `add_columns` / `edit_columns` as objects: they are lists of column descriptions;
- the `message` of a 400/422 as a string: marshmallow's refusals in FAB's own APIs are an object;
- read schemas closed (`additionalProperties: false`) and related records never null: a read answers
  the computed fields a resource adds (labels, overdue flags, allowed actions ...) and a record whose
  optional relation is empty answers null for it.
"""

from __future__ import annotations

from apispec import APISpec

LOCAL_TIME = "ISO 8601 date and time without an offset"
TO_MANY = {"UserApi.get": ("roles", "groups"), "GroupApi.get": ("roles", "users")}


class KefuAPISpec(APISpec):
    def to_dict(self):
        spec = super().to_dict()
        components = spec.get("components", {})
        for name, schema in components.get("schemas", {}).items():
            many_of = next((m for prefix, m in TO_MANY.items() if name.startswith(prefix)), ())
            if many_of:  # FAB's security schemas document these relations as one record: they are lists
                for many in many_of:
                    if "$ref" in schema.get("properties", {}).get(many, {}):
                        schema["properties"][many] = {"type": "array", "items": schema["properties"][many]}
            if ".get" in name:  # FAB names read schemas <Api>.get / <Api>.get_list[.<Related>]
                _open_read_schema(schema)
        for response in components.get("responses", {}).values():
            for media in response.get("content", {}).values():
                props = media.get("schema", {}).get("properties", {})
                if props.get("message", {}).get("type") == "string":
                    props["message"] = {"anyOf": [{"type": "string"}, {"type": "object"}]}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                for response in operation.get("responses", {}).values():
                    for media in response.get("content", {}).values() if isinstance(response, dict) else ():
                        _fix_answer(media.get("schema", {}))
        _walk(spec)
        return spec


def _open_read_schema(schema: dict) -> None:
    schema.pop("additionalProperties", None)
    for prop in schema.get("properties", {}).values():
        if prop.get("type") == "number":  # a Decimal (area, price) is answered as its exact text
            prop.pop("type")
            prop["anyOf"] = [{"type": "number"}, {"type": "string"}]
        if "$ref" in prop:
            ref = prop.pop("$ref")
            prop.update(allOf=[{"$ref": ref}], nullable=True)
        elif prop.get("type") == "object":
            prop["nullable"] = True


def _fix_answer(schema: dict) -> None:
    props = schema.get("properties", {})
    if props.get("id", {}).get("type") == "string":  # the integer primary key of what was written
        props["id"] = {"type": "integer"}
    result = props.get("result", {})
    if result.get("$ref", "").endswith((".post", ".put")):  # a write answers the record as GET does
        props["result"] = {"type": "object"}
    item = result.get("items") or {}
    if "childs" in item.get("properties", {}):  # the menu's separators are "-" among its entries
        item["properties"]["childs"] = {"type": "array", "items": {}}
    ids = props.get("ids")
    if isinstance(ids, dict) and ids.get("type") == "array":
        ids["items"] = {"type": "integer"}
    for key in ("add_columns", "edit_columns"):
        if props.get(key, {}).get("type") == "object":
            props[key] = {"type": "array", "items": {"type": "object"}}


def _walk(node) -> None:
    """Every `format: date-time` becomes a plain string described as what it is."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            del node["format"]
            node.setdefault("description", LOCAL_TIME)
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def install() -> None:
    from flask_appbuilder.api.manager import OpenApi

    fab_create = OpenApi._create_api_spec

    def create_api_spec(version):
        spec = fab_create(version)
        spec.__class__ = KefuAPISpec
        return spec

    OpenApi._create_api_spec = staticmethod(create_api_spec)
