"""Who people are: the names of users as pages, the API and printed forms show them."""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select


def display_name(first_name, last_name, username) -> str:
    """A Chinese name reads family name first, so it is kept in first_name: "张" + "伟", else the login."""
    return f"{first_name or ''}{last_name or ''}".strip() or username


def user_names(session, ids) -> dict[int, str]:
    """Full names of the given users, in one query."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.first_name, User.last_name, User.username)
                           .where(User.id.in_(ids))).all()
    return {r.id: display_name(r.first_name, r.last_name, r.username) for r in rows}
