"""The OpenAPI document of the workflow endpoints is generated from marshmallow schemas (app.api.documented):
the transition bodies are derived from the domain's step tables and keep every action code and field name
the API has (SPEC §10 and the documented API are a contract); every endpoint of ours documents its request
and its answer; no hand-written YAML is left in the complaint and visit APIs."""

from __future__ import annotations

import ast
from collections import namedtuple
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The action codes and step fields the API takes today (literal: a contract, not read from the tables).
COMPLAINT_ACTIONS = ["confirm", "close_invalid", "assess", "assign", "start_handling", "add_progress", "reply",
                     "close", "return_visit", "feed_back"]
COMPLAINT_FIELDS = {"confirmed_how", "invalid_explanation", "severity", "category", "legal_opinion", "handling_plan",
                    "department_id", "assigned_post", "assigned_person", "cause_analysis", "report", "measures",
                    "handling_person", "handling_deadline", "progress_note", "customer_told_how", "reply_result",
                    "customer_accepted", "satisfaction", "department_signed_off", "person_signed_off",
                    "return_visit_method", "return_visit_record", "return_visit_satisfaction", "root_cause",
                    "improvement", "case_title", "case_stage", "case_category", "case_lesson"}
VISIT_ACTIONS = ["visit", "rectify", "return_visit", "archive"]
VISIT_FIELDS = {"items", "visited_at", "opinions", "companions", "rectifications", "return_visit_method",
                "return_visit_record", "satisfaction", "effect_confirmed"}
RECTIFICATION_ACTIONS = ["report_progress", "complete", "accept", "reject"]
RECTIFICATION_FIELDS = {"note", "customer_told", "told_how", "measure", "deadline", "responsible_person",
                        "department_id", "tenant_consulted"}
OUR_OPERATIONS = {  # (path, method): the status of the answer
    ("/api/v1/complaint/{pk}/transition", "post"): "200", ("/api/v1/complaint/{pk}/print", "post"): "201",
    ("/api/v1/complaint/{pk}/steps", "get"): "200", ("/api/v1/complaint/{pk}/attachment", "get"): "200",
    ("/api/v1/complaint/{pk}/attachment", "post"): "201",
    ("/api/v1/complaint/{pk}/attachment/{attachment_id}", "get"): "200", ("/api/v1/complaint/stats", "get"): "200",
    ("/api/v1/approval/{pk}/decide", "post"): "200",
    ("/api/v1/visit/{pk}/transition", "post"): "200", ("/api/v1/visit/{pk}/items", "get"): "200",
    ("/api/v1/visit/{pk}/rectifications", "get"): "200", ("/api/v1/visit/{pk}/steps", "get"): "200",
    ("/api/v1/visit/{pk}/print", "post"): "201", ("/api/v1/rectification/{pk}/transition", "post"): "200",
    ("/api/v1/return_visit/{pk}/record", "post"): "200", ("/api/v1/return_visit/schedule", "post"): "200",
    ("/api/v1/return_visit/{pk}/print", "post"): "201", ("/api/v1/visit_summary/{pk}/submit", "post"): "200",
    ("/api/v1/visit_summary/{pk}/case", "post"): "201",
}
WITH_BODY = {op for op in OUR_OPERATIONS if op[1] == "post"} - {("/api/v1/visit/{pk}/print", "post"),
                                                               ("/api/v1/return_visit/{pk}/print", "post")}


@pytest.fixture(scope="module")
def spec(api_as):
    response = api_as("admin").get("/api/v1/_openapi")
    assert response.status_code == 200
    return response.get_json()


def body_schema(spec, path) -> dict:
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.parametrize(("path", "actions", "fields"), [
    ("/api/v1/complaint/{pk}/transition", COMPLAINT_ACTIONS, COMPLAINT_FIELDS),
    ("/api/v1/visit/{pk}/transition", VISIT_ACTIONS, VISIT_FIELDS),
    ("/api/v1/rectification/{pk}/transition", RECTIFICATION_ACTIONS, RECTIFICATION_FIELDS),
])
def test_a_transition_body_names_every_action_and_field(spec, path, actions, fields):
    schema = body_schema(spec, path)
    # Today's names are all there (a step or field added later comes on top of them).
    assert set(actions) <= set(schema["properties"]["action"]["enum"])
    assert {"action", "version", "comment", *fields} <= set(schema["properties"])
    assert set(schema["required"]) == {"action", "version"}
    assert schema["properties"]["version"]["type"] == "integer"


def test_a_field_says_which_steps_take_it_and_is_typed(spec):
    visit = body_schema(spec, "/api/v1/visit/{pk}/transition")["properties"]
    assert visit["items"]["description"] == "Taken by: visit (required)"
    assert visit["items"]["items"]["$ref"] == "#/components/schemas/InspectedItem"
    assert visit["satisfaction"]["minimum"] == 1 and visit["satisfaction"]["maximum"] == 5
    complaint = body_schema(spec, "/api/v1/complaint/{pk}/transition")["properties"]
    assert complaint["legal_opinion"]["description"] == "Taken by: assess"
    assert complaint["severity"]["enum"] == ["general", "major", "crisis"]
    rectification = body_schema(spec, "/api/v1/rectification/{pk}/transition")["properties"]
    assert rectification["note"]["description"].startswith("Taken by: report_progress (required), complete (required)")
    assert rectification["deadline"]["format"] == "date"


def test_a_field_added_to_a_step_is_documented_from_the_table_alone():
    from marshmallow import fields as ma

    from app.api.documented import step_body_schema

    step = namedtuple("step", "action required optional")
    table = (step("inspect", ("findings",), ("photos_taken",)), step("close", ("verdict",), ()))
    schema = step_body_schema("ProbeTransitionSchema", table, {"verdict": ma.Boolean})()
    assert set(schema.fields) == {"action", "version", "comment", "findings", "photos_taken", "verdict"}
    assert type(schema.fields["findings"]) is ma.Raw  # no type given yet: any JSON value
    assert type(schema.fields["verdict"]) is ma.Boolean
    assert schema.fields["photos_taken"].metadata["description"] == "Taken by: inspect"
    assert schema.load({"action": "close", "version": 3, "verdict": True}) == {
        "action": "close", "version": 3, "verdict": True}


def test_every_endpoint_of_ours_documents_its_request_and_answer(spec):
    for (path, method), status in OUR_OPERATIONS.items():
        operation = spec["paths"][path][method]
        assert operation["summary"], (path, method)
        answer = operation["responses"][status]
        assert answer["description"] and answer["content"], (path, method)
        media = next(iter(answer["content"].values()))
        assert "$ref" in media["schema"] or media["schema"].get("format") == "binary", (path, method)
        assert {"401"} <= set(operation["responses"]), (path, method)
        if (path, method) in WITH_BODY:
            content = operation["requestBody"]["content"]
            assert "$ref" in next(iter(content.values()))["schema"], (path, method)
        for name in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
            assert {"in": "path", "name": name, "required": True, "schema": {"type": "integer"}} in \
                operation["parameters"], (path, method, name)
    stats = spec["paths"]["/api/v1/complaint/stats"]["get"]
    assert {p["name"] for p in stats["parameters"] if p["in"] == "query"} == {"month", "ledger_offset", "ledger_limit"}


def test_no_hand_written_yaml_is_left_in_the_workflow_apis():
    modules = [ROOT / "app" / "api" / "complaints.py", *sorted((ROOT / "app" / "api" / "visits").glob("*.py"))]
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert "\n---" not in (ast.get_docstring(node) or ""), f"{module.name}: {node.name}"
