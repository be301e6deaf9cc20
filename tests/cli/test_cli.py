"""The commands of SPEC §10, through Flask's CLI runner (the same code as `flask --app run ...`)."""

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Customer, Department
from tests.audit_attacker import tamper


def test_roles_sync_creates_the_seven_roles_and_is_idempotent(fresh_app):
    runner = fresh_app.test_cli_runner()
    first = runner.invoke(args=["roles", "sync"])
    second = runner.invoke(args=["roles", "sync"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output
    assert first.output == second.output
    for role in ("Admin", "CS Staff", "CS Manager", "Department Staff", "Archivist", "General Manager",
                 "Auditor"):
        assert f"{role}:" in first.output
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        staff = {(p.permission.name, p.view_menu.name) for p in sm.find_role("CS Staff").permissions}
        assert ("can_list", "CustomerView") in staff
        assert ("can_list", "AuditLogView") not in staff


def test_roles_sync_removes_a_permission_granted_by_hand(fresh_app):
    runner = fresh_app.test_cli_runner()
    runner.invoke(args=["roles", "sync"])
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        role = sm.find_role("Department Staff")
        pvm = sm.find_permission_view_menu("can_list", "CustomerView")
        sm.add_permission_role(role, pvm)
        assert pvm in sm.find_role("Department Staff").permissions
        db.session.remove()
    runner.invoke(args=["roles", "sync"])
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        names = {(p.permission.name, p.view_menu.name) for p in sm.find_role("Department Staff").permissions}
        assert ("can_list", "CustomerView") not in names
        db.session.remove()


def test_demo_load_is_idempotent_and_prints_a_generated_password(fresh_app):
    runner = fresh_app.test_cli_runner()
    # Two complaints: walking all 300 is what the session's demo database already does (tests/conftest.py).
    first = runner.invoke(args=["demo", "load", "--complaints", "2"])
    assert first.exit_code == 0, first.output
    assert "Demo users (password: " in first.output and "(unchanged)" not in first.output
    assert "Complaints: 2 added (2 in all)" in first.output
    second = runner.invoke(args=["demo", "load", "--complaints", "2"])
    assert second.exit_code == 0, second.output
    assert "(unchanged)" in second.output and "Complaints: 2 present, none added" in second.output
    with fresh_app.app_context():
        assert db.session.scalar(select(func.count(Customer.id))) == 200
        assert db.session.scalar(select(func.count(Department.id))) >= 5
        sm = fresh_app.appbuilder.sm
        for name in ("admin", "cs_staff", "cs_manager", "eng_staff", "pm_staff", "archivist", "gm", "auditor"):
            assert sm.find_user(username=name) is not None
        db.session.remove()
    third = runner.invoke(args=["demo", "load", "--password", "another-pass-9", "--complaints", "0"])
    assert third.exit_code == 0 and "password reset" in third.output


def test_audit_verify_exit_codes(demo_copy):
    runner = demo_copy.test_cli_runner()  # the demo data, as `demo load` leaves it (loaded once per run)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "rows verified" in ok.output
    with demo_copy.app_context(), db.engine.connect() as conn:
        target = conn.execute(text("SELECT id FROM audit_log ORDER BY seq LIMIT 1 OFFSET 10")).scalar()
    tamper(demo_copy, ("UPDATE audit_log SET actor_name = 'mallory' WHERE id = :id", {"id": target}))
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"id={target} " in bad.output


def test_db_upgrade_from_empty_migrates_and_syncs_the_roles(databases):
    """`flask --app run db upgrade` on an empty database: schema, then roles (the seed step)."""
    from flask_migrate.cli import db as db_group

    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(databases.new()))
    result = app.test_cli_runner().invoke(db_group, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert "roles synced" in result.output
    with app.app_context():
        sm = app.appbuilder.sm
        assert sm.find_role("Auditor") is not None
        assert any((p.permission.name, p.view_menu.name) == ("can_list", "AuditLogView")
                   for p in sm.find_role("Auditor").permissions)
        db.session.remove()
        db.engine.dispose()
