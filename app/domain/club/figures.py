"""The club's monthly figures (seed 002: 每月统计新入会会员数): per month of a year, the members who joined
(activated that month), the active members at the month's end, the points awarded and redeemed that month
and outstanding at its end, and the attendance rate of the month's activities (attending members over the
members active at the month's end)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.models import Activity, Attendance, Member, PointsEntry
from app.models.club import MemberState, PointsKind


def _bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    return start, datetime(year + (month == 12), month % 12 + 1, 1)


def _sum(session, *where) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0)).where(*where)))


def monthly(session, year: int, until: datetime | None = None) -> list[dict]:
    rows = []
    for month in range(1, 13):
        start, end = _bounds(year, month)
        if until is not None and start > until:
            break
        joined = session.scalar(select(func.count(Member.id)).where(Member.activated_at >= start,
                                                                    Member.activated_at < end))
        # Active at the month's end: activated before it and not ended by then (or still active).
        active = session.scalar(select(func.count(Member.id)).where(
            Member.activated_at < end, Member.state.in_([MemberState.ACTIVE, MemberState.LAPSED,
                                                         MemberState.CANCELLED]),
            (Member.ended_at.is_(None)) | (Member.ended_at >= end)))
        in_month = (PointsEntry.at >= start, PointsEntry.at < end)
        awarded = _sum(session, PointsEntry.kind == PointsKind.AWARD, *in_month)
        redeemed = -_sum(session, PointsEntry.kind == PointsKind.REDEEM, *in_month)
        outstanding = _sum(session, PointsEntry.at < end)
        activities = session.scalar(select(func.count(Activity.id)).where(Activity.held_at >= start,
                                                                          Activity.held_at < end))
        attended = session.scalar(select(func.count(Attendance.id)).join(Activity, Activity.id == Attendance.activity_id)
                                  .where(Activity.held_at >= start, Activity.held_at < end,
                                         Attendance.member_id.is_not(None)))
        rate = round(attended / (active * activities), 4) if active and activities else None
        rows.append({"month": f"{year}-{month:02d}", "new_members": joined, "active_members": active,
                     "points_awarded": awarded, "points_redeemed": redeemed, "points_outstanding": outstanding,
                     "activities": activities, "attendances": attended, "attendance_rate": rate})
    return rows
