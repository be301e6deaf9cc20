"""Club activities (seed 003 2.3 客户会活动): scheduled from an approved annual plan — an activity outside
the plan waits for the general manager's own approval —, attendance taken at the door (members by card
number or name, guests who are customers), the activity's points awarded to each attending member once
(due within 7 days of the activity: a deadline my-work and `reminders` read), and closed only with its
summary and evaluation."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.domain import calendar, fields
from app.domain import workflow as wf
from app.domain.errors import ConflictError, NotFoundError, TransitionNotAllowedError, ValidationError
from app.domain.records import flush
from app.domain.roles import CS_MANAGER, CS_STAFF
from app.domain.workflow import Deadline, Party, Step, Wait, optional, required
from app.models import Activity, ActivityPlan, Attendance, Customer, Member, MemberCard
from app.models.club import ActivityState, MemberState, PlanState

from . import points
from .members import CLUB_ROLES, may_work

S = ActivityState
AWARD_WITHIN = timedelta(days=7)
OPEN_FOR_ATTENDANCE = frozenset({S.SCHEDULED, S.HELD})
APPROVAL_KIND = "club_activity"

CUSTOMER_SERVICE = Party("customer_service", _l("customer service"), frozenset({CS_STAFF, CS_MANAGER}),
                         lambda activity, d: ([activity.responsible_id] if d.active(activity.responsible_id)
                                              else d.role(CS_STAFF)),
                         where=wf.person_or(Activity.responsible_id, CS_STAFF))
ACTIVITY_DUE = Deadline("activity", _l("activity"), "starts_at")
AWARD_DUE = Deadline("award", _l("Points to award"), "award_due_on", met_by="awarded_at")


# --- the steps ----------------------------------------------------------------------------------------------

def _hold(session, activity, actor, values):
    activity.held_at = values.get("held_at") or calendar.local_now()
    activity.award_due_on = activity.held_at.date() + AWARD_WITHIN


def attending_members(session, activity) -> list[int]:
    return list(session.scalars(select(Attendance.member_id).where(Attendance.activity_id == activity.id,
                                                                 Attendance.member_id.is_not(None))
                                .order_by(Attendance.id)))


def _award_all(session, activity, actor, values):
    """Each attending member gets the activity's points, once (points.award refuses a second)."""
    if activity.points > 0:
        for member_id in attending_members(session, activity):
            points.award(session, member_id, activity, actor)
    activity.awarded_at = calendar.local_now()


def _nothing_left_to_award(session, activity, actor):
    if activity.state == S.HELD and activity.points > 0 and attending_members(session, activity):
        raise TransitionNotAllowedError(_l("Award the attending members their points before closing."))


def _cancelled(session, activity, actor, values):
    activity.cancel_reason = values["reason"][:300]


def _closed(session, activity, actor, values):
    activity.closed_at = calendar.local_now()


ACTIVITY_STEPS: tuple[Step, ...] = (
    Step("hold", frozenset({S.SCHEDULED}), S.HELD, CLUB_ROLES, {"held_at": optional(fields.a_moment, stored=False)},
         effect=_hold),
    Step("award", frozenset({S.HELD}), S.AWARDED, CLUB_ROLES, effect=_award_all),
    Step("close", frozenset({S.HELD, S.AWARDED}), S.CLOSED, CLUB_ROLES,
         {"summary": required(fields.text), "evaluation": required(fields.text)},
         condition=_nothing_left_to_award, effect=_closed),
    Step("cancel", frozenset({S.SCHEDULED}), S.CANCELLED, CLUB_ROLES, {"reason": required(fields.text, stored=False)},
         effect=_cancelled, comment_field="reason"),
)


def _summary(activity) -> str:
    return str(_l("Club activity outside the plan: %(title)s", title=activity.title))


ACTIVITY_WORKFLOW = wf.Workflow(
    "club_activity", _l("Club activity"), Activity, ActivityState, ACTIVITY_STEPS,
    waits={S.SCHEDULED: Wait((CUSTOMER_SERVICE,), (ACTIVITY_DUE,)), S.HELD: Wait((CUSTOMER_SERVICE,), (AWARD_DUE,)),
           S.AWARDED: Wait((CUSTOMER_SERVICE,))},
    path=(S.SCHEDULED, S.HELD, S.AWARDED, S.CLOSED), number=lambda a: a.number, what=_l("activity"),
    actions=labels.ACTIVITY_ACTIONS,
    approvals=(wf.ApprovalRule(APPROVAL_KIND, _l("Club activity outside the plan"), _summary,
                               detail=lambda a: a.implementation_plan, approved_target=S.SCHEDULED,
                               rejected_target=S.CANCELLED),))


# --- scheduling ---------------------------------------------------------------------------------------------

SCHEDULE_FIELDS = ("plan_id", "title", "activity_type", "customer_group", "starts_at", "place", "responsible_id",
                   "implementation_plan", "points")


def _parse_schedule(data: dict) -> dict:
    errors, values = {}, {}
    unknown = sorted(set(data) - set(SCHEDULE_FIELDS))
    for name in unknown:
        errors[name] = _l("%(field)s cannot be set here.", field=name)
    parsers = {"plan_id": fields.record_id, "title": fields.text, "activity_type": fields.text,
               "customer_group": fields.text, "starts_at": fields.a_moment, "place": fields.text,
               "responsible_id": fields.record_id, "implementation_plan": fields.text}
    for name, parse in parsers.items():
        if data.get(name) in (None, ""):
            continue
        try:
            values[name] = parse(data[name])
        except ValueError as exc:
            errors[name] = exc.args[0]
    raw_points = data.get("points", 0)
    try:
        if isinstance(raw_points, bool) or isinstance(raw_points, dict | list):
            raise ValueError
        values["points"] = int(raw_points or 0)
        if not 0 <= values["points"] <= points.MAX_POINTS:
            raise ValueError
    except (TypeError, ValueError):
        errors["points"] = _l("Points are a whole number from 0.")
    for name in ("title", "starts_at"):
        if name not in values and name not in errors:
            errors[name] = _l("This field is required.")
    if errors:
        raise ValidationError(errors)
    return values


def schedule(session, actor, data: dict) -> Activity:
    """An activity from an approved plan (`plan_id`) is scheduled at once; one without a plan waits for the
    general manager's approval; a plan that is not approved is refused."""
    may_work(actor)
    values = _parse_schedule(data)
    plan = None
    if "plan_id" in values:
        plan = session.get(ActivityPlan, values["plan_id"])
        if plan is None:
            raise ValidationError({"plan_id": _l("This activity plan does not exist.")})
        if plan.state != PlanState.APPROVED:
            raise TransitionNotAllowedError(_l("An activity is scheduled only from an approved activity plan; "
                                               "this plan is “%(state)s”.", state=PlanState.label_of(plan.state)))
        if plan.year != values["starts_at"].year:
            raise ValidationError({"starts_at": _l("The activity must take place in the plan's year (%(year)s).",
                                                   year=plan.year)})
    activity = Activity(**values, state=S.SCHEDULED if plan else S.PROPOSED)
    with audit.acting_as(session, actor), wf.creating(session):
        session.add(activity)
        flush(session)
    if plan is None:
        wf.request_approval(session, ACTIVITY_WORKFLOW, APPROVAL_KIND, activity, actor)
    return activity


def transition(session, activity, action, actor, version, values=None, comment=None):
    return wf.transition(session, ACTIVITY_WORKFLOW, activity, action, actor, version, values, comment)


def allowed_steps(session, activity, actor):
    return wf.allowed_steps(session, ACTIVITY_WORKFLOW, activity, actor)


def get_activity(session, activity_id) -> Activity:
    try:
        activity = session.get(Activity, fields.record_id(activity_id))
    except ValueError:
        activity = None
    if activity is None:
        raise NotFoundError()
    return activity


# --- attendance ---------------------------------------------------------------------------------------------

def _member_by_name(session, name: str) -> Member:
    found = session.scalars(select(Member).join(Customer, Customer.id == Member.customer_id)
                            .where(Customer.name == name, Member.state == MemberState.ACTIVE)).all()
    if not found:
        raise ValidationError({"name": _l("No active member is called %(name)s.", name=name)})
    if len(found) > 1:
        raise ValidationError({"name": _l("Several active members are called %(name)s: take the card number.",
                                          name=name)})
    return found[0]


def _member_by_card(session, card_number: str) -> Member:
    member = session.scalars(select(Member).where(Member.card_number == card_number)).first()
    if member is None:
        voided = session.scalar(select(MemberCard.id).where(MemberCard.card_number == card_number,
                                                            MemberCard.voided_at.is_not(None)))
        raise ValidationError({"card_number": _l("This card has been voided (replaced by a new card).") if voided
                               else _l("No member has this card number.")})
    if member.state != MemberState.ACTIVE:
        raise ValidationError({"card_number": _l("This membership is “%(state)s”, not active.",
                                                 state=MemberState.label_of(member.state))})
    return member


def record_attendance(session, activity, actor, card_number=None, name=None, customer_id=None) -> Attendance:
    """签到: a member by card number or name, or a guest by customer id; once per person and activity."""
    may_work(actor)
    if activity.state not in OPEN_FOR_ATTENDANCE:
        raise TransitionNotAllowedError(_l("Attendance is taken while the activity is scheduled or held; it is "
                                           "“%(state)s”.", state=S.label_of(activity.state)))
    card = fields.text(card_number) if not isinstance(card_number, dict | list) else None
    who = fields.text(name) if not isinstance(name, dict | list) else None
    member = None
    if card:
        member = _member_by_card(session, card)
    elif who:
        member = _member_by_name(session, who)
    elif customer_id not in (None, ""):
        try:
            customer = session.get(Customer, fields.record_id(customer_id))
        except ValueError:
            customer = None
        if customer is None:
            raise ValidationError({"customer_id": _l("This customer does not exist.")})
        member = session.scalars(select(Member).where(Member.customer_id == customer.id,
                                                      Member.state == MemberState.ACTIVE)).first()
    else:
        raise ValidationError({"card_number": _l("Give the card number, the member's name or the guest.")})
    customer_id = member.customer_id if member else customer.id
    if session.scalar(select(Attendance.id).where(Attendance.activity_id == activity.id,
                                                  Attendance.customer_id == customer_id)):
        raise ConflictError(_l("This person's attendance is already recorded."))
    row = Attendance(activity_id=activity.id, customer_id=customer_id, member_id=member.id if member else None,
                     card_number=member.card_number if member else None, at=calendar.local_now(),
                     recorded_by_name=getattr(actor, "username", "system"))
    with audit.acting_as(session, actor):
        session.add(row)
        flush(session)
    return row


def attendance(session, activity) -> list[Attendance]:
    return list(session.scalars(select(Attendance).where(Attendance.activity_id == activity.id)
                                .order_by(Attendance.id)))
