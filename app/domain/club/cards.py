"""Printing a member's card (会员卡 KF/QR-09) on the printing mechanism and filing it in the archive: each
print is a new archive record (a reprint points at the one before). A lost card is first replaced (the
membership's `replace_card` step: new number, the old voided); the card printed then carries the new one."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.domain import archive
from app.domain.errors import TransitionNotAllowedError
from app.models import MemberCard
from app.models.club import MemberState
from reports.forms import member_card

from .members import may_work

CARD_RETENTION_YEARS = 10


def card_data(session, member) -> dict:
    card = session.scalars(select(MemberCard).where(MemberCard.card_number == member.card_number)).first()
    club = current_app.config.get("KEFU_CLUB_NAME") or f"{current_app.config['COMPANY_NAME']} 客户会"
    return {"club": club, "name": member.customer.name, "member_number": member.member_number or "",
            "card_number": member.card_number, "issued_on": f"{card.issued_at:%Y-%m-%d}" if card else ""}


def print_card(session, member, actor):
    may_work(actor)
    if not member.card_number or member.state not in (MemberState.CARD_ISSUED, MemberState.ACTIVE):
        raise TransitionNotAllowedError(_l("A card is printed once it is issued and while the membership is "
                                           "active; this membership is “%(state)s”.",
                                           state=MemberState.label_of(member.state)))
    return archive.file_form(session, member_card, card_data(session, member), actor, source=member,
                             source_label=member.number, title=f"会员卡 {member.card_number}",
                             retention_years=CARD_RETENTION_YEARS)
