"""Working time on the official mainland calendar: public holidays and make-up workdays (调休).

Complaint times (received, deadlines) are China local time (Asia/Shanghai), naive. A working day is
the office day 09:00–18:00 of a date that is a workday; a fraction of a day is that share of it.
Years missing from the calendar table count as plain Monday–Friday and are reported to the Admin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.models import CalendarDay, CalendarYear

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
OFFICE_OPENS, OFFICE_CLOSES = time(9, 0), time(18, 0)
OFFICE_MINUTES = 9 * 60


def from_utc(value: datetime | None) -> datetime | None:
    """The ONE conversion of a moment stored in UTC (approvals, bookkeeping columns, the audit trail) to
    China time (naive, like every other stored time), for pages and paper alike. An aware value is
    converted from its own zone."""
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(LOCAL_ZONE).replace(tzinfo=None)


def _real_now() -> datetime:
    return datetime.now(LOCAL_ZONE).replace(tzinfo=None, microsecond=0)


# The domain's one clock. Deadlines, step times and "today" all read local_now(); a caller that must
# act at another moment (the demo loader replaying history, a test set in Spring Festival week) passes
# its clock in with `clock()` instead of patching this module.
_CLOCK: ContextVar[Callable[[], datetime]] = ContextVar("kefu_clock", default=_real_now)


def local_now() -> datetime:
    """China time now (naive), as the current clock reads it."""
    return _CLOCK.get()()


def utc_now() -> datetime:
    """The domain's clock in naive UTC, for the times stored in UTC (an approval's request and decision):
    the real time at microsecond precision, else the moment a caller's clock reads (the demo loader's
    approvals wait since the step that asked for them)."""
    read = _CLOCK.get()
    if read is _real_now:
        return datetime.now(UTC).replace(tzinfo=None)
    return read().replace(tzinfo=LOCAL_ZONE).astimezone(UTC).replace(tzinfo=None)


@contextmanager
def clock(read: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, local_now() is `read()`."""
    token = _CLOCK.set(read)
    try:
        yield
    finally:
        _CLOCK.reset(token)


def clock_at(moment: datetime):
    """A clock that stands still at `moment`."""
    return clock(lambda: moment)


def clock_from(today: date):
    """A clock that runs from `today`'s date onwards at the real time of day: the real clock moved."""
    shift = datetime.combine(today, time()) - datetime.combine(_real_now().date(), time())
    return clock(lambda: _real_now() + shift)


@dataclass
class WorkCalendar:
    """The exceptions to Monday–Friday, loaded once for the years a computation touches."""

    session: object
    overrides: dict[date, bool] = field(default_factory=dict)
    known_years: set[int] = field(default_factory=set)
    loaded_years: set[int] = field(default_factory=set)

    def _load(self, year: int) -> None:
        if year in self.loaded_years:
            return
        rows = self.session.execute(
            select(CalendarDay.day, CalendarDay.is_workday)
            .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        ).all()
        self.overrides.update({row.day: row.is_workday for row in rows})
        if self.session.scalar(select(CalendarYear.id).where(CalendarYear.year == year)):
            self.known_years.add(year)
        self.loaded_years.add(year)

    def is_workday(self, day: date) -> bool:
        self._load(day.year)
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

    def year_is_known(self, year: int) -> bool:
        self._load(year)
        return year in self.known_years

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The moment `days` working days after `start` (0.5 = half an office day)."""
        remaining = round(days * OFFICE_MINUTES)
        moment = start
        while True:
            if not self.is_workday(moment.date()) or moment.time() >= OFFICE_CLOSES:
                moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)
                continue
            if moment.time() < OFFICE_OPENS:
                moment = datetime.combine(moment.date(), OFFICE_OPENS)
            left_today = (datetime.combine(moment.date(), OFFICE_CLOSES) - moment).seconds // 60
            if remaining <= left_today:
                return moment + timedelta(minutes=remaining)
            remaining -= left_today
            moment = datetime.combine(moment.date() + timedelta(days=1), OFFICE_OPENS)


def seed_from_chinesecalendar(session, actor) -> list[int]:
    """Fill the table from the `chinesecalendar` package for every year it covers and the table lacks."""
    import chinese_calendar
    from chinese_calendar.constants import holidays, workdays

    from app import audit

    covered = sorted({d.year for d in holidays} | {d.year for d in workdays})
    present = set(session.scalars(select(CalendarYear.year)))
    existing_days = set(session.scalars(select(CalendarDay.day)))
    seeded = []
    with audit.acting_as(session, actor):
        for year in covered:
            if year in present:
                continue
            for day, name in sorted(holidays.items()):
                if day.year == year and day.weekday() < 5 and day not in existing_days:
                    session.add(CalendarDay(day=day, is_workday=False, name=_chinese(chinese_calendar, name)))
            for day, name in sorted(workdays.items()):
                if day.year == year and day.weekday() >= 5 and day not in existing_days:
                    session.add(CalendarDay(day=day, is_workday=True, name=_chinese(chinese_calendar, name) + "调休"))
            session.add(CalendarYear(year=year, source="chinesecalendar"))
            seeded.append(year)
        session.flush()
    return seeded


def _chinese(module, english: str) -> str:
    for holiday in module.Holiday:
        if holiday.value == english:
            return holiday.chinese
    return english
