"""The audit trail: one row per change with old and new values, one hash chain, tampering detected."""

import json

import pytest
from sqlalchemy import select, text

from app import audit
from app.domain import records
from app.domain.validation import id_number_check_digit
from app.extensions import db
from app.models import AuditLog, Customer, Department


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
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text(statement), params)
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def _seed_chain(app, n=5):
    with app.app_context():
        admin = audit.SystemActor(None, "tester")
        with audit.acting_as(db.session, admin), records.unit_of_work(db.session):
            for i in range(n):
                db.session.add(Department(code=f"T{i}", name=f"测试部门{i}"))
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


def test_postgresql_itself_refuses_to_change_the_audit_log(fresh_app):
    """On PostgreSQL a trigger refuses UPDATE and DELETE; SQLite has no such guard, verify is the check."""
    _seed_chain(fresh_app, 2)
    with fresh_app.app_context():
        dialect = db.engine.dialect.name
        for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
            if dialect == "postgresql":
                with pytest.raises(Exception, match="append-only"):
                    with db.engine.begin() as conn:
                        conn.execute(text(statement))
            else:
                with db.engine.begin() as conn:
                    conn.execute(text(statement))
                with db.engine.connect() as conn:
                    assert not audit.verify(conn).ok
                break
