"""Command line (SPEC §10): `flask --app run roles sync | demo load | audit verify | audit anchor | club verify | reminders |
calendar seed | calendar status`; `db upgrade` (Flask-Migrate's) ends with the seed step."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import lazy_gettext as _l

from app.extensions import db


def register_cli(app) -> None:
    roles = AppGroup("roles", help="Roles and permissions.")
    demo = AppGroup("demo", help="Demo data.")
    audit_group = AppGroup("audit", help="The audit trail.")
    archive_group = AppGroup("archive", help="The archive of printed forms.")
    calendar_group = AppGroup("calendar", help="The working-day calendar: public holidays and make-up workdays.")

    @roles.command("sync")
    def roles_sync():
        """Create the seven roles and give each exactly the permissions declared in app/security.py."""
        from app.security import sync_roles

        counts = sync_roles(current_app.appbuilder)
        for name, count in counts.items():
            click.echo(f"{name}: {count} permissions")

    @demo.command("load")
    @click.option("--password", default=None, help="Password for every demo user (generated if omitted).")
    @click.option("--complaints", type=click.IntRange(min=0), default=None,
                  help="How many demo complaints to walk through their steps (default: all of them; 0: none).")
    def demo_load(password, complaints):
        """Load the demo departments, properties, customers and one user per role (idempotent)."""
        from app.demo import load_demo

        report = load_demo(db.session, current_app.appbuilder, password, complaint_count=complaints)
        for line in report:
            click.echo(line)

    @audit_group.command("verify")
    def audit_verify():
        """Re-walk the audit chain with the audit key and against the anchor log; exit 1 naming where it
        was edited, removed, inserted or rewritten."""
        from sqlalchemy.exc import SQLAlchemyError

        from app.audit import verify

        try:
            with db.engine.connect() as conn:
                result = verify(conn)
        except SQLAlchemyError as exc:  # no audit tables, no database: a message, not a traceback
            _audit_fail("verify", f"FAILED: cannot read the audit chain: {exc.__class__.__name__}: {getattr(exc, 'orig', exc)}")
        if not result.ok:
            _audit_fail("verify", f"FAILED after {result.count} good rows: {result.problem}")
        anchored = (f", {result.anchors} anchor(s) matched, the last at {result.last_anchor.where()}"
                    if result.last_anchor else ", no anchors yet (run `audit anchor`)")
        click.echo(f"audit verify: OK, {result.count} rows verified{anchored}")

    @audit_group.command("anchor")
    def audit_anchor():
        """Append the chain head (seq, hash, time) to the anchor log outside the database (for cron)."""
        from sqlalchemy.exc import SQLAlchemyError

        from app.audit import AuditChainError, anchor, anchor_log_path

        try:
            item = anchor(db.engine)
        except (AuditChainError, SQLAlchemyError) as exc:
            _audit_fail("anchor", f"FAILED: {exc}")
        click.echo(f"audit anchor: seq {item.seq}, hash {item.hash[:16]}…, at {item.at} → {anchor_log_path()}")

    @archive_group.command("verify")
    def archive_verify():
        """Check the archive as DA/T 70 asks: authenticity (each file's SHA-256, SM3 and metadata
        against its record), integrity (every record has its file, no unregistered file, no gap in
        the archive numbers), usability (each file opens as a PDF and is PDF/A-identified). Exit 1
        naming each problem, one line each.

        First the files a crashed print left under a number that never committed are moved to the
        archive's `.quarantine/` folder (safe while prints run: each year's counter is locked meanwhile).
        Every file in quarantine is listed; they are not part of the archive, so they alone do not fail
        the check (exit 0). Records and files are only read."""
        from app.domain import archive

        try:
            for moved in archive.set_aside_leftovers(db.engine):
                click.echo(f"archive verify: {_l('moved to quarantine (printed, never recorded): %(path)s', path=moved)}")
            with db.engine.connect().execution_options(read_only=True) as conn:
                result = archive.verify(conn)
        except Exception as exc:  # noqa: BLE001 — a clear line and exit 1, never a traceback
            error = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            click.echo(f"archive verify: {_l('FAILED: the archive could not be checked: %(error)s', error=error)}",
                       err=True)
            sys.exit(1)
        for path in result.quarantined:
            click.echo(f"archive verify: {_l('in quarantine (not part of the archive): %(path)s', path=path)}")
        for note in result.notes:
            click.echo(f"archive verify: {note}")
        if result.ok:
            click.echo(f"archive verify: {_l('OK, %(count)s files verified', count=result.count)}")
            return
        for problem in result.problems:
            click.echo(f"archive verify: {problem}", err=True)
        click.echo("archive verify: " + str(_l("FAILED, %(problems)s problem(s) among %(count)s records",
                                               problems=len(result.problems), count=result.count)), err=True)
        sys.exit(1)

    @calendar_group.command("seed")
    def calendar_seed():
        """Add the holidays and make-up workdays of every year the `chinesecalendar` package covers and
        the table lacks (idempotent: a year already in the table, maybe edited by the Admin, is kept)."""
        added = _seed_calendar()
        if added:
            click.echo(f"calendar seed: added {', '.join(map(str, added))}")
        else:
            click.echo("calendar seed: nothing to add, every year the package covers is present")

    @calendar_group.command("status")
    def calendar_status():
        """The years in the table; a warning for this year or next year if missing (they would be
        counted as plain Monday to Friday)."""
        from app.domain.calendar import local_now
        from app.domain.worklist import missing_calendar_years

        years = _calendar_years()
        if years:
            click.echo("calendar years:")
            for year, source, holidays, workdays in years:
                click.echo(f"  {year}  {source:<16} {holidays:>3} holidays, {workdays:>2} make-up workdays")
        else:
            click.echo("calendar years: none")
        for year in missing_calendar_years(db.session, local_now()):
            click.echo(f"WARNING: {year} is not in the calendar: it is counted as plain Monday to Friday. "
                       f"Run `flask --app run calendar seed` or enter its holidays as Admin.", err=True)
        db.session.rollback()

    @app.cli.command("reminders")
    @click.option("--at", "at", default=None, metavar="'YYYY-MM-DD HH:MM'",
                  help="Evaluate at this China local time instead of now.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def reminders_command(at, as_json):
        """What is due and overdue, per person, overdue first (for a scheduler)."""
        from app.domain import calendar, reminders

        moment = _parse_moment(at) if at else calendar.local_now()
        people = reminders.due_and_overdue(db.session, moment)
        db.session.rollback()
        if as_json:
            click.echo(json.dumps(reminders.as_json(people, moment), ensure_ascii=False, indent=2))
        else:
            for line in reminders.as_text(people, moment):
                click.echo(line)

    for group in (roles, demo, audit_group, archive_group, calendar_group):
        app.cli.add_command(group)
    app.cli.add_command(_users_group())
    app.cli.add_command(_club_group())
    _sync_roles_after_upgrade()


def _club_group() -> AppGroup:
    club = AppGroup("club", help="The customer club: members and the points ledger.")

    @club.command("verify")
    def club_verify():
        """Walk the points ledger: no balance below zero, every reversal the opposite of one earlier row of
        the same member, every award tied to its activity; exit 1 naming each problem."""
        from app.domain.club import points

        with db.engine.connect() as conn:
            conn.execution_options(read_only=True)  # SQLite: a reader, not queued behind the writers
            problems = points.verify(conn)
            rows, members = conn.execute(_ledger_counts()).one()
        if problems:
            for problem in problems:
                click.echo(f"club verify: {problem}", err=True)
            click.echo(str(_l("club verify: FAILED, %(n)s problem(s) in the points ledger.", n=len(problems))),
                       err=True)
            sys.exit(1)
        click.echo(str(_l("club verify: OK, %(rows)s ledger rows of %(members)s members; every balance is the sum "
                          "of its rows and none is below zero.", rows=rows, members=members)))

    return club


def _ledger_counts():
    from sqlalchemy import distinct, func, select

    from app.models import PointsEntry

    return select(func.count(PointsEntry.id), func.count(distinct(PointsEntry.member_id)))


def _users_group() -> AppGroup:
    users = AppGroup("users", help="User accounts.")

    @users.command("unlock")
    @click.argument("username")
    def users_unlock(username):
        """End the login lock of USERNAME (after too many failed logins); recorded in the audit trail."""
        from app.audit import SYSTEM
        from app.domain import logins

        user = current_app.appbuilder.sm.find_user(username=username)
        if user is None:
            click.echo(f"users unlock: no user named {username!r}", err=True)
            sys.exit(1)
        was_locked = logins.unlock(db.session, SYSTEM, user)
        db.session.commit()
        click.echo(f"users unlock: {username} {'unlocked' if was_locked else 'was not locked'}")

    return users


def _parse_moment(value: str) -> datetime:
    from app.domain import fields

    try:
        return fields.a_moment(value)
    except ValueError:
        raise click.BadParameter("use 'YYYY-MM-DD HH:MM' (China local time)", param_hint="--at") from None


def _calendar_years() -> list[tuple[int, str, int, int]]:
    """(year, source, weekday holidays, weekend workdays) of every year in the table."""
    from sqlalchemy import case, extract, func, select

    from app.models import CalendarDay, CalendarYear

    year_of_day = extract("year", CalendarDay.day)
    counts = {int(row.year): (row.holidays, row.workdays) for row in db.session.execute(
        select(year_of_day.label("year"),
               func.sum(case((CalendarDay.is_workday.is_(False), 1), else_=0)).label("holidays"),
               func.sum(case((CalendarDay.is_workday.is_(True), 1), else_=0)).label("workdays"))
        .group_by(year_of_day))}
    return [(row.year, row.source, *counts.get(row.year, (0, 0)))
            for row in db.session.execute(select(CalendarYear.year, CalendarYear.source).order_by(CalendarYear.year))]


def _seed_calendar() -> list[int]:
    from app import audit
    from app.domain import records
    from app.domain.calendar import seed_from_chinesecalendar

    with records.unit_of_work(db.session):
        return seed_from_chinesecalendar(db.session, audit.SYSTEM)


def _audit_fail(command: str, message: str):
    click.echo(f"audit {command}: {message}", err=True)
    sys.exit(1)


def _sync_roles_after_upgrade() -> None:
    """`flask --app run db upgrade` ends with `roles sync` and `calendar seed`: the migrations' seed
    step. Permissions are code, so a database brought up to date also has its roles up to date; the
    holidays the `chinesecalendar` package knows are added for the years the table lacks."""
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
            from sqlalchemy import inspect

            if inspect(db.engine).has_table("calendar_year"):  # not when upgrading to an older revision
                added = _seed_calendar()
                click.echo(f"calendar seeded: {', '.join(map(str, added)) if added else 'no year to add'}")

    upgrade.callback = upgrade_then_sync
    upgrade.kefu_syncs_roles = True
