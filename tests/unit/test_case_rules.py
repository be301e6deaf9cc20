"""The rules of a case-library entry live in one place, app.domain.cases (issue 12, item 4): required
title, stage, category and description; stage and category among the SPEC §2 codes; an existing project,
department and source record; only the customer-service manager writes the library. Bad input, drawn by
Hypothesis, is refused with every broken field named at once and nothing written."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.domain import cases, records
from app.domain.errors import ForbiddenError, ValidationError
from app.models import AuditLog, CaseEntry, Complaint

# SPEC §2, written out here (not read from the code under test).
STAGES = ("design", "marketing", "construction", "delivery", "move_in")
CATEGORIES = ("planning", "building", "living", "quality")
GOOD = {"title": "地库照明不足", "stage": "delivery", "category": "quality",
        "description": "多户反映地库照明不足，夜间行车不便"}
NO_RECORD = st.integers(min_value=10**7, max_value=2**31 - 1)  # no demo table has that many rows


def _not_a_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


NOT_TEXT = st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                     st.lists(st.text(max_size=3), min_size=1, max_size=2),
                     st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2))
BLANK = st.one_of(st.none(), st.text(" \t\r\n\u3000", max_size=4))
WITH_NUL = st.tuples(st.text(max_size=10), st.text(max_size=10)).map(lambda p: f"{p[0]}x\x00{p[1]}")


def _bad_choice(codes):
    return st.one_of(BLANK, NOT_TEXT, st.text(min_size=1, max_size=30).filter(lambda t: t not in codes))


BAD_ID = st.one_of(NO_RECORD, st.integers(max_value=0), st.integers(min_value=2**31, max_value=2**80),
                   st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(min_size=1, max_size=12).filter(_not_a_number),
                   st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=2))

# Per field: values it must refuse.
BAD = {
    "title": st.one_of(BLANK, NOT_TEXT, WITH_NUL,
                       st.text(min_size=201, max_size=260).filter(lambda t: len(t.strip()) > 200)),
    "stage": _bad_choice(STAGES),
    "category": _bad_choice(CATEGORIES),
    "description": st.one_of(BLANK, NOT_TEXT, WITH_NUL),
    "cause": st.one_of(NOT_TEXT, WITH_NUL),
    "project_id": BAD_ID,
    "department_id": BAD_ID,
    "source_id": st.one_of(NO_RECORD, st.booleans(), st.text(min_size=1, max_size=8).filter(_not_a_number)),
    "source_table": st.text(min_size=1, max_size=20).filter(lambda t: t not in ("complaint", "visit", "visit_summary")),
}
# A bad source record is named with a good table, a bad table alone.
ALONGSIDE = {"source_id": {"source_table": "complaint"}, "source_table": {"source_id": None}}


@st.composite
def bad_entries(draw):
    """(values, the fields that must be named): a valid entry with one or more fields made bad."""
    broken = draw(st.sets(st.sampled_from(sorted(BAD)), min_size=1, max_size=4)
                  .filter(lambda s: not {"source_id", "source_table"} <= s))
    values = dict(GOOD)
    for name in broken:
        values.update(ALONGSIDE.get(name, {}), **{name: draw(BAD[name])})
    return values, broken


def _counts(session):
    return session.scalar(select(func.count(CaseEntry.id))), session.scalar(select(func.count(AuditLog.id)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=bad_entries())
def test_bad_input_is_refused_with_every_broken_field_named_and_nothing_written(ctx, users, bad):
    values, broken = bad
    before = _counts(ctx)
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx):
            cases.new_entry(ctx, users["cs_manager"], **values)
    assert refused.value.status == 422
    assert set(refused.value.errors) >= broken, (values, refused.value.errors)
    assert _counts(ctx) == before


@pytest.mark.parametrize("username", ["cs_staff", "admin", "gm", "eng_staff", "auditor"])
def test_only_the_customer_service_manager_adds_to_the_library(ctx, users, username):
    before = _counts(ctx)
    with pytest.raises(ForbiddenError):
        with records.unit_of_work(ctx):
            cases.new_entry(ctx, users[username], **GOOD)
    assert _counts(ctx) == before


def test_a_good_entry_is_written_once_and_audited(ctx, users):
    """(Flushed, not committed: the ctx fixture rolls it back, leaving the shared demo data as it was.)"""
    source = ctx.scalar(select(Complaint.id).order_by(Complaint.id).limit(1))
    before = _counts(ctx)
    entry = cases.new_entry(ctx, users["cs_manager"], **{**GOOD, "title": "  地库照明不足  "},
                            lesson="设计阶段提高照度标准", source_table="complaint", source_id=str(source))
    assert (entry.id is not None, entry.title, entry.source_id, entry.cause) == (True, "地库照明不足", source, None)
    assert _counts(ctx) == (before[0] + 1, before[1] + 1)


def test_an_entry_made_without_the_domain_function_is_refused_at_the_flush(ctx, users):
    """Whatever path makes an entry (a workflow step writing CaseEntry itself, a script), the flush
    applies the same rules."""
    from app import audit

    before = _counts(ctx)
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx), audit.acting_as(ctx, users["cs_manager"]):
            ctx.add(CaseEntry(title=" ", stage="someday", category="quality", description="x", project_id=10**8))
            ctx.flush()
    assert set(refused.value.errors) == {"title", "stage", "project_id"}
    assert _counts(ctx) == before


def test_the_forms_and_the_api_offer_the_choices_of_spec():
    assert [code for code, _ in cases.choices("stage")] == list(STAGES)
    assert [code for code, _ in cases.choices("category", blank=True)] == ["", *CATEGORIES]


def test_a_step_form_gets_the_errors_under_its_own_field_names(ctx, users):
    """A complaint's feedback step calls the entry's fields case_title, case_stage ...: the errors say so."""
    names = {"title": "case_title", "stage": "case_stage", "category": "case_category"}
    with pytest.raises(ValidationError) as refused:
        cases.new_entry(ctx, users["cs_manager"], **{**GOOD, "title": "", "stage": "x"}, names=names)
    assert set(refused.value.errors) == {"case_title", "case_stage"}
