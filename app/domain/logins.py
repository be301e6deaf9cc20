"""Logins that resist guessing and API tokens that end, kept in the database so that every worker and
every node sees the same state (a per-process memory would let N workers take N times the guesses).

- After KEFU_LOCKOUT_FAILURES failed logins in a row an account is locked for KEFU_LOCKOUT_MINUTES:
  refused even with the right password. The counter moves by one atomic UPDATE that also checks the
  lock, so concurrent failures are never lost and never counted past the lock.
- Each failed login, each refusal while locked, the lock and an unlock are rows in the audit trail.
- API tokens carry `gen` (the account's token generation) and `fam` (one id per login, shared by its
  access and refresh tokens). Logout revokes the token and its family; a password change or a
  deactivation moves the generation on, which ends every token issued before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import case, event, inspect, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.audit import SystemActor, record_event, utcnow
from app.models import RevokedToken, UserLoginState

# Who failed a login is not known: the audit row names the account tried in its record_id.
ANONYMOUS = SystemActor(username="anonymous")

FAILED, LOCKED, REFUSED, UNLOCKED = "login_failed", "login_locked", "login_refused", "login_unlocked"


def _upsert(session_or_conn, user_id: int):
    dialect = getattr(session_or_conn, "dialect", None) or session_or_conn.get_bind().dialect
    insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
    return insert(UserLoginState).values(user_id=user_id, failed_logins=0, token_generation=0)


def _ensure_state(session: Session, user_id: int) -> None:
    session.execute(_upsert(session, user_id).on_conflict_do_nothing(index_elements=["user_id"]))


def locked_until(session: Session, user_id: int, now: datetime | None = None) -> datetime | None:
    """The end of the account's lock, or None when it is not locked."""
    until = session.scalar(select(UserLoginState.locked_until).where(UserLoginState.user_id == user_id))
    return until if until is not None and until > (now or utcnow()) else None


def login_failed(session: Session, user, address: str | None, via: str) -> bool:
    """Count one failed login (a wrong password). Returns True when the account is locked now (by this
    failure or, concurrently, by another). Commits: the count must stand even if the request fails."""
    now = utcnow()
    limit = current_app.config["KEFU_LOCKOUT_FAILURES"]
    until = now + timedelta(minutes=current_app.config["KEFU_LOCKOUT_MINUTES"])
    state = UserLoginState
    expired = state.locked_until <= now  # a lock that has run out starts the count again
    new_count = case((expired, 0), else_=state.failed_logins) + 1
    _ensure_state(session, user.id)
    row = session.execute(
        update(state)
        .where(state.user_id == user.id, or_(state.locked_until.is_(None), expired))
        .values(failed_logins=new_count,
                locked_until=case((new_count >= limit, until), (expired, None), else_=state.locked_until))
        .returning(state.failed_logins, state.locked_until)
    ).first()
    if row is None:  # another worker locked it between our check and this failure
        login_refused(session, user, address, via)
        return True
    record_event(session, ANONYMOUS, user, FAILED, {"failures": row.failed_logins, "address": address, "via": via})
    if row.locked_until is not None:
        record_event(session, ANONYMOUS, user, LOCKED, {
            "failures": row.failed_logins, "until": row.locked_until.isoformat(sep=" ", timespec="seconds")})
    session.commit()
    return row.locked_until is not None


def login_refused(session: Session, user, address: str | None, via: str) -> None:
    """A login attempt on a locked account (the password is not even checked). Commits."""
    record_event(session, ANONYMOUS, user, REFUSED, {"address": address, "via": via})
    session.commit()


def login_succeeded(session: Session, user) -> bool:
    """Reset the count after a right password; False if the account was locked meanwhile (then refuse).
    Does not commit: FAB's own bookkeeping of the login commits it."""
    _ensure_state(session, user.id)
    now = utcnow()
    state = UserLoginState
    row = session.execute(
        update(state).where(state.user_id == user.id, or_(state.locked_until.is_(None), state.locked_until <= now))
        .values(failed_logins=0, locked_until=None).returning(state.user_id)
    ).first()
    return row is not None


def unlock(session: Session, actor, user) -> bool:
    """An Admin ends the account's lock (and its count of failures). Returns whether it was locked.
    The caller commits."""
    was_locked = locked_until(session, user.id)
    session.execute(update(UserLoginState).where(UserLoginState.user_id == user.id)
                    .values(failed_logins=0, locked_until=None))
    record_event(session, actor, user, UNLOCKED, {
        "was_locked_until": was_locked.isoformat(sep=" ", timespec="seconds") if was_locked else None})
    return was_locked is not None


# --- API tokens ---------------------------------------------------------------------------------

def token_generation(session: Session, user_id: int) -> int:
    return session.scalar(select(UserLoginState.token_generation).where(UserLoginState.user_id == user_id)) or 0


def token_revoked(session: Session, payload: dict) -> bool:
    """Checked on every request that carries a JWT (flask_jwt_extended's token_in_blocklist_loader)."""
    try:
        user_id = int(payload["sub"])
    except (KeyError, TypeError, ValueError):
        return True
    if payload.get("gen") != token_generation(session, user_id):
        return True
    ids = [i for i in (payload.get("jti"), payload.get("fam")) if i]
    return session.scalar(select(RevokedToken.id).where(RevokedToken.token_id.in_(ids)).limit(1)) is not None


def revoke_token(session: Session, payload: dict) -> None:
    """Logout: the token and its login's family (the refresh token too) end now. Commits."""
    now, user_id = utcnow(), int(payload["sub"])
    # The family lives as long as the refresh token could; the access token as long as itself.
    family_end = now + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    token_end = datetime.fromtimestamp(payload["exp"], UTC).replace(tzinfo=None) if payload.get("exp") else family_end
    for token_id, expires_at in ((payload.get("jti"), token_end), (payload.get("fam"), family_end)):
        if token_id and session.scalar(select(RevokedToken.id).where(RevokedToken.token_id == token_id)) is None:
            session.add(RevokedToken(token_id=token_id, user_id=user_id, revoked_at=now, expires_at=expires_at))
    session.commit()


def _end_tokens_on_credential_change(session: Session, _flush_context) -> None:
    """after_flush: a user whose password changed or who was deactivated, by any path (own form, Admin
    form, API, CLI), loses every token issued before."""
    from flask_appbuilder.security.sqla.models import User

    for user in session.dirty:
        if not isinstance(user, User):
            continue
        state = inspect(user)
        password, active = state.attrs.password.history, state.attrs.active.history
        deactivated = active.has_changes() and not user.active
        if (password.has_changes() and password.added != password.deleted) or deactivated:
            conn = session.connection()
            column = UserLoginState.__table__.c.token_generation
            conn.execute(_upsert(conn, user.id).values(token_generation=1).on_conflict_do_update(
                index_elements=["user_id"], set_={"token_generation": column + 1}))


def install(session_class) -> None:
    if not event.contains(session_class, "after_flush", _end_tokens_on_credential_change):
        event.listen(session_class, "after_flush", _end_tokens_on_credential_change)
