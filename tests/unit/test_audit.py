"""The audit trail: one row per change with old and new values, one hash chain, tampering detected."""

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app import audit
from app.domain import records
from app.domain.validation import id_number_check_digit
from app.extensions import db
from app.models import AuditLog, Customer, Department
from tests import audit_attacker as attacker


def rows_for(session, obj):
    return session.scalars(
        select(AuditLog).where(AuditLog.table_name == obj.__table__.name, AuditLog.record_id == str(obj.id))
        .order_by(AuditLog.seq)
    ).all()


def make_customer(session, actor, **fields):
    first17 = "51010719800101123"
    data = dict(name="审计客户", kind="person", stage="owner", mobile="13711112222",
                id_number=first17 + id_number_check_digit(first17))
    data.update(fields)
    with records.unit_of_work(session):
        return records.create(session, Customer(**data), actor)


def test_insert_update_delete_each_leave_one_row_with_old_and_new_values(ctx, users):
    actor = users["cs_staff"]
    customer = make_customer(ctx, actor)
    with records.unit_of_work(ctx):
        records.update(ctx, customer, {"name": "新名字", "address": "西湖区1号"}, actor, 1)
    customer_id = customer.id
    with records.unit_of_work(ctx):
        records.delete(ctx, customer, actor, 2)
    rows = ctx.scalars(select(AuditLog).where(AuditLog.table_name == "customer",
                                              AuditLog.record_id == str(customer_id)).order_by(AuditLog.seq)).all()
    assert [r.action for r in rows] == ["insert", "update", "delete"]
    assert all(r.actor_id == actor.id and r.actor_name == "cs_staff" for r in rows)
    inserted, updated, deleted = (json.loads(r.changes) for r in rows)
    assert inserted["name"] == [None, "审计客户"]
    assert updated == {"name": ["审计客户", "新名字"], "address": [None, "西湖区1号"]}
    assert deleted["name"] == ["新名字", None]


def test_personal_data_is_masked_in_the_audit_rows(ctx, users):
    customer = make_customer(ctx, users["cs_staff"], mobile="13733334444")
    changes = json.loads(rows_for(ctx, customer)[0].changes)
    assert changes["mobile"] == [None, "137****4444"]
    assert "*" in changes["id_number"][1]


def test_a_write_without_an_actor_is_refused(ctx):
    ctx.add(Department(code="NOACTOR", name="无人部门"))
    with pytest.raises(audit.MissingActorError):
        ctx.flush()
    ctx.rollback()


def test_a_save_without_changes_writes_no_row(ctx, users):
    customer = make_customer(ctx, users["cs_staff"])
    before = len(rows_for(ctx, customer))
    with records.unit_of_work(ctx):
        records.update(ctx, customer, {"name": customer.name}, users["cs_staff"], 1)
    assert len(rows_for(ctx, customer)) == before


def test_the_chain_verifies(app, ctx, users):
    make_customer(ctx, users["cs_staff"])
    with db.engine.connect() as conn:
        result = audit.verify(conn)
    assert result.ok, result.problem
    assert result.count > 0


# --- tampering, on a database of its own ---------------------------------------------------

def _tamper(app, statement, **params):
    """Change the audit table behind the application's back (as someone with database access would)."""
    attacker.tamper(app, (statement, params))


def _seed_chain(app, n=5, prefix="T"):
    with app.app_context():
        admin = audit.SystemActor(None, "tester")
        with audit.acting_as(db.session, admin), records.unit_of_work(db.session):
            for i in range(n):
                db.session.add(Department(code=f"{prefix}{i}", name=f"测试部门{prefix}{i}"))
                db.session.flush()
        ids = db.session.scalars(select(AuditLog.id).order_by(AuditLog.seq)).all()
        db.session.remove()
    return ids


def _verify(app):
    with app.app_context(), db.engine.connect() as conn:
        return audit.verify(conn)


def test_an_edited_row_is_named(fresh_app):
    ids = _seed_chain(fresh_app)
    assert _verify(fresh_app).ok
    _tamper(fresh_app, "UPDATE audit_log SET changes = :c WHERE id = :id", c='{"name":[null,"伪造"]}', id=ids[2])
    result = _verify(fresh_app)
    assert not result.ok
    assert f"id={ids[2]} " in result.problem and "edited" in result.problem
    assert result.count == 2


def test_a_removed_row_is_detected(fresh_app):
    ids = _seed_chain(fresh_app)
    _tamper(fresh_app, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    result = _verify(fresh_app)
    assert not result.ok
    assert f"id={ids[2]} " in result.problem and "removed" in result.problem


def test_removing_the_last_rows_is_detected(fresh_app):
    ids = _seed_chain(fresh_app)
    _tamper(fresh_app, "DELETE FROM audit_log WHERE id = :id", id=ids[-1])
    result = _verify(fresh_app)
    assert not result.ok
    assert "removed" in result.problem


def test_a_row_inserted_out_of_chain_is_detected(fresh_app):
    ids = _seed_chain(fresh_app)
    _tamper(fresh_app, "UPDATE audit_log SET seq = seq + 1 WHERE id = :id", id=ids[-1])
    _tamper(fresh_app, "INSERT INTO audit_log (seq, at, actor_id, actor_name, table_name, record_id, action, "
                       "changes, prev_hash, hash) SELECT seq - 1, at, actor_id, actor_name, table_name, "
                       "'999', action, changes, prev_hash, hash FROM audit_log WHERE id = :id", id=ids[-1])
    result = _verify(fresh_app)
    assert not result.ok




# --- the keyed chain, its anchors, and the attacks of issue 11 item 10 --------------------------
# The attacker has write access to the database (and drops or disables its triggers) but not the key.

def _key(app) -> str:
    return app.config["KEFU_AUDIT_KEY"]


def _anchor(app):
    with app.app_context():
        return audit.anchor(db.engine)


def _head_seq(app) -> int:
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(text("SELECT MAX(seq) FROM audit_log")).scalar() or 0


def test_every_new_row_is_an_hmac_with_the_key_which_is_in_no_table(fresh_app):
    _seed_chain(fresh_app)
    prev, key = "0" * 64, _key(fresh_app)
    rows = attacker.rows(fresh_app)
    assert len(rows) == 5
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == attacker.keyed_hash(prev, row, key)
        assert row.hash != attacker.plain_hash(prev, row)
        prev = row.hash
    with fresh_app.app_context(), db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            for stored in conn.execute(table.select()):
                assert key not in repr(tuple(stored)), table.name


def test_the_key_comes_from_the_environment_or_a_0600_file_made_once(tmp_path, monkeypatch):
    from config import audit_key

    monkeypatch.delenv("KEFU_AUDIT_KEY", raising=False)
    first = audit_key(tmp_path)
    assert len(first) == 64 and (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert audit_key(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["audit_key"]
    monkeypatch.setenv("KEFU_AUDIT_KEY", "from-the-environment")
    assert audit_key(tmp_path) == "from-the-environment"


@pytest.mark.parametrize("guess", [None, "a-guessed-key"], ids=["unkeyed", "guessed-key"])
def test_a_rewrite_that_recomputes_every_later_hash_is_caught_at_the_edited_row(fresh_app, guess):
    _seed_chain(fresh_app)
    assert _verify(fresh_app).ok
    attacker.edit_and_rehash(fresh_app, 3, guess)
    rows = attacker.rows(fresh_app)
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]  # no seam: the old check passes
    result = _verify(fresh_app)
    assert not result.ok
    assert f"id={rows[2].id} seq=3:" in result.problem
    assert "re-hashed without the audit key" in result.problem
    assert result.count == 2


def test_moving_the_switch_over_to_pass_the_rewrite_off_as_unkeyed_is_caught(fresh_app):
    _seed_chain(fresh_app)
    attacker.edit_and_rehash(fresh_app, 3, None)
    last = _head_seq(fresh_app)
    guessed_tag = hmac.new(b"a-guessed-key", f"kefu-audit:hmac-from:{last + 1}".encode(), hashlib.sha256).hexdigest()
    attacker.tamper(fresh_app, ("UPDATE audit_chain_head SET hmac_from_seq = :s, hmac_from_tag = :t",
                                {"s": last + 1, "t": guessed_tag}))
    result = _verify(fresh_app)
    assert not result.ok
    assert f"switch-over to keyed hashes (from seq {last + 1}) does not match the audit key" in result.problem


def test_a_chain_hashed_before_the_key_still_verifies_and_a_rewrite_of_it_is_caught(databases):
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(databases.new()))
    with app.app_context():
        upgrade(revision="0007_case_anonymise")
        prev, stamp = "0" * 64, audit.utcnow().replace(microsecond=123456)
        with db.engine.begin() as conn:
            for seq in (1, 2, 3):  # as the code before 0006 wrote them: plain SHA-256
                row = dict(seq=seq, at=stamp, actor_id=None, actor_name="system", table_name="department",
                           record_id=str(seq), action="insert", changes=f'{{"code":[null,"L{seq}"]}}')
                digest = attacker.plain_hash(prev, type("Row", (), row))
                conn.execute(insert(AuditLog), [dict(row, prev_hash=prev, hash=digest)])
                prev = digest
            conn.execute(text("UPDATE audit_chain_head SET seq = 3, hash = :h"), {"h": prev})
        upgrade()
        db.session.remove()
    try:
        result = _verify(app)
        assert result.ok and result.count == 3, result.problem
        _seed_chain(app, 2)
        result = _verify(app)
        assert result.ok and result.count == 5, result.problem
        keyed = attacker.rows(app, 4)
        assert keyed[0].hash == attacker.keyed_hash(keyed[0].prev_hash, keyed[0], _key(app))

        # Rewrite an old row and re-hash the old rows only: the first keyed row no longer follows them.
        attacker.edit_and_rehash(app, 2, None, until=3)
        result = _verify(app)
        assert not result.ok
        assert f"id={keyed[0].id} seq=4, the first row keyed" in result.problem
        assert "rows 1 to 3 (hashed before the key was introduced) were rewritten" in result.problem
        # ... and re-hashing the keyed rows too (without the key) is caught there as well.
        attacker.rehash_from(app, 2, None)
        result = _verify(app)
        assert not result.ok and "seq=4:" in result.problem and "without the audit key" in result.problem
    finally:
        with app.app_context():
            db.engine.dispose()


def test_deleting_the_newest_rows_below_an_anchor_is_caught(fresh_app):
    _seed_chain(fresh_app, 6)
    anchored = _anchor(fresh_app)
    assert anchored.seq == 6 and _verify(fresh_app).ok
    attacker.delete_from(fresh_app, 4)  # rows 4-6 gone, the head moved back to row 3
    with fresh_app.app_context(), db.engine.connect() as conn:
        chain_alone = audit.verify(conn, anchor_log=Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"] + ".none"))
    assert chain_alone.ok, "the truncation is clean: only the anchor can show it"
    result = _verify(fresh_app)
    assert not result.ok
    assert f"rows after seq 3 were deleted: head 3 is below anchored 6 ({anchored.at})" in result.problem


def test_deleting_rows_and_writing_on_is_caught_at_the_anchor(fresh_app):
    _seed_chain(fresh_app, 4)
    first = _anchor(fresh_app)
    _seed_chain(fresh_app, 2, prefix="U")
    second = _anchor(fresh_app)
    assert (first.seq, second.seq) == (4, 6)
    attacker.delete_from(fresh_app, 5)
    _seed_chain(fresh_app, 3, prefix="V")  # the application writes on: seq 5 and 6 again, other content
    result = _verify(fresh_app)
    assert not result.ok
    assert f"anchor at seq 6 ({second.at}) no longer matches: rows from seq 5 to 6 were rewritten" in result.problem


def test_a_rewrite_with_the_key_itself_is_caught_by_the_anchors(fresh_app):
    """Even whoever holds the key cannot rewrite what an anchor has fixed."""
    _seed_chain(fresh_app, 5)
    anchored = _anchor(fresh_app)
    attacker.edit_and_rehash(fresh_app, 2, _key(fresh_app))
    result = _verify(fresh_app)
    assert not result.ok
    assert f"anchor at seq 5 ({anchored.at}) no longer matches: rows from seq 1 to 5 were rewritten" \
        in result.problem


def test_a_deleted_chain_head_row_is_a_message_not_a_traceback(fresh_app):
    _seed_chain(fresh_app, 3)
    attacker.tamper(fresh_app, ("DELETE FROM audit_chain_head", {}))
    result = _verify(fresh_app)
    assert not result.ok and "chain head row (audit_chain_head id=1) is missing" in result.problem
    bad = fresh_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and isinstance(bad.exception, SystemExit)
    assert "chain head row (audit_chain_head id=1) is missing" in bad.output
    with fresh_app.app_context():
        with pytest.raises(audit.AuditChainError, match="chain head row"):
            _seed_chain(fresh_app, 1, prefix="X")
        db.session.remove()


def test_a_forged_or_edited_anchor_line_is_named(fresh_app):
    _seed_chain(fresh_app, 3)
    anchored = _anchor(fresh_app)
    log = Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"])
    genuine = log.read_text()
    fields = {"seq": 9, "hash": "f" * 64, "at": anchored.at}
    fields["mac"] = hmac.new(b"a-guessed-key", json.dumps(fields).encode(), hashlib.sha256).hexdigest()
    with open(log, "a") as out:
        out.write(json.dumps(fields) + "\n")
    result = _verify(fresh_app)
    assert not result.ok
    assert f"line 2 (anchor at seq 9 ({anchored.at})) is forged" in result.problem
    # A genuine line with its seq lowered (to excuse a truncation) is forged just the same.
    log.write_text(genuine.replace('"seq":3', '"seq":2'))
    result = _verify(fresh_app)
    assert not result.ok and "line 1 (anchor at seq 2" in result.problem and "forged" in result.problem


def test_an_empty_chain_verifies_and_anchors(fresh_app):
    assert _head_seq(fresh_app) == 0
    assert _verify(fresh_app).ok
    anchored = _anchor(fresh_app)
    assert (anchored.seq, anchored.hash) == (0, "0" * 64)
    result = _verify(fresh_app)
    assert result.ok and result.count == 0 and result.anchors == 1


def test_a_missing_or_wrong_key_and_an_unreadable_anchor_log_are_messages(fresh_app):
    _seed_chain(fresh_app, 2)
    with fresh_app.app_context(), db.engine.connect() as conn:
        wrong = audit.verify(conn, key=b"not-the-key")
    assert not wrong.ok and "does not match the audit key" in wrong.problem
    log = Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"])
    log.mkdir(parents=True)
    try:
        result = _verify(fresh_app)
        assert not result.ok and f"cannot read the anchor log {log}" in result.problem
    finally:
        log.rmdir()
    log.write_text("not json\n")
    result = _verify(fresh_app)
    assert not result.ok and f"anchor log {log} line 1 is not an anchor" in result.problem
    os.remove(log)
    key, fresh_app.config["KEFU_AUDIT_KEY"] = fresh_app.config["KEFU_AUDIT_KEY"], ""
    try:
        result = _verify(fresh_app)
        assert not result.ok and result.problem.startswith("no audit key")
    finally:
        fresh_app.config["KEFU_AUDIT_KEY"] = key
    assert _verify(fresh_app).ok


def test_both_databases_refuse_to_change_the_audit_log_or_drop_the_head(fresh_app):
    """Triggers on SQLite (from 0006) as on PostgreSQL, for SQL that bypasses the application."""
    _seed_chain(fresh_app, 2)
    with fresh_app.app_context():
        statements = ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log WHERE seq = 2",
                      "DELETE FROM audit_log", "DELETE FROM audit_chain_head"]
        if db.engine.dialect.name == "postgresql":
            statements += ["TRUNCATE audit_log", "TRUNCATE audit_chain_head"]
        for statement in statements:
            with pytest.raises(Exception, match="append-only|is kept"):
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
    result = _verify(fresh_app)
    assert result.ok and result.count == 2
