"""Command line (SPEC §10): `flask --app run roles sync | demo load | audit verify`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db


def register_cli(app) -> None:
    roles = AppGroup("roles", help="Roles and permissions.")
    demo = AppGroup("demo", help="Demo data.")
    audit_group = AppGroup("audit", help="The audit trail.")

    @roles.command("sync")
    def roles_sync():
        """Create the seven roles and give each exactly the permissions declared in app/security.py."""
        from app.security import sync_roles

        counts = sync_roles(current_app.appbuilder)
        for name, count in counts.items():
            click.echo(f"{name}: {count} permissions")

    @demo.command("load")
    @click.option("--password", default=None, help="Password for every demo user (generated if omitted).")
    def demo_load(password):
        """Load the demo departments, properties, customers and one user per role (idempotent)."""
        from app.demo import load_demo

        report = load_demo(db.session, current_app.appbuilder, password)
        for line in report:
            click.echo(line)

    @audit_group.command("verify")
    def audit_verify():
        """Re-walk the audit hash chain; exit 1 naming the first row that was edited, removed or inserted."""
        from app.audit import verify

        with db.engine.connect() as conn:
            result = verify(conn)
        if result.ok:
            click.echo(f"audit verify: OK, {result.count} rows verified")
            return
        click.echo(f"audit verify: FAILED after {result.count} good rows: {result.problem}", err=True)
        sys.exit(1)

    for group in (roles, demo, audit_group):
        app.cli.add_command(group)
    _sync_roles_after_upgrade()


def _sync_roles_after_upgrade() -> None:
    """`flask --app run db upgrade` ends with `roles sync`: the migrations' seed step. Permissions are
    code, so a database brought up to date also has its roles up to date."""
    from flask_migrate.cli import db as db_group

    upgrade = db_group.commands["upgrade"]
    if getattr(upgrade, "kefu_syncs_roles", False):
        return
    migrate_only = upgrade.callback

    @click.pass_context
    def upgrade_then_sync(ctx, *args, **kwargs):
        ctx.invoke(migrate_only, *args, **kwargs)
        if not kwargs.get("sql"):
            from app.security import sync_roles

            sync_roles(current_app.appbuilder)
            click.echo("roles synced")

    upgrade.callback = upgrade_then_sync
    upgrade.kefu_syncs_roles = True
