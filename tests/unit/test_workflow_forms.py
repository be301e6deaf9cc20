"""The step forms are built from the workflow tables (app.views.workflow): each declared field becomes the
input its parser takes, labelled. The expectations are written out from SPEC, not read from the tables."""

from __future__ import annotations

import pytest

from app.domain import archive_loans, complaints, visits
from app.views.workflow import field_kind

EXPECTED = [
    (complaints.WORKFLOW, "assess", "severity", "choice"),
    (complaints.WORKFLOW, "assign", "department_id", "record"),
    (complaints.WORKFLOW, "start_handling", "handling_deadline", "date"),
    (complaints.WORKFLOW, "reply", "customer_accepted", "yes_no"),
    (complaints.WORKFLOW, "reply", "satisfaction", "score"),
    (complaints.WORKFLOW, "close", "department_signed_off", "tick"),
    (complaints.WORKFLOW, "close_unresolved", "unresolved_routes", "choices"),
    (complaints.WORKFLOW, "confirm", "confirmed_how", "text"),
    (visits.VISIT_WORKFLOW, "visit", "visited_at", "moment"),
    (visits.RECTIFICATION_WORKFLOW, "reject", "deadline", "date"),
    (visits.RETURN_VISIT_WORKFLOW, "record", "method", "choice"),
]


@pytest.mark.parametrize(("workflow", "action", "name", "kind"), EXPECTED)
def test_a_field_is_typed_in_as_its_parser_takes_it(workflow, action, name, kind):
    assert field_kind(name, workflow.step(action).fields[name]) == kind


def test_a_yes_no_field_can_be_a_box_to_tick():
    step = visits.VISIT_WORKFLOW.step("return_visit")
    assert field_kind("effect_confirmed", step.fields["effect_confirmed"], ticks={"effect_confirmed"}) == "tick"


def test_every_plain_field_of_every_workflow_has_a_form_input():
    table_like = {("visit", "items"), ("rectify", "rectifications")}  # typed in a table of their own
    for workflow in (complaints.WORKFLOW, visits.VISIT_WORKFLOW, visits.RECTIFICATION_WORKFLOW,
                     visits.RETURN_VISIT_WORKFLOW, visits.SUMMARY_WORKFLOW, archive_loans.WORKFLOW):
        for step in workflow.steps:
            for name, declared in step.fields.items():
                if (step.action, name) not in table_like:
                    assert field_kind(name, declared), (workflow.code, step.action, name)
