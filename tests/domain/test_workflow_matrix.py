"""Who may take which step, in which state — written out from SPEC §3 (complaints, ISO 10002 steps
included), not read from the table under test. For every state of a general complaint and every demo
user, the steps offered must be exactly these; each one not offered is refused by `transition`, in
Chinese, with nothing written (the complaint, its step entries and the audit rows are counted)."""

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.domain import complaints, records
from app.domain.errors import DomainError
from app.models import ComplaintStep, Department
from tests.conftest import USERNAMES, audit_count
from tests.domain.test_complaints import GOOD, fields, open_one, walk

# SPEC §1/§3: CS Staff receive, acknowledge, confirm, assess general complaints, reply (first-responsible)
# and return-visit; the CS Manager also assigns, closes (resolved or not) and feeds back; the assigned
# department (eng_staff: 工程部) starts handling and adds progress; nobody else takes a step.
ACKNOWLEDGE = {"cs_staff", "cs_manager"}
MATRIX = {
    "received": {"acknowledge": ACKNOWLEDGE, "confirm": {"cs_staff", "cs_manager"},
                 "close_invalid": {"cs_staff", "cs_manager"}},
    "confirmed": {"acknowledge": ACKNOWLEDGE, "assess": {"cs_staff", "cs_manager"}},
    "assessed": {"acknowledge": ACKNOWLEDGE, "assign": {"cs_manager"}},
    "investigating": {"acknowledge": ACKNOWLEDGE, "start_handling": {"eng_staff", "cs_manager"}},
    "handling": {"acknowledge": ACKNOWLEDGE, "add_progress": {"eng_staff", "cs_staff", "cs_manager"},
                 "reply": {"cs_staff", "cs_manager"}, "close_unresolved": {"cs_manager"}},
    "replied": {"acknowledge": ACKNOWLEDGE, "close": {"cs_manager"}, "close_unresolved": {"cs_manager"}},
    "closed": {"return_visit": {"cs_staff", "cs_manager"}},
    "return_visited": {"feed_back": {"cs_manager"}},
    "fed_back": {},
    "closed_invalid": {},
    "closed_unresolved": {},
}
WALK = {"received": [], "confirmed": ["confirm"], "assessed": ["confirm", "assess"],
        "investigating": ["confirm", "assess", "assign"],
        "handling": ["confirm", "assess", "assign", "start_handling"],
        "replied": ["confirm", "assess", "assign", "start_handling", "reply"],
        "closed": ["confirm", "assess", "assign", "start_handling", "reply", "close"],
        "return_visited": ["confirm", "assess", "assign", "start_handling", "reply", "close", "return_visit"],
        "fed_back": ["confirm", "assess", "assign", "start_handling", "reply", "close", "return_visit", "feed_back"],
        "closed_invalid": ["close_invalid"],
        "closed_unresolved": ["confirm", "assess", "assign", "start_handling", "close_unresolved"]}
EVERY_ACTION = ("acknowledge", "confirm", "close_invalid", "assess", "assign", "start_handling", "add_progress",
                "reply", "close", "close_unresolved", "return_visit", "feed_back")
SOME_FIELDS = {**GOOD, "acknowledge": {"acknowledged_how": "phone"},
               "close_unresolved": {"unresolved_position": "按合同无法满足", "unresolved_routes": ["hotline_12345"],
                                    "customer_told_how": "电话告知"}}


@pytest.fixture
def eng(ctx):
    return ctx.scalar(select(Department).where(Department.code == "ENG"))


def walk_to(session, complaint, actions, users, eng_department):
    for action in actions:
        actor = users["eng_staff"] if action == "start_handling" else users["cs_manager"]
        values = fields(action, eng_department) if action in GOOD else dict(SOME_FIELDS[action])
        with records.unit_of_work(session):
            complaints.transition(session, complaint, action, actor, complaint.version, values)
    return complaint


def test_the_matrix_names_every_state():
    assert set(MATRIX) == {s.value for s in complaints.S}


@pytest.mark.parametrize("state", sorted(MATRIX))
def test_each_role_is_offered_exactly_its_steps_and_refused_the_rest(ctx, users, eng, state):
    session = ctx
    complaint = walk_to(session, open_one(session, users), WALK[state], users, eng)
    assert complaint.state == state
    refused_once = set()  # each refused action is tried once per state, by the first role refused it
    for username in USERNAMES:
        expected = {action for action, who in MATRIX[state].items() if username in who}
        offered = {step.action for step in complaints.allowed_steps(session, complaint, users[username])}
        assert offered == expected, (state, username)
        for action in sorted(set(EVERY_ACTION) - expected - refused_once):
            refused_once.add(action)
            before = (complaint.version, audit_count(session),
                      session.scalar(select(func.count()).select_from(ComplaintStep)
                                     .where(ComplaintStep.complaint_id == complaint.id)))
            values = fields(action, eng) if action in GOOD else dict(SOME_FIELDS.get(action, {}))
            with force_locale("zh"), pytest.raises(DomainError) as refused:
                with records.unit_of_work(session):
                    complaints.transition(session, complaint, action, users[username], complaint.version, values)
            message = str(refused.value)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in message), (state, username, action, message)
            session.refresh(complaint)
            after = (complaint.version, audit_count(session),
                     session.scalar(select(func.count()).select_from(ComplaintStep)
                                    .where(ComplaintStep.complaint_id == complaint.id)))
            assert after == before, (state, username, action)


def test_assessing_as_major_is_the_managers(ctx, users, eng):
    session = ctx
    complaint = walk(session, open_one(session, users), ["confirm"], users, eng)
    major = {"severity": "major", "category": "engineering_quality", "legal_opinion": "先鉴定",
             "handling_plan": "第三方鉴定后维修"}
    with pytest.raises(DomainError), records.unit_of_work(session):
        complaints.transition(session, complaint, "assess", users["cs_staff"], complaint.version, major)
    session.refresh(complaint)
    assert complaint.state == "confirmed"
    with records.unit_of_work(session):
        complaints.transition(session, complaint, "assess", users["cs_manager"], complaint.version, major)
    assert complaint.state == "assessed"
    # The plan waits for the general manager: nobody may assign it meanwhile.
    assert complaints.allowed_steps(session, complaint, users["cs_manager"]) == []


def test_every_action_an_entry_can_record_fits_its_column():
    """A step entry records the action code; PostgreSQL refuses a longer one (SQLite would not)."""
    from app.domain import visits
    from app.models import VisitStep

    for workflow, column in ((complaints.WORKFLOW, ComplaintStep.action), (visits.VISIT_WORKFLOW, VisitStep.action),
                             (visits.RECTIFICATION_WORKFLOW, VisitStep.action)):
        codes = set()
        for step in workflow.steps:
            codes.add(step.action)
            if step.approval:
                codes.update(step.approval.actions or (f"approve_{step.action}", f"reject_{step.action}"))
        too_long = sorted(code for code in codes if len(code) > column.type.length)
        assert not too_long, (workflow.code, too_long)
