"""The working-day calendar: `calendar seed` and `calendar status`, `db upgrade` seeding it, deadlines that
skip the seeded holidays, and the Admin's calendar pages."""

from datetime import date, datetime

from sqlalchemy import func, select

from app import audit
from app.domain import calendar, records
from app.extensions import db
from app.models import CalendarDay, CalendarYear


def covered_years() -> list[int]:
    from chinese_calendar.constants import holidays, workdays

    return sorted({d.year for d in holidays} | {d.year for d in workdays})


def counts(app) -> tuple[int, int]:
    with app.app_context():
        found = (db.session.scalar(select(func.count(CalendarYear.id))),
                 db.session.scalar(select(func.count(CalendarDay.id))))
        db.session.remove()
    return found


def test_calendar_seed_adds_the_covered_years_once(fresh_app):
    runner = fresh_app.test_cli_runner()
    first = runner.invoke(args=["calendar", "seed"])
    assert first.exit_code == 0, first.output
    years = covered_years()
    assert str(years[0]) in first.output and str(years[-1]) in first.output
    after_first = counts(fresh_app)
    assert after_first[0] == len(years) and after_first[1] > 10 * len(years)

    second = runner.invoke(args=["calendar", "seed"])
    assert second.exit_code == 0, second.output
    assert str(years[-1]) not in second.output
    assert counts(fresh_app) == after_first

    with fresh_app.app_context():
        national_day = db.session.scalar(select(CalendarDay).where(CalendarDay.day == date(2025, 10, 1)))
        make_up = db.session.scalar(select(CalendarDay).where(CalendarDay.day == date(2025, 9, 28)))
        assert (national_day.is_workday, national_day.name) == (False, "国庆节")
        assert make_up.is_workday is True and make_up.name.endswith("调休")
        db.session.remove()


def test_calendar_status_warns_for_a_missing_year(fresh_app, monkeypatch):
    runner = fresh_app.test_cli_runner()
    empty = runner.invoke(args=["calendar", "status"])
    assert empty.exit_code == 0, empty.output
    this_year = calendar.local_now().year
    for year in (this_year, this_year + 1):
        assert f"WARNING: {year} " in empty.output

    runner.invoke(args=["calendar", "seed"])
    seeded = runner.invoke(args=["calendar", "status"])
    assert seeded.exit_code == 0, seeded.output
    years = covered_years()
    assert f"  {years[-1]}  chinesecalendar" in seeded.output
    for year in (this_year, this_year + 1):
        assert (f"WARNING: {year} " in seeded.output) == (year not in years)

    # A year the Admin removed from the table (or one the package does not cover yet) is reported.
    with fresh_app.app_context():
        row = db.session.scalar(select(CalendarYear).where(CalendarYear.year == years[-1]))
        with records.unit_of_work(db.session):
            records.delete(db.session, row, audit.SYSTEM, row.version)
        db.session.remove()
    monkeypatch.setattr(calendar, "local_now", lambda: datetime(years[-1], 6, 1, 10, 0))
    missing = runner.invoke(args=["calendar", "status"])
    assert f"WARNING: {years[-1]} " in missing.output
    assert f"WARNING: {years[-2]} " not in missing.output


def test_db_upgrade_from_empty_also_seeds_the_calendar(databases):
    from flask_migrate.cli import db as db_group

    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(databases.new()))
    runner = app.test_cli_runner()
    result = runner.invoke(db_group, ["upgrade"])
    assert result.exit_code == 0, result.output
    assert "roles synced" in result.output and "calendar seeded" in result.output
    assert counts(app)[0] == len(covered_years())
    again = runner.invoke(db_group, ["upgrade"])
    assert again.exit_code == 0, again.output
    assert counts(app)[0] == len(covered_years())
    with app.app_context():
        db.engine.dispose()


def test_deadlines_skip_the_seeded_holidays_and_count_make_up_workdays(ctx):
    """The session database has the calendar from the demo load."""
    work = calendar.WorkCalendar(ctx)
    assert work.year_is_known(2025)
    # Tuesday 30 September 2025, 17:00: one office hour left, then the National Day week (1-8 October).
    assert work.add_working_days(datetime(2025, 9, 30, 17, 0), 0.5) == datetime(2025, 10, 9, 12, 30)
    # Sunday 28 September 2025 is a make-up workday.
    assert work.add_working_days(datetime(2025, 9, 28, 9, 0), 0.5) == datetime(2025, 9, 28, 13, 30)


# --- the Admin's pages ------------------------------------------------------------------------

def test_the_calendar_pages_warn_while_a_year_is_missing(login, monkeypatch):
    monkeypatch.setattr(calendar, "local_now", lambda: datetime(2099, 3, 1, 10, 0))
    admin = login("admin")
    for url in ("/calendarday/list/", "/calendaryear/list/"):
        page = admin.get(url)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert "2099" in text and "2100" in text and "calendar seed" in text
    staff = login("cs_staff").get("/calendarday/list/")
    assert staff.status_code == 200 and "2099" in staff.get_data(as_text=True)


def test_only_the_admin_edits_the_calendar(login, app):
    staff = login("cs_staff")
    refused = staff.post("/calendarday/add", data={"day": "2099-05-01", "is_workday": "", "name": "劳动节"})
    assert refused.status_code in (302, 403)
    assert _day(app, date(2099, 5, 1)) is None
    assert login("pm_staff").get("/calendaryear/list/").status_code in (302, 403)

    admin = login("admin")
    weekend_holiday = admin.post("/calendarday/add", data={"day": "2099-05-02", "name": "劳动节"})
    assert weekend_holiday.status_code == 200  # the form again, with the message beside the field
    assert _day(app, date(2099, 5, 2)) is None
    added = admin.post("/calendarday/add", data={"day": "2099-05-01", "name": "劳动节"})
    assert added.status_code == 302
    row = _day(app, date(2099, 5, 1))
    assert row is not None and row.is_workday is False and row.name == "劳动节"
    # name contains (filter 2), day after (1) and before (2): a date range
    found = admin.get("/calendarday/list/?_flt_2_name=劳动&_flt_1_day=2099-01-01&_flt_2_day=2099-12-31")
    assert "2099-05-01" in found.get_data(as_text=True)
    assert admin.post(f"/calendarday/delete/{row.id}").status_code == 302
    assert _day(app, date(2099, 5, 1)) is None


def _day(app, day):
    with app.app_context():
        row = db.session.scalar(select(CalendarDay).where(CalendarDay.day == day))
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
    return row

