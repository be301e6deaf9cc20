"""Monthly complaint statistics and the complaint ledger (投诉台帐), SPEC §3 and issue 4 item 7.

The month's complaints are those received in it (local time, like every complaint time). Counts come
from one GROUP BY over the month's rows (by channel, category, severity, department and state, with
the sums the other figures need), so the work grows with the number of groups, not of rows. The time
to close is taken over the complaints closed in the month (`closed_at - received_at`, in days; median
and 90th percentile computed by PostgreSQL itself, in Python on SQLite).
Overdue is judged with `complaints.overdue_clause` at the end of the month, or now if that is
earlier. Values that are not set yet (the severity of an unassessed complaint, the department of an
unassigned one) are counted under UNSET.

Statistics are for the roles that see every department (the permission `can_stats`), so they are not
narrowed by department scope.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from flask_appbuilder.security.sqla.models import User
from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, and_, case, cast, func, or_, select

from app.models import Building, Complaint, Customer, Department, Project, Unit
from app.models.choices import Channel, ComplaintCategory, ComplaintState, Severity

from . import calendar
from .complaints import overdue_clause
from .errors import ValidationError
from .people import display_name

UNSET = "unset"
S = ComplaintState
# A complaint that reached "replied" at least once: it is replied or later now, or it was sent back to
# handling by a rejected reply (which counted a re-handling).
REPLIED_OR_LATER = (S.REPLIED, S.CLOSED, S.RETURN_VISITED, S.FED_BACK)
SUMMARY_CHARS = 40
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """"2026-11" -> (2026-11-01 00:00, 2026-12-01 00:00); a ValidationError for anything else."""
    found = _MONTH.match(str(month or "").strip())
    if not found or not 1 <= int(found.group(2)) <= 12 or not 1900 <= int(found.group(1)) <= 9998:  # 9999-12 would end in year 10000
        raise ValidationError({"month": _l("Please give the month as YYYY-MM, for example 2026-11.")},
                              message=_l("The month is not valid."))
    year, number = int(found.group(1)), int(found.group(2))
    start = datetime(year, number, 1)
    end = datetime(year + 1, 1, 1) if number == 12 else datetime(year, number + 1, 1)
    return start, end


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (as PostgreSQL's percentile_cont)."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def working_days_between(work: calendar.WorkCalendar, start: datetime, end: datetime) -> float:
    """Office time between two moments in working days (the inverse of WorkCalendar.add_working_days)."""
    if end <= start:
        return 0.0
    minutes = 0.0
    day = start.date()
    while day <= end.date():
        if work.is_workday(day):
            opens = datetime.combine(day, calendar.OFFICE_OPENS)
            closes = datetime.combine(day, calendar.OFFICE_CLOSES)
            low, high = max(opens, start), min(closes, end)
            if high > low:
                minutes += (high - low).total_seconds() / 60
        day += timedelta(days=1)
    return round(minutes / calendar.OFFICE_MINUTES, 1)


def _counter(codes) -> dict[str, int]:
    return {code: 0 for code in codes}


def _add(counter: dict, key, amount: int) -> None:
    key = UNSET if key is None else key
    counter[key] = counter.get(key, 0) + amount


def monthly(session, month: str, *, ledger: bool = True, ledger_offset: int = 0,
            ledger_limit: int | None = None) -> dict:
    """The month's figures and its ledger. Times are naive local datetimes (the API renders them)."""
    start, end = month_bounds(month)
    as_of = min(end, calendar.local_now())
    C = Complaint
    in_month = and_(C.received_at >= start, C.received_at < end)
    is_overdue = case((overdue_clause(as_of), 1), else_=0)

    departments = dict(session.execute(select(Department.id, Department.name).order_by(Department.id)).all())

    def department_name(department_id):
        return UNSET if department_id is None else departments.get(department_id, str(department_id))

    by_channel, by_category = _counter(m.value for m in Channel), _counter(m.value for m in ComplaintCategory)
    by_severity, by_state = _counter(m.value for m in Severity), _counter(m.value for m in ComplaintState)
    by_department = _counter(departments.values())
    overdue_by_department, overdue_by_state = _counter(departments.values()), _counter(m.value for m in S)
    total = overdue = rehandled = replied = 0
    satisfaction_n = satisfaction_sum = visit_n = visit_sum = process_n = process_sum = 0

    groups = session.execute(
        select(C.channel, C.category, C.severity, C.department_id, C.state,
               func.count().label("n"),
               func.count(C.satisfaction).label("satisfaction_n"),
               func.coalesce(func.sum(C.satisfaction), 0).label("satisfaction_sum"),
               func.count(C.return_visit_satisfaction).label("visit_n"),
               func.coalesce(func.sum(C.return_visit_satisfaction), 0).label("visit_sum"),
               func.count(C.return_visit_process_satisfaction).label("process_n"),
               func.coalesce(func.sum(C.return_visit_process_satisfaction), 0).label("process_sum"),
               func.sum(case((C.rehandling_count > 0, 1), else_=0)).label("rehandled"),
               func.sum(case((or_(C.state.in_(REPLIED_OR_LATER), C.rehandling_count > 0), 1),
                             else_=0)).label("replied"),
               func.sum(is_overdue).label("overdue"))
        .where(in_month)
        .group_by(C.channel, C.category, C.severity, C.department_id, C.state)
    ).all()
    for g in groups:
        n = g.n
        total += n
        _add(by_channel, g.channel, n)
        _add(by_category, g.category, n)
        _add(by_severity, g.severity, n)
        _add(by_state, g.state, n)
        _add(by_department, department_name(g.department_id), n)
        late = int(g.overdue or 0)
        overdue += late
        _add(overdue_by_department, department_name(g.department_id), late)
        _add(overdue_by_state, g.state, late)
        satisfaction_n += g.satisfaction_n
        satisfaction_sum += int(g.satisfaction_sum or 0)
        visit_n += g.visit_n
        visit_sum += int(g.visit_sum or 0)
        process_n += g.process_n
        process_sum += int(g.process_sum or 0)
        rehandled += int(g.rehandled or 0)
        replied += int(g.replied or 0)

    closed, median_days, p90_days = _time_to_close(session, start, end)

    def one_decimal(value):
        return None if value is None else round(value, 1)

    result = {
        "month": f"{start:%Y-%m}",
        "from": start,
        "to": end,
        "as_of": as_of,
        "total": total,
        "by_channel": by_channel,
        "by_category": by_category,
        "by_severity": by_severity,
        "by_department": by_department,
        "by_state": by_state,
        "time_to_close": {"closed": closed, "median_days": one_decimal(median_days),
                          "p90_days": one_decimal(p90_days)},
        "satisfaction": {"answers": satisfaction_n,
                         "average": round(satisfaction_sum / satisfaction_n, 2) if satisfaction_n else None},
        "return_visit_satisfaction": {"answers": visit_n,
                                      "average": round(visit_sum / visit_n, 2) if visit_n else None},
        # ISO 10002: satisfaction with how the complaint was handled, asked apart from the result.
        "process_satisfaction": {"answers": process_n,
                                 "average": round(process_sum / process_n, 2) if process_n else None},
        # Closed unresolved (the routes explained to the customer) is counted apart, not as resolved.
        "closed_unresolved": by_state.get(S.CLOSED_UNRESOLVED, 0),
        "overdue": {"total": overdue, "by_department": overdue_by_department, "by_state": overdue_by_state},
        "rehandling": {"rehandled": rehandled, "replied": replied,
                       "rate": round(rehandled / replied, 3) if replied else None},
        "ledger_total": total,
    }
    if ledger:
        result["ledger"] = ledger_rows(session, start, end, as_of, offset=ledger_offset, limit=ledger_limit)
    return result


def _time_to_close(session, start: datetime, end: datetime) -> tuple[int, float | None, float | None]:
    """(complaints closed in [start, end) — closed unresolved counted apart —, median and 90th-percentile days from receipt to closing).
    PostgreSQL computes the percentiles itself (one row instead of the month's closings: measured, 50,000
    rows cost ~0.2 s to fetch); SQLite has no percentile function, so the closings are fetched."""
    C = Complaint
    in_month = and_(C.closed_at >= start, C.closed_at < end, C.state != S.CLOSED_UNRESOLVED)
    if session.get_bind().dialect.name == "postgresql":
        days = cast(func.extract("epoch", C.closed_at - C.received_at), Float) / 86400
        row = session.execute(select(func.count(), func.percentile_cont(0.5).within_group(days),
                                     func.percentile_cont(0.9).within_group(days)).where(in_month)).one()
        return row[0], row[1], row[2]
    closings = session.execute(select(C.received_at, C.closed_at).where(in_month)).all()
    days = sorted((row.closed_at - row.received_at).total_seconds() / 86400 for row in closings)
    return len(days), percentile(days, 0.5), percentile(days, 0.9)


def ledger_rows(session, start: datetime, end: datetime, as_of: datetime, *, offset: int = 0,
                limit: int | None = None) -> list[dict]:
    """The complaint ledger: one row per complaint received in [start, end), in order of receipt."""
    C = Complaint
    query = (
        select(C.id, C.received_at, C.channel, Customer.name.label("customer"), Project.name.label("project"),
               Building.name.label("building"), Unit.number.label("unit"), C.category, C.severity,
               func.substr(C.content, 1, SUMMARY_CHARS).label("summary"), Department.name.label("department"),
               C.state, C.closed_at, C.satisfaction, case((overdue_clause(as_of), True), else_=False).label("late"),
               User.first_name, User.last_name, User.username)
        .join(Customer, Customer.id == C.customer_id)
        .outerjoin(Unit, Unit.id == C.unit_id)
        .outerjoin(Building, Building.id == Unit.building_id)
        .outerjoin(Project, Project.id == Building.project_id)
        .outerjoin(Department, Department.id == C.department_id)
        .join(User, User.id == C.first_responsible_id)
        .where(C.received_at >= start, C.received_at < end)
        .order_by(C.received_at, C.id)
        .offset(max(0, int(offset or 0)))
    )
    if limit is not None:
        query = query.limit(max(0, int(limit)))
    work = calendar.WorkCalendar(session)
    rows = []
    for row in session.execute(query):
        rows.append({
            "id": row.id,
            "number": Complaint.number.fget(row),
            "received_at": row.received_at,
            "channel": row.channel,
            "customer": row.customer,
            "unit": " ".join(part for part in (row.project, row.building, row.unit) if part) or None,
            "category": row.category,
            "severity": row.severity,
            "summary": row.summary,
            "department": row.department,
            "state": row.state,
            "closed_at": row.closed_at,
            "working_days": working_days_between(work, row.received_at, row.closed_at) if row.closed_at else None,
            "satisfaction": row.satisfaction,
            "overdue": bool(row.late),
            "first_responsible": display_name(row.first_name, row.last_name, row.username),  # a name, not a login
        })
    return rows


def jsonable(value):
    """Datetimes and dates as ISO text, recursively (for the JSON API)."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value
