"""The points ledger: the balance is the ledger's sum after any sequence of operations (a Hypothesis state
machine), never negative; a second award for one member and activity is refused by the database itself;
a retried request changes nothing; ledger rows cannot be updated or deleted, whatever the path."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError

from app.domain.club import activities, members, points
from app.domain.errors import ConflictError, TransitionNotAllowedError
from app.domain.records import unit_of_work
from app.extensions import db
from app.models import PointsEntry
from tests.conftest import audit_count

from .conftest import active_member, key


def _sum_in_sql(member_id) -> int:
    """The ledger's sum, read with plain SQL (not the domain's function under test)."""
    return db.session.execute(text("SELECT COALESCE(SUM(points), 0) FROM club_points WHERE member_id = :m"),
                              {"m": member_id}).scalar_one()


def _raw(statement, **params):
    """A statement sent past the domain and the ORM (in the session's connection, then rolled back)."""
    try:
        db.session.execute(statement, params)
    finally:
        db.session.rollback()


def _held_activity(session, actor, title="读书会", award=10):
    with unit_of_work(session):
        activity = activities.schedule(session, actor, {"title": title, "starts_at": "2026-11-01 10:00",
                                                        "points": award})
    return activity


def _award_row(session, member, activity, actor):
    """An award row as the domain writes it, through the ledger's own function."""
    with unit_of_work(session):
        points.award(session, member.id, activity, actor)


def test_redeem_adjust_and_refusals_leave_the_ledger_right(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "冯甲")
    with unit_of_work(ctx):
        points.change(ctx, member.id, staff, "adjust", 100, "开户赠送", key())
    with unit_of_work(ctx):
        written = points.change(ctx, member.id, staff, "redeem", 30, "兑换雨伞", key(), redemption_ref="R-1")
    assert written.entry.points == -30 and written.entry.redemption_ref == "R-1"
    before = audit_count(ctx)
    with pytest.raises(ConflictError) as refused, unit_of_work(ctx):
        points.change(ctx, member.id, staff, "redeem", 71, "兑换电饭煲", key())
    assert "积分不足" in str(refused.value) and "70" in str(refused.value)
    assert _sum_in_sql(member.id) == 70 and audit_count(ctx) == before
    with pytest.raises(ConflictError), unit_of_work(ctx):
        points.change(ctx, member.id, staff, "adjust", -71, "扣减", key())
    assert points.balance(ctx, member.id) == 70 == _sum_in_sql(member.id)
    newest, older = points.ledger(ctx, member.id, limit=1), points.ledger(ctx, member.id, limit=5, offset=1)
    assert [(r["points"], r["balance_after"]) for r in newest] == [(-30, 70)]
    assert [(r["points"], r["balance_after"]) for r in older] == [(100, 100)]


def test_an_idempotent_retry_changes_nothing(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "陈乙")
    with unit_of_work(ctx):
        points.change(ctx, member.id, staff, "adjust", 50, "赠送", key())
    retry = key("retry")
    with unit_of_work(ctx):
        first = points.change(ctx, member.id, staff, "redeem", 20, "兑换", retry)
    rows, audited = ctx.scalar(select(func.count(PointsEntry.id))), audit_count(ctx)
    with unit_of_work(ctx):
        again = points.change(ctx, member.id, staff, "redeem", 20, "兑换", retry)
    assert again.replayed and not first.replayed and again.entry.id == first.entry.id
    assert ctx.scalar(select(func.count(PointsEntry.id))) == rows and audit_count(ctx) == audited
    assert _sum_in_sql(member.id) == 30
    with pytest.raises(ConflictError), unit_of_work(ctx):  # the same key for another request
        points.change(ctx, member.id, staff, "redeem", 5, "兑换", retry)


def test_a_second_award_is_refused_by_the_database(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "褚丙")
    activity = _held_activity(ctx, staff)
    _award_row(ctx, member, activity, staff)
    with pytest.raises(ConflictError) as refused, unit_of_work(ctx):
        points.award(ctx, member.id, activity, staff)
    assert "已获得本次活动的积分" in str(refused.value)
    # Bypassing the domain: a plain INSERT of the same award.
    with pytest.raises(IntegrityError):
        _raw(insert(PointsEntry.__table__).values(
            member_id=member.id, kind="award", points=10, reason="x", actor_name="x", at=datetime(2026, 11, 2),
            activity_id=activity.id, version=1))
    assert _sum_in_sql(member.id) == 10


def test_a_reversal_is_tied_to_its_row_once(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "卫丁")
    with unit_of_work(ctx):
        wrong = points.change(ctx, member.id, staff, "adjust", 40, "录错", key()).entry
    with unit_of_work(ctx):
        reversal = points.reverse(ctx, wrong.id, staff, "冲正录错").entry
    assert reversal.reverses_id == wrong.id and reversal.points == -40 and _sum_in_sql(member.id) == 0
    with pytest.raises(ConflictError), unit_of_work(ctx):
        points.reverse(ctx, wrong.id, staff, "再冲一次")
    with pytest.raises(ConflictError), unit_of_work(ctx):
        points.reverse(ctx, reversal.id, staff, "冲正的冲正")


def test_a_lapsed_member_cannot_redeem(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "蒋戊")
    with unit_of_work(ctx):
        points.change(ctx, member.id, staff, "adjust", 10, "赠送", key())
    with unit_of_work(ctx):
        members.transition(ctx, member, "lapse", staff, member.version, {"reason": "到期"})
    with pytest.raises(TransitionNotAllowedError) as refused, unit_of_work(ctx):
        points.change(ctx, member.id, staff, "redeem", 5, "兑换", key())
    assert "有效会员" in str(refused.value) and _sum_in_sql(member.id) == 10


@pytest.mark.parametrize("statement", ["UPDATE club_points SET points = 1000 WHERE id = :id",
                                       "DELETE FROM club_points WHERE id = :id"])
def test_a_ledger_row_cannot_be_updated_or_deleted(ctx, users, statement):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, f"沈{len(statement)}")
    with unit_of_work(ctx):
        row = points.change(ctx, member.id, staff, "adjust", 7, "赠送", key()).entry
    with pytest.raises(DatabaseError) as refused:
        _raw(text(statement), id=row.id)
    assert "append-only" in str(refused.value)
    assert _sum_in_sql(member.id) == 7


# --- any sequence of operations ----------------------------------------------------------------------------

class Ledger(RuleBasedStateMachine):
    """Redeem, adjust, award, reverse and retry in any order: the balance the domain reports, the ledger's
    sum in SQL and a model kept here agree, and the balance never goes below zero."""

    session = users = None
    counter = 0

    @initialize()
    def start(self):
        Ledger.counter += 1
        self.staff = self.users["cs_staff"]
        self.member = active_member(self.session, self.staff, f"韩{Ledger.counter}")
        self.expected, self.rows, self.keys = 0, [], []

    def _try(self, work):
        try:
            with unit_of_work(self.session):
                return work()
        except (ConflictError, TransitionNotAllowedError):
            return None

    @rule(amount=st.integers(min_value=-60, max_value=80).filter(bool))
    def adjust(self, amount):
        k = key("adj")
        written = self._try(lambda: points.change(self.session, self.member.id, self.staff, "adjust", amount, "调整", k))
        if self.expected + amount < 0:
            assert written is None
        else:
            self.expected += amount
            self.rows.append((written.entry.id, amount))
            self.keys.append((k, "adjust", amount))

    @rule(amount=st.integers(min_value=1, max_value=60))
    def redeem(self, amount):
        k = key("red")
        written = self._try(lambda: points.change(self.session, self.member.id, self.staff, "redeem", amount, "兑换", k))
        assert (written is None) == (self.expected < amount)
        if written:
            self.expected -= amount
            self.rows.append((written.entry.id, -amount))
            self.keys.append((k, "redeem", amount))

    @rule(data=st.data())
    def retry(self, data):
        if not self.keys:
            return
        k, kind, amount = data.draw(st.sampled_from(self.keys))
        written = self._try(lambda: points.change(self.session, self.member.id, self.staff, kind, amount, "重试", k))
        assert written is not None and written.replayed

    @rule(data=st.data())
    def reverse(self, data):
        if not self.rows:
            return
        row_id, amount = data.draw(st.sampled_from(self.rows))
        written = self._try(lambda: points.reverse(self.session, row_id, self.staff, "冲正"))
        if written is not None:
            self.expected -= amount
            self.rows.remove((row_id, amount))
        else:
            assert self.expected - amount < 0  # each row is reversed once (then dropped): only too few points refuse

    @invariant()
    def balance_is_the_sum(self):
        if getattr(self, "member", None) is None:
            return
        assert points.balance(self.session, self.member.id) == _sum_in_sql(self.member.id) == self.expected >= 0


def test_the_balance_is_the_ledger_sum_after_any_sequence(ctx, users):
    Ledger.session, Ledger.users = ctx, users
    machine = Ledger.TestCase
    machine.settings = settings(max_examples=8, stateful_step_count=10, deadline=None,
                                suppress_health_check=list(HealthCheck))
    machine().runTest()
