"""The points ledger (seed 002 积分): every award, redemption, adjustment and reversal is a row with its
reason, who, when and source; the balance is the sum of the rows (nothing else is stored, so nothing
else can disagree; `club verify` walks the rows). Rows are never changed or deleted (database triggers,
migration 0012): a wrong row is corrected by a reversing row tied to it, once.

Every write locks the member's row first (SELECT … FOR UPDATE on PostgreSQL; SQLite's writers are
serialised by BEGIN IMMEDIATE), then reads the balance: concurrent redemptions against one balance queue,
and none takes it below zero. A request that carries an idempotency key already used answers the first
result and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import audit
from app.domain import calendar, fields
from app.domain.errors import ConflictError, NotFoundError, TransitionNotAllowedError, ValidationError
from app.models import Member, PointsEntry
from app.models.club import MemberState, PointsKind

from .members import may_work

K = PointsKind
MAX_POINTS = 1_000_000  # one row moves at most this many points (a typo, not a request)
WRITABLE_KINDS = (K.REDEEM, K.ADJUST)  # what POST /points takes; awards come from activities


@dataclass(frozen=True)
class Written:
    entry: PointsEntry
    replayed: bool  # True: the idempotency key was used before; this is the first request's row


# --- reading ------------------------------------------------------------------------------------------------

def balance(session, member_id: int) -> int:
    return totals(session, member_id)[0]


def totals(session, member_id: int) -> tuple[int, int]:
    """(balance, number of rows): one index-only read of (member_id, id, points)."""
    total, rows = session.execute(select(func.coalesce(func.sum(PointsEntry.points), 0), func.count())
                                  .where(PointsEntry.member_id == member_id)).one()
    return int(total), int(rows)


LEDGER_COLUMNS = (PointsEntry.id, PointsEntry.kind, PointsEntry.points, PointsEntry.reason, PointsEntry.actor_name,
                  PointsEntry.at, PointsEntry.activity_id, PointsEntry.redemption_ref, PointsEntry.reverses_id,
                  PointsEntry.idempotency_key)


def ledger(session, member_id: int, limit: int = 50, offset: int = 0, balance_now: int | None = None) -> list[dict]:
    """A page of the member's rows, newest first, each with the balance after it: the balance now less the
    rows after it (so a page reads its own rows, never the member's whole history)."""
    if balance_now is None:
        balance_now = balance(session, member_id)
    newer = 0
    if offset:
        newest = (select(PointsEntry.points).where(PointsEntry.member_id == member_id)
                  .order_by(PointsEntry.id.desc()).limit(offset).subquery())
        newer = int(session.scalar(select(func.coalesce(func.sum(newest.c.points), 0))))
    rows = session.execute(select(*LEDGER_COLUMNS).where(PointsEntry.member_id == member_id)
                           .order_by(PointsEntry.id.desc()).limit(limit).offset(offset)).mappings()
    page = []
    for row in rows:
        page.append({**row, "balance_after": balance_now - newer})
        newer += row["points"]
    return page


def count(session, member_id: int) -> int:
    return totals(session, member_id)[1]


# --- the checks every write shares --------------------------------------------------------------------------

def lock_member(session, member_id: int) -> Member:
    """The member's row, locked until the transaction ends, read fresh (its state may have moved)."""
    member = session.scalars(select(Member).where(Member.id == member_id).with_for_update(of=Member)
                             .execution_options(populate_existing=True)).one_or_none()
    if member is None:
        raise NotFoundError()
    return member


def _refuse_negative(session, member: Member, delta: int) -> None:
    current = balance(session, member.id)
    if current + delta < 0:
        raise ConflictError(_l("Not enough points: the balance is %(balance)s, this would take %(points)s; "
                               "nothing was written.", balance=current, points=-delta))


def _reason(value) -> str:
    text = fields.text(value)
    if not text:
        raise ValidationError({"reason": _l("Give the reason.")})
    if len(text) > 300:
        raise ValidationError({"reason": _l("At most %(n)s characters.", n=300)})
    return text


def _points(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError({"points": _l("Points are a whole number.")})
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({"points": _l("Points are a whole number.")}) from None
    if number == 0 or abs(number) > MAX_POINTS:
        raise ValidationError({"points": _l("Points are a whole number other than 0, at most %(n)s.", n=MAX_POINTS)})
    return number


def _key(value) -> str:
    key = fields.text(value) if not isinstance(value, dict | list) else None
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": _l("Send an idempotency key (at most 100 characters) so that "
                                                     "a retried request is not counted twice.")})
    return key


def _replay(session, key: str, member_id: int, kind: str, delta: int) -> PointsEntry | None:
    first = session.scalars(select(PointsEntry).where(PointsEntry.idempotency_key == key)).first()
    if first is None:
        return None
    if (first.member_id, first.kind, first.points) != (member_id, kind, delta):
        raise ConflictError(_l("This idempotency key was used for a different request."))
    return first


def _write(session, actor, entry: PointsEntry) -> PointsEntry:
    entry.actor_id, entry.actor_name = getattr(actor, "id", None), getattr(actor, "username", "system")
    entry.at = calendar.local_now()
    with audit.acting_as(session, actor):
        session.add(entry)
        try:
            session.flush()
        except IntegrityError as exc:
            constraint = str(exc.orig)
            if "uq_club_points_award" in constraint or "activity_id" in constraint:
                raise ConflictError(_l("This member was already awarded points for this activity.")) from exc
            if "reverses_id" in constraint:
                raise ConflictError(_l("This row has already been reversed.")) from exc
            if "idempotency_key" in constraint:
                raise ConflictError(_l("This idempotency key was used for a different request.")) from exc
            raise ConflictError(_l("This would duplicate an existing record or break a link between "
                                   "records; nothing was saved.")) from exc
    return entry


# --- writing ------------------------------------------------------------------------------------------------

def change(session, member_id: int, actor, kind, points, reason, idempotency_key, redemption_ref=None) -> Written:
    """POST /points: a redemption (N points taken: a row of -N) or an adjustment (signed N)."""
    may_work(actor)
    if kind not in WRITABLE_KINDS:
        raise ValidationError({"kind": _l("The kind is “redeem” or “adjust”.")})
    number, reason, key = _points(points), _reason(reason), _key(idempotency_key)
    if kind == K.REDEEM and number < 0:
        raise ValidationError({"points": _l("Give the points redeemed as a positive number.")})
    delta = -number if kind == K.REDEEM else number
    ref = fields.text(redemption_ref) if not isinstance(redemption_ref, dict | list) else None
    first = _replay(session, key, member_id, kind, delta)
    if first is not None:
        return Written(first, True)
    member = lock_member(session, member_id)
    first = _replay(session, key, member_id, kind, delta)  # a concurrent retry may have committed meanwhile
    if first is not None:
        return Written(first, True)
    if kind == K.REDEEM and member.state != MemberState.ACTIVE:
        raise TransitionNotAllowedError(_l("Only an active member can redeem points; this membership is "
                                           "“%(state)s”.", state=MemberState.label_of(member.state)))
    if kind == K.ADJUST and member.state not in (MemberState.ACTIVE, MemberState.LAPSED):
        raise TransitionNotAllowedError(_l("Points of a membership that is “%(state)s” cannot be adjusted.",
                                           state=MemberState.label_of(member.state)))
    _refuse_negative(session, member, delta)
    entry = PointsEntry(member_id=member.id, kind=kind, points=delta, reason=reason, idempotency_key=key,
                        redemption_ref=ref[:64] if ref else None)
    return Written(_write(session, actor, entry), False)


def award(session, member_id: int, activity, actor) -> PointsEntry:
    """An activity's points to one attending member: at most once per member and activity (the database's
    unique constraint stands behind this check)."""
    member = lock_member(session, member_id)
    if session.scalar(select(PointsEntry.id).where(PointsEntry.member_id == member.id,
                                                   PointsEntry.activity_id == activity.id)):
        raise ConflictError(_l("This member was already awarded points for this activity."))
    entry = PointsEntry(member_id=member.id, kind=K.AWARD, points=activity.points, activity_id=activity.id,
                        reason=str(_l("Attended “%(title)s”", title=activity.title))[:300])
    return _write(session, actor, entry)


def reverse(session, entry_id, actor, reason, idempotency_key=None) -> Written:
    """A reversing row for a wrong row: the opposite points, tied to it; a row is reversed once only."""
    may_work(actor)
    reason = _reason(reason)
    try:
        entry_id = fields.record_id(entry_id)
    except ValueError:
        raise NotFoundError() from None
    original = session.get(PointsEntry, entry_id)
    if original is None:
        raise NotFoundError()
    key = _key(idempotency_key) if idempotency_key not in (None, "") else None
    if key:
        first = _replay(session, key, original.member_id, K.REVERSAL, -original.points)
        if first is not None:
            return Written(first, True)
    if original.kind == K.REVERSAL:
        raise ConflictError(_l("A reversal is not reversed: write an adjustment instead."))
    member = lock_member(session, original.member_id)
    if session.scalar(select(PointsEntry.id).where(PointsEntry.reverses_id == original.id)):
        raise ConflictError(_l("This row has already been reversed."))
    _refuse_negative(session, member, -original.points)
    entry = PointsEntry(member_id=member.id, kind=K.REVERSAL, points=-original.points, reverses_id=original.id,
                        reason=reason, idempotency_key=key)
    return Written(_write(session, actor, entry), False)


# --- checking the whole ledger ------------------------------------------------------------------------------

def verify(connection) -> list[str]:
    """`club verify`: every member's running balance never below zero; every reversal the exact opposite
    of one row of the same member; an award tied to an activity. Returns the problems found (none: [])."""
    t = PointsEntry.__table__
    problems: list[str] = []
    running: dict[int, int] = {}
    by_id: dict[int, tuple[int, int, str]] = {}
    rows = connection.execute(select(t.c.id, t.c.member_id, t.c.kind, t.c.points, t.c.reverses_id,
                                     t.c.activity_id).order_by(t.c.id))
    for row in rows:
        by_id[row.id] = (row.member_id, row.points, row.kind)
        running[row.member_id] = running.get(row.member_id, 0) + row.points
        if running[row.member_id] < 0:
            problems.append(str(_l("Member %(member)s: the balance falls below zero at row %(row)s.",
                                   member=row.member_id, row=row.id)))
        if row.kind == K.AWARD and row.activity_id is None:
            problems.append(str(_l("Row %(row)s: an award without its activity.", row=row.id)))
        if row.kind == K.REVERSAL:
            target = by_id.get(row.reverses_id)
            if target is None or target[0] != row.member_id or target[1] != -row.points or target[2] == K.REVERSAL:
                problems.append(str(_l("Row %(row)s: a reversal that is not the opposite of an earlier row of "
                                       "the same member.", row=row.id)))
    return problems
