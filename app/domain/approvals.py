"""One approval mechanism for everything that needs the general manager (SPEC §7).

A kind of approval is registered by the area that owns its subject, with what approving and
rejecting do to the subject (through the subject's own rules). Nothing here knows complaints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit
from app.models import Approval

from . import calendar
from .errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from .records import flush
from .roles import GENERAL_MANAGER, role_names

DECISIONS = ("approve", "reject")
APPROVAL_DUE_HOURS = 24  # an approval pending longer than this is overdue (my-work, reminders, lists)


@dataclass(frozen=True)
class ApprovalKind:
    code: str
    label: object
    subject_model: type
    on_approved: Callable  # (session, subject, approval, actor) -> None
    on_rejected: Callable


KINDS: dict[str, ApprovalKind] = {}


def register(kind: ApprovalKind) -> None:
    KINDS[kind.code] = kind


def pending_for(session, subject, kind: str | None = None) -> Approval | None:
    query = select(Approval).where(Approval.subject_table == subject.__table__.name,
                                   Approval.subject_id == subject.id, Approval.state == "pending")
    if kind:
        query = query.where(Approval.kind == kind)
    return session.scalars(query).first()


def request(session, kind: str, subject, actor, summary: str, detail: str | None = None) -> Approval:
    if kind not in KINDS:
        raise ValidationError({"kind": _l("Unknown kind of approval: %(kind)s", kind=kind)})
    if pending_for(session, subject, kind):
        raise ConflictError(_l("An approval of this kind is already pending for this record."))
    approval = Approval(kind=kind, subject_table=subject.__table__.name, subject_id=subject.id,
                        summary=summary[:300], detail=detail, state="pending",
                        requested_by_id=getattr(actor, "id", None),
                        requested_by_name=getattr(actor, "username", "system"), requested_at=calendar.utc_now())
    with audit.acting_as(session, actor):
        session.add(approval)
        flush(session)
    return approval


def decide(session, approval: Approval, decision: str, comment: str | None, actor) -> Approval:
    """The general manager approves or rejects; the subject moves on (or back) by its own rules."""
    if decision not in DECISIONS:
        raise ValidationError({"decision": _l("The decision must be approve or reject.")})
    if GENERAL_MANAGER not in role_names(actor):
        raise ForbiddenError(_l("Only the general manager decides approvals."))
    if approval.state != "pending":
        raise ConflictError(_l("This approval has already been decided."))
    if approval.requested_by_id is not None and approval.requested_by_id == getattr(actor, "id", None):
        raise ForbiddenError(_l("You cannot decide your own request."))
    if decision == "reject" and not (comment or "").strip():
        raise ValidationError({"comment": _l("A rejection needs a comment saying why.")})
    kind = KINDS.get(approval.kind)
    if kind is None:
        raise ValidationError({"kind": _l("Unknown kind of approval: %(kind)s", kind=approval.kind)})
    subject = session.get(kind.subject_model, approval.subject_id)
    if subject is None:
        raise NotFoundError()
    with audit.acting_as(session, actor):
        approval.state = "approved" if decision == "approve" else "rejected"
        approval.decided_by_id, approval.decided_by_name = actor.id, actor.username
        approval.decided_at, approval.comment = calendar.utc_now(), (comment or "").strip() or None
        flush(session)
        (kind.on_approved if decision == "approve" else kind.on_rejected)(session, subject, approval, actor)
    return approval
