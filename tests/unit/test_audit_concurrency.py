"""8 concurrent writers x 250 changes: the audit chain stays one line (no forks) and verifies."""

import threading

from sqlalchemy import func, select

from app import audit
from app.domain import records
from app.extensions import db
from app.models import AuditLog, Department

WRITERS, CHANGES = 8, 250


def test_concurrent_writers_never_fork_the_chain(fresh_app):
    app = fresh_app
    with app.app_context():
        with audit.acting_as(db.session, audit.SYSTEM), records.unit_of_work(db.session):
            ids = []
            for w in range(WRITERS):
                department = Department(code=f"W{w}", name=f"并发部门{w}")
                db.session.add(department)
                db.session.flush()
                ids.append(department.id)
        rows_before = db.session.scalar(select(func.count(AuditLog.id)))
        db.session.remove()

    errors = []
    start = threading.Barrier(WRITERS)

    def writer(w):
        try:
            actor = audit.SystemActor(None, f"writer{w}")
            with app.app_context():
                start.wait()
                for i in range(CHANGES):
                    department = db.session.get(Department, ids[w])
                    with records.unit_of_work(db.session):
                        records.update(db.session, department, {"name": f"并发部门{w}-{i}"}, actor,
                                       department.version)
                db.session.remove()
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []

    with app.app_context():
        session = db.session
        total = session.scalar(select(func.count(AuditLog.id)))
        assert total == rows_before + WRITERS * CHANGES
        forks = session.execute(
            select(AuditLog.prev_hash, func.count()).group_by(AuditLog.prev_hash).having(func.count() > 1)
        ).all()
        assert forks == []
        seqs = session.scalars(select(AuditLog.seq).order_by(AuditLog.seq)).all()
        assert seqs == list(range(1, total + 1))
        session.remove()
        with db.engine.connect() as conn:
            result = audit.verify(conn)
        assert result.ok, result.problem
        assert result.count == total
