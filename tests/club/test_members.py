"""The membership workflow: eligibility in one rule, numbers from the patterns, the customer shown as 会员
while active, a lost card replaced with a new number and the old one voided."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.domain.club import members
from app.domain.errors import ConflictError, ValidationError
from app.domain.records import unit_of_work
from app.models import MemberCard
from app.models.club import MemberState

from .conftest import active_member, new_customer


def test_an_owner_becomes_an_active_member_shown_as_member(ctx, users):
    staff = users["cs_staff"]
    customer = new_customer(ctx, staff, "钱一", stage="owner")
    with unit_of_work(ctx):
        member = members.apply(ctx, staff, customer.id, hobbies="书法")
    assert member.state == "applied" and member.member_number is None
    with unit_of_work(ctx):
        members.transition(ctx, member, "review", staff, member.version)
    assert member.state == "reviewed" and member.eligible is True
    assert member.reviewed_by_id == staff.id and "试验花园" in member.review_reason
    assert member.member_number.startswith("HY") and member.member_number.endswith(f"{member.id:05d}")
    with unit_of_work(ctx):
        members.transition(ctx, member, "issue_card", staff, member.version)
    assert member.state == "card_issued" and member.card_number.startswith("KH")
    assert customer.stage == "owner"
    with unit_of_work(ctx):
        members.transition(ctx, member, "activate", staff, member.version)
    assert member.state == "active" and customer.stage == "member"
    with unit_of_work(ctx):
        members.transition(ctx, member, "lapse", staff, member.version, {"reason": "未续费"})
    assert member.state == "lapsed" and customer.stage == "owner" and member.end_reason == "未续费"


def test_a_prospect_or_a_customer_without_a_unit_is_not_eligible(ctx, users):
    staff = users["cs_staff"]
    for customer, why in ((new_customer(ctx, staff, "孙二", stage="potential"), "业主"),
                          (new_customer(ctx, staff, "周三", stage="owner", with_unit=False), "项目")):
        with unit_of_work(ctx):
            member = members.apply(ctx, staff, customer.id)
        with unit_of_work(ctx):
            members.transition(ctx, member, "review", staff, member.version)
        assert member.state == "cancelled" and member.eligible is False
        assert why in member.review_reason and member.member_number is None


def test_one_open_membership_per_customer(ctx, users):
    member = active_member(ctx, users["cs_staff"], "吴四")
    with pytest.raises(ConflictError), unit_of_work(ctx):
        members.apply(ctx, users["cs_staff"], member.customer_id)


def test_a_lost_card_is_replaced_and_the_old_number_voided(ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "郑五")
    old = member.card_number
    with unit_of_work(ctx):
        members.transition(ctx, member, "replace_card", staff, member.version, {"reason": "遗失"})
    assert member.card_number != old and member.state == MemberState.ACTIVE
    cards = {c.card_number: c for c in ctx.scalars(select(MemberCard).where(MemberCard.member_id == member.id))}
    assert cards[old].voided_at is not None and cards[old].void_reason == "遗失"
    assert cards[member.card_number].voided_at is None


def test_a_step_needs_its_reason_and_a_role_of_the_club(ctx, users):
    member = active_member(ctx, users["cs_staff"], "王六")
    with pytest.raises(ValidationError) as refused, unit_of_work(ctx):
        members.transition(ctx, member, "cancel", users["cs_staff"], member.version, {})
    assert "reason" in refused.value.errors
    with pytest.raises(Exception) as refused, unit_of_work(ctx):
        members.transition(ctx, member, "lapse", users["auditor"], member.version, {"reason": "x"})
    assert getattr(refused.value, "status", None) == 403
