"""The OpenAPI document of our own endpoints, from marshmallow schemas instead of YAML docstrings.

An endpoint declares what it takes and answers with `@documented(answer=..., body=..., query=...,
refusals=...)`; `DocumentedApi.operation_helper` (FAB calls it for every route while building
/api/v1/_openapi) turns that into the operation: the schemas are registered as components and
referenced (apispec's marshmallow plugin), the path parameters come from the route, the summary from
`openapi_spec_methods` (else the docstring's first line) and the description from the docstring.
FAB's own endpoints (get, get_list, info, post, put, delete) keep FAB's documentation, which FAB also
generates from marshmallow schemas. app.api.openapi then corrects the whole document in one place.

`step_body_schema` builds the body of a workflow's `POST /<id>/transition` from the domain's step
table (each step's action and the names of its required and optional fields), so that a field added
to a step is documented without touching the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apispec.exceptions import DuplicateComponentNameError
from flask_appbuilder.api import BaseApi
from marshmallow import EXCLUDE, Schema
from marshmallow import fields as ma
from marshmallow.validate import OneOf

BINARY = "binary"  # an answer that is a file, not JSON
RESPONSE_COMPONENTS = {  # refusal status -> FAB's response component (403 and 401 share FAB's wording)
    401: "401", 403: "403", 404: "404", 409: "409", 422: "422",
}
CONFLICT = {  # FAB declares no 409: a refusal of the state, a condition, or a stale version
    "description": "Not possible now: the record's state, an unmet condition, or the version read is stale",
    "content": {"application/json": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}},
}
ROUTE_PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


class Answer(Schema):
    """Base of the answer schemas: an answer may carry more than it documents (open objects)."""

    class Meta:
        unknown = EXCLUDE


# --- the shapes the answers of every workflow API share (the subclasses add their own fields) ----------

class RecordAnswer(Answer):
    """Base of an answer about one record written: its id and the version it has now."""

    id = ma.Integer(required=True)
    version = ma.Integer(required=True)


class StateAnswer(RecordAnswer):
    """Base of an answer about a record that took a step: also the state it is in now."""

    state = ma.String(required=True)


class ListAnswer(Answer):
    """Base of an answer listing the rows of one record (its steps, items, attachments): the record's id
    and how many; each subclass declares `result`, the list of its rows."""

    id = ma.Integer(required=True)
    count = ma.Integer(required=True)


class StepEntry(Answer):
    """Base of one entry of a workflow's timeline (the complaint's and the visit's steps)."""

    id = ma.Integer(required=True)
    action = ma.String(required=True)
    from_ = ma.String(data_key="from")
    to = ma.String()
    actor_id = ma.Integer(allow_none=True)
    actor_name = ma.String()
    at = ma.DateTime()
    comment = ma.String(allow_none=True)
    data = ma.Dict(metadata={"description": "The fields the step took"})


def the_record(what: str) -> ma.Dict:
    """An answer's `result`: the record as GET /<id> answers it."""
    return ma.Dict(required=True, metadata={"description": f"The {what}, as GET /<id> answers it"})


class StepAnswerSchema(StateAnswer):
    """The record in its new state, with the actions the caller may take next."""

    allowed_actions = ma.List(ma.String(), required=True)
    result = the_record("record")


class PrintedAnswerSchema(Answer):
    """The archive record of the printed copy (number, form, sha256, verify_code, previous_id)."""

    id = ma.Integer(required=True)
    result = ma.Dict(required=True)


class PrintedFormsAnswerSchema(Answer):
    """The archive records of the printed forms (number, form, sha256, verify_code, previous_id)."""

    ids = ma.List(ma.Integer(), required=True)
    count = ma.Integer(required=True)
    result = ma.List(ma.Dict(), required=True)


@dataclass(frozen=True)
class Doc:
    answer: type[Schema] | str | None
    status: int
    body: type[Schema] | None
    body_media: str
    body_required: bool
    query: type[Schema] | None
    refusals: tuple[int, ...]


def documented(answer: type[Schema] | str | None = None, *, status: int = 200, body: type[Schema] | None = None,
               body_media: str = "application/json", body_required: bool = True,
               query: type[Schema] | None = None, refusals: Iterable[int] = ()) -> Callable:
    """Declare an endpoint's request body, query parameters, answer (a schema, or BINARY for a file)
    and the refusals it may answer besides 401. Put it right under `@expose`."""

    def decorate(func):
        func._kefu_doc = Doc(answer, status, body, body_media, body_required, query, tuple(refusals))
        return func

    return decorate


def _schema_name(schema: type[Schema]) -> str:
    """The component's name, as FAB's resolver names a schema it registers by itself (…Schema → …)."""
    name = schema.__name__
    return name[:-6] if name.endswith("Schema") and name != "Schema" else name


def _path_parameters(func) -> list[dict]:
    found = {}
    for url, _methods in getattr(func, "_urls", ()):
        for converter, name in ROUTE_PARAMETER.findall(url):
            kind = "integer" if converter == "int" else "string"
            found[name] = {"in": "path", "name": name, "required": True, "schema": {"type": kind}}
    return list(found.values())


def _describe(text: str | None) -> tuple[str, str]:
    """(first line, the rest) of a docstring, dedented."""
    lines = [line.strip() for line in (text or "").strip().splitlines()]
    return (lines[0] if lines else ""), " ".join(line for line in lines[1:] if line)


def _answer_description(doc: Doc) -> str:
    if doc.answer == BINARY:
        return "The file"
    first, rest = _describe(getattr(doc.answer, "__doc__", None))
    return " ".join(part for part in (first, rest) if part) or "OK"


def _answer_content(doc: Doc) -> dict:
    if doc.answer is None:
        return {}
    if doc.answer == BINARY:
        return {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    return {"application/json": {"schema": doc.answer}}


class DocumentedApi(BaseApi):
    """Mixed into DomainModelRestApi: builds the operations of `@documented` endpoints."""

    def add_apispec_components(self, api_spec) -> None:
        super().add_apispec_components(api_spec)
        try:
            api_spec.components.response("409", CONFLICT)
        except DuplicateComponentNameError:
            pass
        for doc in self._documented():
            for schema in (doc.body, doc.query, doc.answer):
                if isinstance(schema, type) and issubclass(schema, Schema):
                    try:
                        api_spec.components.schema(_schema_name(schema), schema=schema)
                    except DuplicateComponentNameError:
                        pass  # registered by another API, under the same name

    def _documented(self) -> list[Doc]:
        found = []
        for name in dir(type(self)):
            doc = getattr(getattr(type(self), name, None), "_kefu_doc", None)
            if isinstance(doc, Doc):
                found.append(doc)
        return found

    def operation_helper(self, path=None, operations=None, methods=None, func=None, **kwargs: Any) -> None:
        doc = getattr(func, "_kefu_doc", None)
        if doc is None:  # FAB's own endpoint: FAB's documentation
            return super().operation_helper(path=path, operations=operations, methods=methods, func=func, **kwargs)
        first, rest = _describe(func.__doc__)
        for method in methods:
            override = self.openapi_spec_methods.get(func.__name__, {}).get(method.lower(), {})
            operation = {"summary": first, "parameters": _path_parameters(func)}
            if rest:
                operation["description"] = rest
            if doc.query is not None:
                operation["parameters"].append({"in": "query", "schema": doc.query})
            if doc.body is not None:
                operation["requestBody"] = {"required": doc.body_required,
                                            "content": {doc.body_media: {"schema": doc.body}}}
            answer = {"description": _answer_description(doc)}
            if _answer_content(doc):
                answer["content"] = _answer_content(doc)
            responses = {str(doc.status): answer}
            for status in sorted({401, *doc.refusals}):
                responses[str(status)] = {"$ref": f"#/components/responses/{RESPONSE_COMPONENTS[status]}"}
            operation["responses"] = responses
            operation.update(override)
            if self.get_method_permission(func.__name__):
                operation["security"] = [{"jwt": []}, {"api_key": []}]
            operations[method.lower()] = operation


# --- the transition body, from a workflow's step table ------------------------------------------------

def step_body_schema(name: str, steps, types: Mapping[str, Callable[..., ma.Field]]) -> type[Schema]:
    """The body of `POST /<id>/transition` for a workflow: `action` (one of the table's), `version`
    (the version read), an optional `comment`, and every field a step takes, typed by `types` (any JSON
    value when a field has no type there yet), each described by the actions that take it."""
    takes: dict[str, list[str]] = {}
    for step in steps:
        for field in step.required:
            takes.setdefault(field, []).append(f"{step.action} (required)")
        for field in step.optional:
            takes.setdefault(field, []).append(step.action)
    declared: dict[str, ma.Field] = {
        "action": ma.String(required=True, validate=OneOf([step.action for step in steps]),
                            metadata={"description": "The step to take"}),
        "version": ma.Integer(required=True, metadata={"description": "The version of the record as read"}),
        "comment": ma.String(allow_none=True, metadata={"description": "Recorded with the step"}),
    }
    for field, actions in takes.items():
        make = types.get(field, ma.Raw)
        declared[field] = make(metadata={"description": "Taken by: " + ", ".join(actions)})
    return Schema.from_dict(declared, name=name)
