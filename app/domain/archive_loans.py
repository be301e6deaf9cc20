"""The consultation and lending register (查阅/借阅登记, SPEC §6, seed 003).

The archivist registers everyone outside customer service who consults a file in the office (it is
out until its return is registered). Lending a file outside the company (外借) needs the general
manager's special approval through the one approval mechanism: the loan is requested, the GM approves
or rejects it, only an approved loan can go out, it has a due date, and it is overdue when it is still
out after that date. Register entries are never deleted.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.models import ArchiveLoan, ArchiveRecord
from app.models.choices import LoanKind, LoanState

from . import workflow as wf
from .calendar import local_now
from .errors import ForbiddenError, NotFoundError, TransitionNotAllowedError, ValidationError
from .records import flush
from .roles import ADMIN, ARCHIVIST, role_names
from .workflow import Deadline, Party, Step, Wait

APPROVAL_KIND = "archive_loan"
REGISTRARS = frozenset({ARCHIVIST, ADMIN})
MAX_TEXT = {"borrower": 64, "borrower_department": 64}


def _require_registrar(actor) -> None:
    if not role_names(actor) & REGISTRARS:
        raise ForbiddenError(_l("Only the archivist registers consultations and loans."))


def _clean(values: dict, due_on_required: bool) -> dict:
    errors, cleaned = {}, {}
    for name in ("borrower", "borrower_department", "purpose"):
        text = str(values.get(name) or "").strip()
        if not text:
            errors[name] = _l("This field is required.")
        elif name in MAX_TEXT and len(text) > MAX_TEXT[name]:
            errors[name] = _l("At most %(n)s characters.", n=MAX_TEXT[name])
        cleaned[name] = text
    due_on = values.get("due_on")
    if isinstance(due_on, str) and due_on.strip():
        try:
            due_on = date.fromisoformat(due_on.strip())
        except ValueError:
            errors["due_on"] = _l("Enter a date as YYYY-MM-DD.")
    elif not isinstance(due_on, date):
        due_on = None
    if due_on_required and due_on is None and "due_on" not in errors:
        errors["due_on"] = _l("A loan outside the company needs a due date.")
    elif due_on is not None and "due_on" not in errors and due_on < local_now().date():
        errors["due_on"] = _l("The due date cannot lie in the past.")
    cleaned["due_on"] = due_on
    cleaned["note"] = str(values.get("note") or "").strip() or None
    if errors:
        raise ValidationError(errors)
    return cleaned


def _record(session, archive_record_id) -> ArchiveRecord:
    try:
        record = session.get(ArchiveRecord, int(archive_record_id))
    except (TypeError, ValueError):
        record = None
    if record is None:
        raise ValidationError({"archive_record_id": _l("No archived file has this number.")})
    return record


def register(session, kind: str, archive_record_id, values: dict, actor) -> ArchiveLoan:
    """A consultation goes out at once; a loan outside waits for the general manager."""
    _require_registrar(actor)
    if kind not in (LoanKind.CONSULTATION, LoanKind.LOAN):
        raise ValidationError({"kind": _l("Choose a consultation in the office or a loan outside.")})
    record = _record(session, archive_record_id)
    cleaned = _clean(values, due_on_required=kind == LoanKind.LOAN)
    now = local_now()
    loan = ArchiveLoan(archive_record_id=record.id, kind=kind, registered_by_name=actor.username, **cleaned,
                       state=LoanState.OUT if kind == LoanKind.CONSULTATION else LoanState.REQUESTED,
                       out_at=now if kind == LoanKind.CONSULTATION else None)
    with audit.acting_as(session, actor):
        session.add(loan)
        flush(session)
    if kind == LoanKind.LOAN:
        wf.request_approval(session, WORKFLOW, APPROVAL_KIND, loan, actor)
    return loan


def _a_loan_outside(session, loan, actor):
    if loan.kind != LoanKind.LOAN:
        raise TransitionNotAllowedError(_l("A consultation in the office is not lent out."))


def _stamp_out(session, loan, actor, values):
    loan.out_at = local_now()


def _stamp_returned(session, loan, actor, values):
    loan.returned_at = local_now()


def _loan_summary(loan) -> str:
    return (f"{loan.archive_record.number} 外借：{loan.borrower}（{loan.borrower_department}），"
            f"至 {loan.due_on:%Y-%m-%d}")


ARCHIVISTS = Party("archivists", _l("the archivist"), REGISTRARS, lambda loan, d: d.role(ARCHIVIST),
                   where=wf.everyone_of(ARCHIVIST))
STEPS = (
    Step("lend", frozenset({LoanState.APPROVED}), LoanState.OUT, REGISTRARS,
         condition=_a_loan_outside, effect=_stamp_out),
    Step("register_return", frozenset({LoanState.OUT}), LoanState.RETURNED, REGISTRARS,
         effect=_stamp_returned),
)
WORKFLOW = wf.Workflow(
    "loan", _l("Loan of an archived file"), ArchiveLoan, LoanState, STEPS,
    # A file out is waited for once its due date has passed (a consultation in the office has none).
    waits={LoanState.OUT: Wait((ARCHIVISTS,), (Deadline("loan", _l("loan due back"), "due_on"),),
                               when=lambda session, loan, at: loan.due_on is not None and loan.due_on < at.date()),
           LoanState.APPROVED: Wait((ARCHIVISTS,))},
    path=(LoanState.REQUESTED, LoanState.APPROVED, LoanState.OUT, LoanState.RETURNED),
    number=lambda loan: loan.archive_record.number, what=_l("loan"), actions=labels.LOAN_ACTIONS, reads=("archive_record",),
    approvals=(wf.ApprovalRule(APPROVAL_KIND, _l("Loan of an archived file outside the company"), _loan_summary,
                               detail=lambda loan: loan.purpose, approved_target=LoanState.APPROVED,
                               rejected_target=LoanState.REJECTED, actions=("approve", "reject")),))


def lend(session, loan: ArchiveLoan, actor) -> ArchiveLoan:
    """The approved loan leaves the archive now."""
    return wf.transition(session, WORKFLOW, loan, "lend", actor, loan.version)


def register_return(session, loan: ArchiveLoan, actor) -> ArchiveLoan:
    return wf.transition(session, WORKFLOW, loan, "register_return", actor, loan.version)


def is_overdue(loan: ArchiveLoan, today: date | None = None) -> bool:
    return bool(WORKFLOW.overdue_reasons(loan, _at(today)))


def overdue_clause(today: date | None = None):
    return WORKFLOW.overdue_clause(_at(today))


def _at(today: date | None) -> datetime:
    return datetime.combine(today, datetime.min.time()) if today else local_now()


def get(session, loan_id) -> ArchiveLoan:
    loan = session.get(ArchiveLoan, loan_id)
    if loan is None:
        raise NotFoundError()
    return loan


def register_rows(session, loans: list[ArchiveLoan]) -> list[list]:
    """The lines of the printed register (档案借阅登记表), one per entry."""
    records = {r.id: r for r in session.scalars(select(ArchiveRecord).where(
        ArchiveRecord.id.in_({loan.archive_record_id for loan in loans})))} if loans else {}
    decided = {}
    if loans:
        from app.models import Approval

        for approval in session.scalars(select(Approval).where(
                Approval.kind == APPROVAL_KIND, Approval.subject_id.in_([loan.id for loan in loans]))):
            decided[approval.subject_id] = approval
    today = local_now().date()
    rows = []
    for i, loan in enumerate(loans, start=1):
        record = records.get(loan.archive_record_id)
        approval = decided.get(loan.id)
        if loan.kind != LoanKind.LOAN:
            gm = "—"
        elif approval is None or approval.state == "pending":
            gm = "待审批"
        else:
            gm = f"{'同意' if approval.state == 'approved' else '不同意'} {approval.decided_by_name or ''}"
        rows.append([
            i, record.number if record else "", record.title if record else "",
            f"{loan.borrower}（{loan.borrower_department}）", loan.purpose,
            "外借" if loan.kind == LoanKind.LOAN else "查阅", gm,
            f"{loan.out_at:%Y-%m-%d}" if loan.out_at else "", f"{loan.due_on:%Y-%m-%d}" if loan.due_on else "",
            f"{loan.returned_at:%Y-%m-%d}" if loan.returned_at else "", "是" if is_overdue(loan, today) else "", "",
        ])
    return rows
