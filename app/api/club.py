"""REST for the customer club (issue 15): /api/v1/member/ (list, detail, apply, transition, the points
ledger: GET and POST /<id>/points, reversal of a row), /api/v1/club_plan/ and /api/v1/club_activity/
(schedule, transition — hold, award, close, cancel —, attendance). Thin adapters on DomainModelRestApi:
every write goes through app.domain.club in one unit of work; a refusal answers its status with a JSON
`message` in the caller's language and nothing written. Memberships, plans and activities change only
through their steps: no PUT or DELETE."""

from __future__ import annotations

from flask import request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import fields as ma
from marshmallow.validate import OneOf

from app import labels
from app.domain import fields
from app.domain.club import activities, members, plans, points
from app.domain.errors import DomainError, NotFoundError, ValidationError
from app.extensions import db
from app.models import Activity, ActivityPlan, Member, PointsEntry
from app.models.club import ActivityState, MemberState, PlanState, PointsKind
from app.views.base import KefuInterface

from .base import DomainModelRestApi, json_object
from .documented import (
    Answer,
    ListAnswer,
    PrintedAnswerSchema,
    RecordAnswer,
    StepAnswerSchema,
    documented,
    step_body_schema,
)
from .step_fields import STEP_FIELD_TYPES
from .visits.common import iso, refuse_unknown

MEMBER_APPLY = ("customer_id", "hobbies", "important_dates", "remarks")
LEDGER_PAGE_MAX = 200


# --- the documented shapes ------------------------------------------------------------------------------

class MemberApplySchema(Answer):
    """申请入会: the customer, and what the member profile keeps."""

    customer_id = ma.Integer(required=True)
    hobbies = ma.String(allow_none=True)
    important_dates = ma.String(allow_none=True, metadata={"description": "One per line, e.g. 生日 03-08"})
    remarks = ma.String(allow_none=True)


class PointsRowSchema(Answer):
    """One ledger row: signed `points` (awards positive, redemptions negative), the balance after it."""

    id = ma.Integer(required=True)
    kind = ma.String(validate=OneOf([k.value for k in PointsKind]))
    kind_label = ma.String()
    points = ma.Integer(required=True)
    balance_after = ma.Integer()
    reason = ma.String()
    actor_name = ma.String()
    at = ma.String()
    activity_id = ma.Integer(allow_none=True)
    redemption_ref = ma.String(allow_none=True)
    reverses_id = ma.Integer(allow_none=True)
    idempotency_key = ma.String(allow_none=True)


class PointsAnswerSchema(ListAnswer):
    """The member's balance (the sum of the ledger) and a page of rows, newest first."""

    balance = ma.Integer(required=True)
    result = ma.List(ma.Nested(PointsRowSchema), required=True)


class PointsQuerySchema(Answer):
    page = ma.Integer(metadata={"description": "From 0"})
    page_size = ma.Integer(metadata={"description": f"At most {LEDGER_PAGE_MAX}"})


class PointsChangeSchema(Answer):
    """A redemption (`points` taken, positive) or an adjustment (signed), with its reason and an idempotency key."""

    kind = ma.String(required=True, validate=OneOf([PointsKind.REDEEM.value, PointsKind.ADJUST.value]))
    points = ma.Integer(required=True)
    reason = ma.String(required=True)
    idempotency_key = ma.String(required=True, metadata={"description": "A retry with the same key writes nothing "
                                                                        "and answers the first result"})
    redemption_ref = ma.String(allow_none=True, metadata={"description": "The redemption order"})


class ReversalSchema(Answer):
    """The row to reverse, why (and an optional idempotency key)."""

    entry_id = ma.Integer(required=True, metadata={"description": "The id of the member's ledger row"})
    reason = ma.String(required=True)
    idempotency_key = ma.String(allow_none=True)


class PointsWrittenSchema(Answer):
    """The row written (or, for a retried key, the first request's row) and the balance now."""

    id = ma.Integer(required=True)
    balance = ma.Integer(required=True)
    replayed = ma.Boolean(required=True)
    result = ma.Nested(PointsRowSchema, required=True)


class FiguresQuerySchema(Answer):
    year = ma.Integer(metadata={"description": "The year (default: this year)"})


class MonthFiguresSchema(Answer):
    month = ma.String(required=True)
    new_members = ma.Integer()
    active_members = ma.Integer()
    points_awarded = ma.Integer()
    points_redeemed = ma.Integer()
    points_outstanding = ma.Integer()
    activities = ma.Integer()
    attendances = ma.Integer()
    attendance_rate = ma.Float(allow_none=True, metadata={"description": "Attending members / (active members × activities)"})


class FiguresAnswerSchema(Answer):
    """Per month: new members, active members at the month's end, points awarded, redeemed and outstanding,
    the attendance rate of the month's activities."""

    year = ma.Integer(required=True)
    count = ma.Integer(required=True)
    result = ma.List(ma.Nested(MonthFiguresSchema), required=True)


class PlanCreateSchema(Answer):
    """A year's plan: its title and planned activities."""

    year = ma.Integer(required=True)
    title = ma.String(required=True)
    items = ma.List(ma.Dict(), required=True, metadata={
        "description": "[{theme, month (1–12), customer_group, activity_type}]"})


class ActivityCreateSchema(Answer):
    """An activity: from an approved plan (`plan_id`), or without one to wait for the general manager."""

    plan_id = ma.Integer(allow_none=True)
    title = ma.String(required=True)
    activity_type = ma.String(allow_none=True)
    customer_group = ma.String(allow_none=True)
    starts_at = ma.String(required=True, metadata={"description": "YYYY-MM-DD HH:MM"})
    place = ma.String(allow_none=True)
    responsible_id = ma.Integer(allow_none=True)
    implementation_plan = ma.String(allow_none=True)
    points = ma.Integer(metadata={"description": "Points each attending member is awarded"})


class AttendanceBodySchema(Answer):
    """签到: a member by `card_number` or `name`, or a guest by `customer_id`."""

    card_number = ma.String(allow_none=True)
    name = ma.String(allow_none=True)
    customer_id = ma.Integer(allow_none=True)


class AttendanceRowSchema(Answer):
    id = ma.Integer(required=True)
    customer_id = ma.Integer()
    customer_name = ma.String()
    member_id = ma.Integer(allow_none=True)
    card_number = ma.String(allow_none=True)
    at = ma.String()
    recorded_by_name = ma.String()


class AttendanceAnswerSchema(ListAnswer):
    """Who attended, in the order they signed in."""

    result = ma.List(ma.Nested(AttendanceRowSchema), required=True)


class AttendanceWrittenSchema(RecordAnswer):
    """The attendance recorded."""

    result = ma.Nested(AttendanceRowSchema, required=True)


class CreatedSchema(Answer):
    """The record created, as GET /<id> answers it."""

    id = ma.Integer(required=True)
    version = ma.Integer(required=True)
    result = ma.Dict(required=True)


MemberTransitionSchema = step_body_schema("MemberTransitionSchema", members.MEMBER_STEPS, STEP_FIELD_TYPES)
PlanTransitionSchema = step_body_schema("ClubPlanTransitionSchema", plans.PLAN_STEPS, STEP_FIELD_TYPES)
ActivityTransitionSchema = step_body_schema("ClubActivityTransitionSchema", activities.ACTIVITY_STEPS,
                                            STEP_FIELD_TYPES)


def points_row(row: dict) -> dict:
    return {**row, "at": iso(row["at"]), "kind_label": PointsKind.label_of(row["kind"])}


def entry_row(entry, balance_after=None) -> dict:
    return points_row({"id": entry.id, "kind": entry.kind, "points": entry.points, "reason": entry.reason,
                       "actor_name": entry.actor_name, "at": entry.at, "activity_id": entry.activity_id,
                       "redemption_ref": entry.redemption_ref, "reverses_id": entry.reverses_id,
                       "idempotency_key": entry.idempotency_key, "balance_after": balance_after})


def attendance_row(row) -> dict:
    return {"id": row.id, "customer_id": row.customer_id, "customer_name": row.customer.name,
            "member_id": row.member_id, "card_number": row.card_number, "at": iso(row.at),
            "recorded_by_name": row.recorded_by_name}


# --- members ------------------------------------------------------------------------------------------

class MemberApi(DomainModelRestApi):
    resource_name = "member"
    datamodel = KefuInterface(Member)
    include_route_methods = {"get", "get_list", "info", "post", "transition", "points", "change_points",
                             "reverse_points", "print_card", "figures"}
    label_columns = dict(labels.MEMBER)
    list_columns = ["customer_id", "customer.name", "member_number", "card_number", "state", "state_changed_at",
                    "applied_at", "activated_at"]
    show_columns = ["customer_id", "customer.name", "member_number", "card_number", "state", "state_changed_at",
                    "applied_at", "reviewed_by_id", "reviewed_at", "eligible", "review_reason", "card_issued_at",
                    "activated_at", "ended_at", "end_reason", "hobbies", "important_dates", "remarks",
                    "created_at", "updated_at"]
    add_columns = list(MEMBER_APPLY)
    search_columns = ["state", "customer_id", "member_number", "card_number", "applied_at", "activated_at"]
    order_columns = ["id", "member_number", "state", "applied_at", "activated_at", "state_changed_at"]
    openapi_spec_methods = {
        "transition": {"post": {"summary": "Take one step of the membership"}},
        "points": {"get": {"summary": "A member's points ledger and balance"}},
        "change_points": {"post": {"summary": "Redeem or adjust a member's points"}},
        "reverse_points": {"post": {"summary": "Reverse one row of a member's ledger"}},
        "figures": {"get": {"summary": "The club's monthly figures of a year"}},
        "print_card": {"post": {"summary": "Print the member card (85.6 × 54 mm) and file it in the archive"}},
    }

    def pre_get_list(self, data):
        super().pre_get_list(data)
        for row in data.get("result", []):
            if "state" in row:
                row["state_label"] = MemberState.label_of(row["state"])

    def computed(self, member: Member) -> dict:
        return {"number": member.number, "state_label": MemberState.label_of(member.state),
                "balance": points.balance(db.session, member.id),
                "allowed_actions": [s.action for s in members.allowed_steps(db.session, member, self.actor())]}

    def _visible(self, pk) -> Member:
        return members.get_member(db.session, pk, self.actor())

    def post_headless(self):
        """申请入会: a membership in `applied` (409 when the customer has one that has not ended)."""
        def apply():
            data = json_object()
            refuse_unknown(data, MEMBER_APPLY)
            return members.apply(db.session, self.actor(), **{name: data.get(name) for name in MEMBER_APPLY})

        return self.write(apply, lambda m: self.response(201, id=m.id, version=m.version, result=self.body(m)))

    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(StepAnswerSchema, body=MemberTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step of the membership: review, issue_card, activate, replace_card, lapse, renew, cancel.

        The review checks the eligibility rule (an owner, future owner or tenant of one of the company's
        projects): an ineligible applicant's membership is cancelled with the reason. Refusals: 404 not
        visible, 409 wrong state or stale version, 403 role, 422 missing fields."""
        return self.take_step(lambda: self._visible(pk), members.transition)

    @expose("/<int:pk>/points", methods=["GET"])
    @documented(PointsAnswerSchema, query=PointsQuerySchema, refusals=(404, 422))
    @protect()
    @safe
    @permission_name("get")
    def points(self, pk):
        """The member's balance and ledger rows, newest first, each with its signed points and the balance after it."""
        try:
            member = self._visible(pk)
            page, size = self._page()
        except DomainError as err:
            return self.domain_error(err)
        balance, count = points.totals(db.session, member.id)
        rows = points.ledger(db.session, member.id, limit=size, offset=page * size, balance_now=balance)
        return self.response(200, id=member.id, count=count, balance=balance, result=[points_row(r) for r in rows])

    def _page(self) -> tuple[int, int]:
        try:
            page = int(request.args.get("page", 0))
            size = int(request.args.get("page_size", 50))
        except ValueError:
            page = size = -1
        if page < 0 or not 1 <= size <= LEDGER_PAGE_MAX:
            raise ValidationError({"page_size": _l("Give page from 0 and page_size from 1 to %(n)s.",
                                                   n=LEDGER_PAGE_MAX)})
        return page, size

    def _written(self, written, member_id):
        balance = points.balance(db.session, member_id)
        return self.response(200 if written.replayed else 201, id=written.entry.id, balance=balance,
                             replayed=written.replayed, result=entry_row(written.entry))

    @expose("/<int:pk>/points", methods=["POST"])
    @documented(PointsWrittenSchema, status=201, body=PointsChangeSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("points")
    def change_points(self, pk):
        """Redeem (`points` taken) or adjust (signed `points`) with a reason and an idempotency key.

        Refused with nothing written (409) when it would make the balance negative or the member is not
        active (a redemption); a retry with the same key answers 200 with the first result and writes nothing."""
        def change():
            data = json_object()
            refuse_unknown(data, ("kind", "points", "reason", "idempotency_key", "redemption_ref"))
            member = self._visible(pk)
            return points.change(db.session, member.id, self.actor(), data.get("kind"), data.get("points"),
                                 data.get("reason"), data.get("idempotency_key"), data.get("redemption_ref"))

        return self.write(change, lambda written: self._written(written, written.entry.member_id))

    @expose("/<int:pk>/points/reverse", methods=["POST"])
    @documented(PointsWrittenSchema, status=201, body=ReversalSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("points")
    def reverse_points(self, pk):
        """Reverse one row: a reversing row of the opposite points tied to it (a row is reversed once only)."""
        def reverse():
            data = json_object()
            refuse_unknown(data, ("entry_id", "reason", "idempotency_key"))
            member = self._visible(pk)
            try:
                entry = db.session.get(PointsEntry, fields.record_id(data.get("entry_id")))
            except ValueError as exc:
                raise ValidationError({"entry_id": exc.args[0]}) from None
            if entry is None or entry.member_id != member.id:
                raise NotFoundError()
            return points.reverse(db.session, entry.id, self.actor(), data.get("reason"), data.get("idempotency_key"))

        return self.write(reverse, lambda written: self._written(written, written.entry.member_id))


    @expose("/figures", methods=["GET"])
    @documented(FiguresAnswerSchema, query=FiguresQuerySchema, refusals=(422,))
    @protect()
    @safe
    @permission_name("get")
    def figures(self):
        """The club's monthly figures of a year, up to this month (the CS manager's month-end count)."""
        from app.domain.calendar import local_now
        from app.domain.club import figures

        now = local_now()
        try:
            year = int(request.args.get("year", now.year))
            if not 2000 <= year <= 2100:
                raise ValueError
        except ValueError:
            return self.domain_error(ValidationError({"year": _l("Give the year, e.g. 2027.")}))
        rows = figures.monthly(db.session, year, until=now)
        return self.response(200, year=year, count=len(rows), result=rows)

    @expose("/<int:pk>/card", methods=["POST"])
    @documented(PrintedAnswerSchema, status=201, refusals=(403, 404, 409))
    @protect()
    @safe
    @permission_name("print")
    def print_card(self, pk):
        """Print the 会员卡 (KF/QR-09, card size) with the name, member number, card number and a QR code of
        the card number, and file it in the archive (each print a new record pointing at the one before).
        A lost card: take the `replace_card` step first (a new number; the old one is voided)."""
        from app.domain.club import cards

        from .archive import print_response

        try:
            member = self._visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        return print_response(self, lambda: cards.print_card(db.session, member, self.actor()))


# --- plans ----------------------------------------------------------------------------------------------

class ClubPlanApi(DomainModelRestApi):
    resource_name = "club_plan"
    datamodel = KefuInterface(ActivityPlan)
    include_route_methods = {"get", "get_list", "info", "post", "transition"}
    label_columns = dict(labels.CLUB_PLAN)
    list_columns = ["year", "title", "state", "submitted_at", "decided_at"]
    show_columns = ["year", "title", "items", "state", "submitted_at", "decided_at", "decision_comment",
                    "created_at", "updated_at"]
    add_columns = ["year", "title", "items"]
    add_model_schema = PlanCreateSchema()  # `items` is a JSON list here (a text column in the table)
    search_columns = ["year", "state", "title"]
    order_columns = ["id", "year", "state"]
    openapi_spec_methods = {"transition": {"post": {"summary": "Submit the plan to the general manager"}}}

    def computed(self, plan) -> dict:
        return {"state_label": PlanState.label_of(plan.state), "items": plans.items_of(plan),
                "allowed_actions": [s.action for s in plans.allowed_steps(db.session, plan, self.actor())]}

    def post_headless(self):
        """A draft plan for a year (the customer-service manager)."""
        def create():
            data = json_object()
            refuse_unknown(data, ("year", "title", "items"))
            return plans.create(db.session, self.actor(), data.get("year"), data.get("title"), data.get("items"))

        return self.write(create, lambda p: self.response(201, id=p.id, version=p.version, result=self.body(p)))

    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(StepAnswerSchema, body=PlanTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Submit the plan to the general manager (`submit`); the decision is taken on /api/v1/approval/."""
        return self.take_step(lambda: plans.get_plan(db.session, pk), plans.transition)


# --- activities -----------------------------------------------------------------------------------------

class ClubActivityApi(DomainModelRestApi):
    resource_name = "club_activity"
    datamodel = KefuInterface(Activity)
    include_route_methods = {"get", "get_list", "info", "post", "transition", "attendance", "attend"}
    label_columns = dict(labels.ACTIVITY)
    list_columns = ["plan_id", "title", "activity_type", "customer_group", "starts_at", "place", "state",
                    "award_due_on", "awarded_at", "closed_at"]
    show_columns = ["plan_id", "title", "activity_type", "customer_group", "starts_at", "place", "responsible_id",
                    "implementation_plan", "points", "state", "held_at", "award_due_on", "awarded_at", "summary",
                    "evaluation", "closed_at", "cancel_reason", "created_at", "updated_at"]
    add_columns = list(activities.SCHEDULE_FIELDS)
    search_columns = ["plan_id", "state", "title", "starts_at", "award_due_on"]
    order_columns = ["id", "starts_at", "state", "award_due_on"]
    openapi_spec_methods = {
        "transition": {"post": {"summary": "Take one step of the activity (hold, award, close, cancel)"}},
        "attendance": {"get": {"summary": "Who attended the activity"}},
        "attend": {"post": {"summary": "Record one attendance (card number, name or guest)"}},
    }

    def computed(self, activity) -> dict:
        from app.domain.calendar import local_now

        return {"state_label": ActivityState.label_of(activity.state),
                "overdue": activities.ACTIVITY_WORKFLOW.overdue_reasons(activity, local_now()),
                "allowed_actions": [s.action for s in activities.allowed_steps(db.session, activity, self.actor())]}

    def post_headless(self):
        """Schedule an activity: from an approved plan at once; without a plan it waits for the GM (409 when
        the plan named is not approved)."""
        def schedule():
            return activities.schedule(db.session, self.actor(), json_object())

        return self.write(schedule, lambda a: self.response(201, id=a.id, version=a.version, result=self.body(a)))

    @expose("/<int:pk>/transition", methods=["POST"])
    @documented(StepAnswerSchema, body=ActivityTransitionSchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("transition")
    def transition(self, pk):
        """Take one step: `hold` (the points are then due within 7 days), `award` (each attending member
        once), `close` (summary and evaluation required), `cancel` (a reason)."""
        return self.take_step(lambda: activities.get_activity(db.session, pk), activities.transition)

    @expose("/<int:pk>/attendance", methods=["GET"])
    @documented(AttendanceAnswerSchema, refusals=(404,))
    @protect()
    @safe
    @permission_name("get")
    def attendance(self, pk):
        """Who attended, in the order they signed in."""
        try:
            activity = activities.get_activity(db.session, pk)
        except DomainError as err:
            return self.domain_error(err)
        result = [attendance_row(row) for row in activities.attendance(db.session, activity)]
        return self.response(200, id=activity.id, count=len(result), result=result)

    @expose("/<int:pk>/attendance", methods=["POST"])
    @documented(AttendanceWrittenSchema, status=201, body=AttendanceBodySchema, refusals=(403, 404, 409, 422))
    @protect()
    @safe
    @permission_name("attend")
    def attend(self, pk):
        """签到: a member by card number or name, or a guest who is a customer; once per person."""
        def record():
            data = json_object()
            refuse_unknown(data, ("card_number", "name", "customer_id"))
            activity = activities.get_activity(db.session, pk)
            return activities.record_attendance(db.session, activity, self.actor(), data.get("card_number"),
                                                data.get("name"), data.get("customer_id"))

        return self.write(record, lambda row: self.response(201, id=row.id, version=row.version,
                                                            result=attendance_row(row)))


ALL_APIS = (MemberApi, ClubPlanApi, ClubActivityApi)


def register(appbuilder) -> list[tuple]:
    """Add this module's APIs to AppBuilder. APIs have no menu entry, so nothing is returned."""
    for api in ALL_APIS:
        appbuilder.add_api(api)
    return []
