"""Member and card numbers from configurable patterns (`KEFU_CLUB_MEMBER_NUMBER`,
`KEFU_CLUB_CARD_NUMBER`: str.format patterns with {year} and {seq}). Both columns are unique in the
database; `seq` grows with the rows' ids, so a number is never given twice, nor a voided card's again."""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import func, select

from app.domain import calendar
from app.models import MemberCard

MEMBER_PATTERN = "HY{year}{seq:05d}"
CARD_PATTERN = "KH{seq:08d}"


def _pattern(name: str, default: str) -> str:
    return current_app.config.get(name, default) if has_app_context() else default


def member_number(member) -> str:
    return _pattern("KEFU_CLUB_MEMBER_NUMBER", MEMBER_PATTERN).format(year=calendar.local_now().year, seq=member.id)


def card_number(session) -> str:
    # The next card's sequence: above every card row's id, so above every number given (ids only grow).
    seq = (session.scalar(select(func.max(MemberCard.id))) or 0) + 1
    return _pattern("KEFU_CLUB_CARD_NUMBER", CARD_PATTERN).format(year=calendar.local_now().year, seq=seq)
