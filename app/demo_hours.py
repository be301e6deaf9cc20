"""Office hours of the demo data: the demo's steps and visits happen when a clerk is at work, 08:30–18:00
China time on the working days of the calendar (app.domain.calendar: public holidays off, 调休 Saturdays
on). The loader moves the domain's clock to these moments; the domain itself knows nothing of them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from app.domain import calendar

OPENS, CLOSES = time(8, 30), time(18, 0)
# Share of a calendar day that is office time (9.5 of 24 hours): a gap of "a day" between two steps
# becomes about one office day.
OFFICE_SHARE = 9.5 / 24


class OfficeHours:
    def __init__(self, session):
        self.days = calendar.WorkCalendar(session)

    def _open(self, day: date) -> datetime:
        return datetime.combine(day, OPENS)

    def _close(self, day: date) -> datetime:
        return datetime.combine(day, CLOSES)

    def forward(self, moment: datetime) -> datetime:
        """The first office moment at or after `moment`."""
        while not self.days.is_workday(moment.date()) or moment.time() >= CLOSES:
            moment = self._open(moment.date() + timedelta(days=1))
        return max(moment, self._open(moment.date()))

    def backward(self, moment: datetime) -> datetime:
        """The last office moment at or before `moment`."""
        while not self.days.is_workday(moment.date()) or moment.time() < OPENS:
            moment = self._close(moment.date() - timedelta(days=1))
        return min(moment, self._close(moment.date()))

    def add(self, moment: datetime, minutes: float) -> datetime:
        """`minutes` of office time after `moment`."""
        moment = self.forward(moment)
        while True:
            left = (self._close(moment.date()) - moment).total_seconds() / 60
            if minutes <= left:
                return moment + timedelta(minutes=minutes)
            minutes -= left
            moment = self.forward(self._open(moment.date() + timedelta(days=1)))

    def between(self, start: datetime, end: datetime) -> float:
        """Office minutes from `start` to `end` (0 when end is earlier)."""
        total, moment = 0.0, self.forward(start)
        while moment < end:
            total += (min(end, self._close(moment.date())) - moment).total_seconds() / 60
            moment = self.forward(self._open(moment.date() + timedelta(days=1)))
        return total

    def at_minute(self, day: date, minute: int) -> datetime:
        """`minute` minutes after the office opens on `day` (or the working day before it)."""
        while not self.days.is_workday(day):
            day -= timedelta(days=1)
        return min(self._open(day) + timedelta(minutes=minute), self._close(day))
