"""The audit trail (SPEC §9): every insert, update and delete of a business record, by any path,
becomes an append-only row in one SHA-256 hash chain.

- before_flush stamps created/updated by and at (and refuses a write with no known actor);
- after_flush writes the rows through the flush's own connection, so they commit or roll back with
  the change itself;
- the chain head row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite transactions that write
  start with BEGIN IMMEDIATE, see app.db_engine), so concurrent writers append one after another;
- `verify()` re-walks the chain and names the first row that was edited, removed or inserted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from app.models import BOOKKEEPING_COLUMNS, GENESIS_HASH, AuditChainHead, AuditLog

ACTOR_KEY = "kefu_actor"


@dataclass(frozen=True)
class SystemActor:
    """The actor for work no person started (migrations' seed step, scheduled commands)."""

    id: int | None = None
    username: str = "system"


SYSTEM = SystemActor()

# Set by the web layer: returns the logged-in user of the current request, or None.
request_actor_resolver: Callable[[], object | None] = lambda: None  # noqa: E731


class MissingActorError(RuntimeError):
    """A business record was written with no actor: a bug in the caller, never user input."""


def utcnow() -> datetime:
    """Naive UTC at microsecond precision: exactly what both databases store and hand back."""
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def acting_as(session: Session, actor) -> Iterator[None]:
    """Attribute every write inside the block to `actor`."""
    previous = session.info.get(ACTOR_KEY)
    session.info[ACTOR_KEY] = actor
    try:
        yield
    finally:
        session.info[ACTOR_KEY] = previous


def current_actor(session: Session):
    return session.info.get(ACTOR_KEY) or request_actor_resolver()


def is_audited(obj) -> bool:
    return getattr(type(obj), "__audited__", False)


# --- canonical form and hashing -------------------------------------------------------------

def _jsonable(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# One encoder for every row: the same bytes as json.dumps with these options, ~15 % faster per call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value) -> str:
    return _CANONICAL.encode(value)


def row_hash(prev_hash: str, seq: int, at: datetime, actor_id, actor_name: str, table_name: str,
             record_id: str, action: str, changes: str) -> str:
    """SHA-256 over the previous hash and this row's content, exactly as stored."""
    content = canonical_json([seq, at.isoformat(sep=" ", timespec="microseconds"), actor_id, actor_name,
                              table_name, record_id, action, changes])
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def _masked_if_personal(obj, key: str, value):
    # The audit log is read by Auditors, who may not reveal personal data: store it masked.
    if key in getattr(type(obj), "__personal_fields__", ()):
        from app.domain.privacy import mask

        return mask(key, value)
    return _jsonable(value)


def _diff(obj, action: str) -> dict:
    state = inspect(obj)
    changes = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        hist = state.attrs[key].history
        if action == "insert":
            value = getattr(obj, key)
            if value is not None and key != "id":
                changes[key] = [None, _masked_if_personal(obj, key, value)]
        elif action == "delete":
            value = hist.unchanged[0] if hist.unchanged else (hist.deleted[0] if hist.deleted else None)
            if value is not None and key != "id":
                changes[key] = [_masked_if_personal(obj, key, value), None]
        elif hist.has_changes() and key not in BOOKKEEPING_COLUMNS:
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[key] = [_masked_if_personal(obj, key, old), _masked_if_personal(obj, key, new)]
    return changes


def append(session: Session, actor, entries: list[dict]) -> None:
    """Append entries ({table_name, record_id, action, changes}) to the chain in this transaction."""
    if not entries:
        return
    conn = session.connection()
    head = conn.execute(
        select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1).with_for_update()
    ).one()
    seq, prev = head.seq, head.hash
    at = utcnow()
    actor_id, actor_name = getattr(actor, "id", None), getattr(actor, "username", "system")
    rows = []
    for entry in entries:
        seq += 1
        changes = canonical_json(entry["changes"])
        digest = row_hash(prev, seq, at, actor_id, actor_name, entry["table_name"], entry["record_id"],
                          entry["action"], changes)
        rows.append(dict(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name,
                         table_name=entry["table_name"], record_id=entry["record_id"],
                         action=entry["action"], changes=changes, prev_hash=prev, hash=digest))
        prev = digest
    conn.execute(insert(AuditLog), rows)
    conn.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=seq, hash=prev))


def record_event(session: Session, actor, obj, action: str, details: dict) -> None:
    """An audit row for something that is not a change of the record (e.g. revealing personal data)."""
    append(session, actor, [dict(table_name=obj.__table__.name, record_id=_record_id(obj),
                                 action=action, changes=details)])


def _record_id(obj) -> str:
    return ",".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


# --- the flush hooks -----------------------------------------------------------------------

def _before_flush(session: Session, _flush_context, _instances) -> None:
    touched = [o for o in session.new if is_audited(o)]
    touched += [o for o in session.dirty if is_audited(o) and session.is_modified(o, include_collections=False)]
    touched += [o for o in session.deleted if is_audited(o)]
    if not touched:
        return
    actor = current_actor(session)
    if actor is None:
        raise MissingActorError("a business record was written without an actor (use audit.acting_as)")
    now = utcnow()
    for obj in touched:
        if obj in session.deleted:
            continue
        if obj in session.new:
            obj.created_at, obj.created_by_id = now, actor.id
        obj.updated_at, obj.updated_by_id = now, actor.id
    session.info["kefu_audit_actor"] = actor


def _after_flush(session: Session, _flush_context) -> None:
    entries = []
    for action, objs in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objs:
            if not is_audited(obj):
                continue
            changes = _diff(obj, action)
            if action == "update" and not changes:
                continue
            entries.append(dict(table_name=obj.__table__.name, record_id=_record_id(obj),
                                action=action, changes=changes))
    if entries:
        append(session, session.info.get("kefu_audit_actor") or current_actor(session), entries)


def install(session_class) -> None:
    """Register the hooks on a Session class (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
        event.listen(session_class, "after_flush", _after_flush)


# --- verification -------------------------------------------------------------------------

@dataclass
class VerifyResult:
    ok: bool
    count: int
    problem: str = ""


def verify(connection) -> VerifyResult:
    """Walk the chain in seq order; stop at the first row that does not belong where it stands."""
    columns = (AuditLog.id, AuditLog.seq, AuditLog.at, AuditLog.actor_id, AuditLog.actor_name,
               AuditLog.table_name, AuditLog.record_id, AuditLog.action, AuditLog.changes,
               AuditLog.prev_hash, AuditLog.hash)
    connection.execution_options(read_only=True)  # SQLite: a deferred transaction, writers may go on
    result = connection.execution_options(stream_results=True, yield_per=20_000).execute(
        select(*columns).order_by(AuditLog.seq)
    )
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    for row in result:
        (row_id, seq, at, actor_id, actor_name, table_name, record_id, action, changes,
         prev_hash, digest) = row
        if seq != expected_seq:
            what = "removed" if seq > expected_seq else "inserted out of chain"
            return VerifyResult(False, count, f"audit row id={row_id} seq={seq}: expected seq {expected_seq}; "
                                              f"rows were {what} before it")
        if prev_hash != prev:
            return VerifyResult(False, count, f"audit row id={row_id} seq={seq}: does not follow the previous "
                                              "row (its prev_hash differs): a row before it was edited or "
                                              "replaced, or it was inserted out of chain")
        if row_hash(prev_hash, seq, at, actor_id, actor_name, table_name, record_id, action, changes) != digest:
            return VerifyResult(False, count, f"audit row id={row_id} seq={seq}: was edited (its content "
                                              "does not match its hash)")
        prev, expected_seq, count = digest, expected_seq + 1, count + 1
    head = connection.execute(select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == 1)).one()
    if head.seq != count or head.hash != prev:
        return VerifyResult(False, count, f"the chain head says {head.seq} rows but {count} were found: "
                                          f"rows after seq {count} were removed")
    return VerifyResult(True, count)
