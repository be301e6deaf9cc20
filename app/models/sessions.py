"""Server-side record of login sessions, so that logout really ends a session."""

from __future__ import annotations

from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import NO_ID_REUSE


class LoginSession(Model):
    __tablename__ = "login_session"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class UserLoginState(Model):
    """Per account, shared by every worker and node: failed logins in a row, the lock, and the
    generation of its API tokens (a password change or deactivation moves it on, ending every token)."""

    __tablename__ = "user_login_state"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), primary_key=True, autoincrement=False)
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)  # naive UTC
    token_generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class RevokedToken(Model):
    """A logged-out API token: its `jti`, or the `fam` shared by a login's access and refresh tokens."""

    __tablename__ = "revoked_token"
    __table_args__ = (NO_ID_REUSE,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id"), nullable=False, index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # after it, the row may be pruned
