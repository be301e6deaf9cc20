"""The membership workflow (seed 002 会员俱乐部管理): a customer applies; customer service reviews the
eligibility (the rule of app.domain.club.eligibility: who, result, reason — an ineligible applicant's
membership ends there); the card is issued (member number at the review, card number with the card),
the member activated. While active the customer's stage shows 会员; lapsing or cancelling gives the
stage back. A lost card is replaced: the old number is voided, a new one issued."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.domain import calendar, fields, scope
from app.domain import workflow as wf
from app.domain.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from app.domain.records import flush
from app.domain.roles import ADMIN, CS_MANAGER, CS_STAFF, GENERAL_MANAGER, role_names
from app.domain.workflow import Party, Step, Wait, optional, required
from app.models import Customer, Member, MemberCard
from app.models.choices import CustomerStage
from app.models.club import MemberState

from . import numbers
from .eligibility import eligibility

S = MemberState
CLUB_ROLES = frozenset({CS_STAFF, CS_MANAGER, GENERAL_MANAGER, ADMIN})
ENDED = frozenset({S.LAPSED, S.CANCELLED})
OPEN = frozenset(S) - ENDED

CUSTOMER_SERVICE = Party("customer_service", _l("customer service"), frozenset({CS_STAFF, CS_MANAGER}),
                         lambda member, d: d.role(CS_STAFF), where=wf.everyone_of(CS_STAFF))


# --- the steps' checks and effects ------------------------------------------------------------------------

def _review(session, member, actor, values):
    found = eligibility(session, member.customer)
    member.reviewed_by_id, member.reviewed_at = getattr(actor, "id", None), calendar.local_now()
    member.eligible, member.review_reason = found.eligible, found.reason[:300]
    if found.eligible:
        flush(session)
        member.member_number = numbers.member_number(member)
    else:
        member.ended_at, member.end_reason = calendar.local_now(), found.reason[:300]


def _new_card(session, member) -> MemberCard:
    card = MemberCard(member_id=member.id, card_number=numbers.card_number(session), issued_at=calendar.local_now())
    session.add(card)
    flush(session)
    member.card_number = card.card_number
    return card


def _issue_card(session, member, actor, values):
    _new_card(session, member)
    member.card_issued_at = calendar.local_now()


def _replace_card(session, member, actor, values):
    old = session.scalars(select(MemberCard).where(MemberCard.member_id == member.id,
                                                   MemberCard.card_number == member.card_number)).first()
    if old is not None:
        old.voided_at, old.void_reason = calendar.local_now(), values["reason"][:300]
    member.card_number = None  # the unique number moves to the new card row first
    flush(session)
    _new_card(session, member)


def _show_as_member(session, member, actor, values):
    customer = member.customer
    if customer.stage != CustomerStage.MEMBER:
        member.previous_stage = customer.stage
        customer.stage = CustomerStage.MEMBER
    member.activated_at, member.ended_at = calendar.local_now(), None


def _end(session, member, actor, values):
    member.ended_at, member.end_reason = calendar.local_now(), values["reason"][:300]
    customer = member.customer
    if customer.stage == CustomerStage.MEMBER and member.previous_stage:
        customer.stage = member.previous_stage


def _no_review_fields_needed(session, member, actor):
    if member.customer is None:
        raise NotFoundError()


_REASON = {"reason": required(fields.text, stored=False)}

MEMBER_STEPS: tuple[Step, ...] = (
    Step("review", frozenset({S.APPLIED}), S.REVIEWED, CLUB_ROLES, {"note": optional(fields.text, stored=False)},
         condition=_no_review_fields_needed, effect=_review,
         route=lambda member, values: S.REVIEWED if member.eligible else S.CANCELLED, comment_field="note"),
    Step("issue_card", frozenset({S.REVIEWED}), S.CARD_ISSUED, CLUB_ROLES, effect=_issue_card),
    Step("activate", frozenset({S.CARD_ISSUED}), S.ACTIVE, CLUB_ROLES, effect=_show_as_member),
    Step("replace_card", frozenset({S.CARD_ISSUED, S.ACTIVE}), None, CLUB_ROLES, _REASON, effect=_replace_card,
         comment_field="reason"),
    Step("lapse", frozenset({S.ACTIVE}), S.LAPSED, CLUB_ROLES, _REASON, effect=_end, comment_field="reason"),
    Step("renew", frozenset({S.LAPSED}), S.ACTIVE, CLUB_ROLES, effect=_show_as_member),
    Step("cancel", frozenset({S.APPLIED, S.REVIEWED, S.CARD_ISSUED, S.ACTIVE, S.LAPSED}), S.CANCELLED, CLUB_ROLES,
         _REASON, effect=_end, comment_field="reason"),
)

MEMBER_WORKFLOW = wf.Workflow(
    "club_member", _l("Club member"), Member, MemberState, MEMBER_STEPS,
    waits={S.APPLIED: Wait((CUSTOMER_SERVICE,)), S.REVIEWED: Wait((CUSTOMER_SERVICE,)),
           S.CARD_ISSUED: Wait((CUSTOMER_SERVICE,))},
    path=(S.APPLIED, S.REVIEWED, S.CARD_ISSUED, S.ACTIVE), number=lambda m: m.number, what=_l("membership"),
    actions=labels.MEMBER_ACTIONS, reads=("customer",))


# --- applying, moving, reading ----------------------------------------------------------------------------

def may_work(actor) -> None:
    if not role_names(actor) & CLUB_ROLES:
        raise ForbiddenError()


def apply(session, actor, customer_id, hobbies=None, important_dates=None, remarks=None) -> Member:
    """申请: a membership in `applied` for a customer who has no open one."""
    may_work(actor)
    try:
        customer_id = fields.record_id(customer_id)
    except ValueError as exc:
        raise ValidationError({"customer_id": exc.args[0]}) from None
    customer = scope.restrict(session.query(Customer).filter(Customer.id == customer_id), Customer, actor,
                              session).one_or_none()
    if customer is None:
        raise ValidationError({"customer_id": _l("This customer does not exist.")})
    if session.scalar(select(Member.id).where(Member.customer_id == customer.id, Member.state.in_(list(OPEN)))):
        raise ConflictError(_l("This customer already has a membership that has not ended."))
    values = {}
    for name, value in (("hobbies", hobbies), ("important_dates", important_dates), ("remarks", remarks)):
        try:
            values[name] = fields.text(value)
        except ValueError as exc:
            raise ValidationError({name: exc.args[0]}) from None
    member = Member(customer_id=customer.id, customer=customer, state=S.APPLIED, applied_at=calendar.local_now(),
                    **values)
    with audit.acting_as(session, actor), wf.creating(session):
        session.add(member)
        flush(session)
    return member


def transition(session, member: Member, action: str, actor, version, values: dict | None = None, comment=None):
    return wf.transition(session, MEMBER_WORKFLOW, member, action, actor, version, values, comment)


def allowed_steps(session, member: Member, actor) -> list[Step]:
    return wf.allowed_steps(session, MEMBER_WORKFLOW, member, actor)


def get_member(session, member_id, actor) -> Member:
    try:
        member_id = fields.record_id(member_id)
    except ValueError:
        raise NotFoundError() from None
    member = scope.restrict(session.query(Member).filter(Member.id == member_id), Member, actor, session).one_or_none()
    if member is None:
        raise NotFoundError()
    return member


def by_card(session, card_number: str) -> Member | None:
    return session.scalars(select(Member).where(Member.card_number == card_number)).first()
