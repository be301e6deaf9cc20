"""What someone with write access to the database — but not the audit key — can do to the audit chain.

Written independently of app.audit (only the documented canonical form is shared): the hashes an
attacker computes here are not taken from the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from sqlalchemy import text

from app.extensions import db

GUARDED = ("audit_log", "audit_chain_head")


def _content(row) -> str:
    at = row.at if isinstance(row.at, str) else row.at.isoformat(sep=" ", timespec="microseconds")
    return json.dumps([row.seq, at, row.actor_id, row.actor_name, row.table_name, row.record_id, row.action,
                       row.changes], ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def plain_hash(prev: str, row) -> str:
    return hashlib.sha256((prev + _content(row)).encode()).hexdigest()


def keyed_hash(prev: str, row, key: str) -> str:
    return hmac.new(key.encode(), (prev + _content(row)).encode(), hashlib.sha256).hexdigest()


def tamper(app, *statements) -> None:
    """Run (sql, params) statements with the append-only triggers out of the way, as an attacker with
    database access would: PostgreSQL's disabled, SQLite's dropped and re-created afterwards."""
    with app.app_context(), db.engine.begin() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                                         "tbl_name IN ('audit_log', 'audit_chain_head')")).all()
            for name, _sql in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for sql, params in statements:
            conn.execute(text(sql), params)
        if sqlite:
            for _name, sql in triggers:
                conn.execute(text(sql))
        else:
            for table in GUARDED:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


def rows(app, from_seq: int = 1):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT * FROM audit_log WHERE seq >= :s ORDER BY seq"), {"s": from_seq}).all()


def rehash_from(app, seq: int, key: str | None, until: int | None = None) -> None:
    """Recompute the hashes of every row from `seq` on (unkeyed if key is None, else with `key`, a
    guess), chain them, and move the head to the last one: a rewrite that leaves no seam in the chain.
    With `until`, only rows up to that seq (and the head stays)."""
    with app.app_context(), db.engine.connect() as conn:
        prev = conn.execute(text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": seq - 1}).scalar() or "0" * 64
    statements = []
    for row in rows(app, seq):
        if until is not None and row.seq > until:
            break
        digest = plain_hash(prev, row) if key is None else keyed_hash(prev, row, key)
        statements.append(("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :id",
                           {"p": prev, "h": digest, "id": row.id}))
        prev = digest
    if until is None:
        statements.append(("UPDATE audit_chain_head SET seq = (SELECT MAX(seq) FROM audit_log), hash = :h "
                           "WHERE id = 1", {"h": prev}))
    tamper(app, *statements)


def edit_and_rehash(app, seq: int, key: str | None, until: int | None = None,
                    changes: str = '{"name":[null,"伪造"]}') -> None:
    """Edit row `seq`'s content, then re-hash it and every later row (up to `until`)."""
    tamper(app, ("UPDATE audit_log SET changes = :c WHERE seq = :s", {"c": changes, "s": seq}))
    rehash_from(app, seq, key, until)


def delete_from(app, seq: int) -> None:
    """Delete the rows from `seq` on and move the head back to the row before: a clean truncation."""
    tamper(app, ("DELETE FROM audit_log WHERE seq >= :s", {"s": seq}),
           ("UPDATE audit_chain_head SET seq = :n, hash = COALESCE((SELECT hash FROM audit_log WHERE seq = :n), "
            ":g) WHERE id = 1", {"n": seq - 1, "g": "0" * 64}))
