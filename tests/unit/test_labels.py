"""One word for one thing (issue 12, item 4): the labels of fields and actions come from app.labels, so a
page, the REST API and a printed form say the same. These tests fail when a label is restated elsewhere
with other words, or when a step of a workflow has no label in the shared table."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from app import labels

# (page, REST resource) pairs that show the same records.
SAME_RECORDS = [("ComplaintView", "ComplaintApi"), ("CaseEntryView", "CaseEntryApi"),
                ("ApprovalView", "ApprovalApi"), ("ArchiveRecordView", "ArchiveApi"),
                ("ArchiveLoanView", "ArchiveLoanApi"), ("CustomerView", "CustomerApi"),
                ("ProjectView", "ProjectApi"), ("DepartmentView", "DepartmentApi")]


def _instance(app, name):
    found = [v for v in app.appbuilder.baseviews if type(v).__name__ == name]
    assert len(found) == 1, name
    return found[0]


@pytest.mark.parametrize(("page", "resource"), SAME_RECORDS)
def test_a_page_and_its_rest_resource_label_a_column_alike(app, page, resource):
    view, api = _instance(app, page), _instance(app, resource)
    shared = set(view.label_columns) & set(api.label_columns)
    assert len(shared) >= 3, (page, resource, shared)
    with app.test_request_context(), force_locale("zh"):
        different = {c: (str(view.label_columns[c]), str(api.label_columns[c])) for c in shared
                     if str(view.label_columns[c]) != str(api.label_columns[c])}
    assert different == {}


def test_the_shared_tables_are_not_changed_by_the_views_that_use_them(app):
    """Flask-AppBuilder writes the labels it makes up into a view's label_columns: each view has its own
    copy, and the shared table stays read-only."""
    assert _instance(app, "ComplaintView").label_columns is not labels.COMPLAINT
    with pytest.raises(TypeError):
        labels.COMPLAINT["confirmed_how"] = "x"


@pytest.mark.parametrize(("steps", "table"), [
    ("app.domain.complaints:STEPS", "COMPLAINT_ACTIONS"),
    ("app.domain.visits:VISIT_STEPS", "VISIT_ACTIONS"),
    ("app.domain.visits:RECTIFICATION_STEPS", "RECTIFICATION_ACTIONS"),
])
def test_every_step_has_its_label_in_the_shared_table(app, steps, table):
    import importlib

    module, name = steps.split(":")
    found = getattr(importlib.import_module(module), name)
    shared = getattr(labels, table)
    assert found
    with app.test_request_context():
        for locale in ("zh", "en"):
            with force_locale(locale):
                wrong = {s.action: (str(s.label), str(shared.get(s.action))) for s in found
                         if str(s.label) != str(shared.get(s.action))}
                assert wrong == {}, locale


def test_every_workflow_reads_its_action_labels_from_the_shared_tables(app):
    """One copy: each step's label is the very entry of a table of app.labels."""
    from app.domain.workflow import WORKFLOWS

    tables = {name: table for name, table in vars(labels).items() if name.endswith("_ACTIONS")}
    assert {"complaint", "visit", "rectification", "return_visit", "visit_summary", "loan"} <= set(WORKFLOWS)
    for code, workflow in WORKFLOWS.items():
        homes = [name for name, table in tables.items() if table is workflow.actions]
        assert len(homes) == 1, code
        for step in workflow.steps:
            assert step.label is tables[homes[0]][step.action], (code, step.action)


def test_a_step_without_a_shared_label_is_refused():
    from app.domain.workflow import Step, Workflow

    with pytest.raises(LookupError, match="no_such_step"):
        Workflow("test_only", "test", object, object, (Step("no_such_step", frozenset({"a"}), "b", frozenset()),),
                 actions=labels.COMPLAINT_ACTIONS)


def test_every_field_of_the_complaint_sections_is_labelled(app):
    with app.test_request_context(), force_locale("zh"):
        for _title, columns in labels.COMPLAINT_SECTIONS:
            for column in columns:
                text = labels.label(labels.COMPLAINT, column)
                assert text != column and any("\u4e00" <= ch <= "\u9fff" for ch in text), column


def test_the_printed_complaint_record_uses_the_pages_words(app, ctx):
    """The step names and field labels of the printed record are the page's (in Chinese)."""
    from sqlalchemy import select

    from app import printing
    from app.models import Complaint, ComplaintStep
    from app.views.complaints import action_label, complaint_timeline

    complaint = ctx.scalars(select(Complaint).where(Complaint.state == "fed_back").order_by(Complaint.id)
                            .limit(1)).one()
    with app.test_request_context(), force_locale("zh"):
        data = printing.complaint_record_data(ctx, complaint, None, False)
        steps = ctx.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                            .order_by(ComplaintStep.id)).all()
        page = complaint_timeline(ctx, steps, {})
    assert [row[1] for row in data["timeline"]] == [entry.action for entry in page]
    assert [row[1] for row in data["timeline"]] == [action_label(s.action) for s in steps]
    printed_fields = {label for _title, rows in data["sections"] for label, _text in rows}
    page_fields = {label for entry in page for label, _text in entry.data}
    assert page_fields & printed_fields and "确认有效" in [row[1] for row in data["timeline"]]
