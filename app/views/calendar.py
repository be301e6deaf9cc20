"""The working-day calendar the Admin maintains: holidays and make-up workdays (调休).

`CalendarDayView` lists the dates that differ from Monday–Friday (staff may read it, the Admin edits
it); `CalendarYearView` (Admin only) lists the years whose holidays are in the table. A year missing
from it counts as plain Monday–Friday, so both lists warn while this year or next year is missing.
"""

from __future__ import annotations

from flask import flash
from flask_appbuilder import expose, has_access
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms.validators import NumberRange
from wtforms.validators import ValidationError as FormValidationError

from app import labels
from app.domain import calendar
from app.domain.worklist import missing_calendar_years
from app.extensions import db
from app.models import CalendarDay, CalendarYear

from .base import DomainModelView, KefuInterface

CALENDAR = labels.CALENDAR


def warn_missing_years() -> None:
    """Flash a warning on the page being rendered for each of this year and next year not in the table."""
    for year in missing_calendar_years(db.session, calendar.local_now()):
        flash(str(_l("%(year)s is not in the working-day calendar: deadlines in %(year)s count plain Monday "
                     "to Friday until its public holidays and make-up workdays are entered (the Admin runs "
                     "`flask --app run calendar seed` or adds them here, then adds the year to the calendar "
                     "years).", year=year)), "warning")


class DiffersFromMondayToFriday:
    """A row says how a date differs from Monday–Friday: a holiday falls on a weekday, a make-up
    workday on a weekend (anything else would change nothing)."""

    def __call__(self, form, field):
        day = form.day.data if "day" in form else None
        if day is None:
            return
        weekend = day.weekday() >= 5
        if field.data and not weekend:
            raise FormValidationError(str(_l("A make-up workday falls on a Saturday or Sunday.")))
        if not field.data and weekend:
            raise FormValidationError(str(_l("A holiday in this table falls on a weekday (Monday to Friday); "
                                             "weekends are days off anyway.")))


class WarnMissingYearsMixin:
    @expose("/list/")
    @has_access
    def list(self):
        warn_missing_years()
        return super().list()


class CalendarDayView(WarnMissingYearsMixin, DomainModelView):
    datamodel = KefuInterface(CalendarDay)
    route_base = "/calendarday"
    list_title = _l("Working-day calendar")
    show_title = _l("Calendar day")
    add_title = _l("New holiday or make-up workday")
    edit_title = _l("Edit calendar day")
    label_columns = CALENDAR
    description_columns = {
        "day": _l("A weekday that is a public holiday, or a weekend day that is a make-up workday (调休)."),
        "is_workday": _l("Ticked: a make-up workday on a weekend; not ticked: a holiday on a weekday."),
    }
    list_columns = ["day", "is_workday", "name"]
    add_columns = edit_columns = ["day", "is_workday", "name"]
    show_columns = ["day", "is_workday", "name", "updated_at", "version"]
    # FAB would make a NOT NULL checkbox required, which refuses every holiday (an unticked box).
    add_form_extra_fields = {"is_workday": BooleanField(
        CALENDAR["is_workday"], description=description_columns["is_workday"],
        validators=[DiffersFromMondayToFriday()])}
    edit_form_extra_fields = {**DomainModelView.edit_form_extra_fields, **add_form_extra_fields}
    # FAB's date filters (greater than, smaller than) together give a date range.
    search_columns = ["day", "name", "is_workday"]
    order_columns = ["day", "name"]
    base_order = ("day", "desc")
    page_size = 50


class CalendarYearView(WarnMissingYearsMixin, DomainModelView):
    datamodel = KefuInterface(CalendarYear)
    route_base = "/calendaryear"
    list_title = _l("Calendar years")
    show_title = _l("Calendar year")
    add_title = _l("Mark a year as entered")
    edit_title = _l("Edit calendar year")
    label_columns = CALENDAR
    description_columns = {
        "year": _l("Add a year once all its holidays and make-up workdays are in the calendar."),
        "source": _l("Where the dates came from, e.g. chinesecalendar or the State Council notice."),
    }
    validators_columns = {"year": [NumberRange(min=2000, max=2100)]}
    list_columns = ["year", "source", "updated_at"]
    add_columns = edit_columns = ["year", "source"]
    show_columns = ["year", "source", "updated_at", "version"]
    search_columns = ["year", "source"]
    order_columns = ["year"]
    base_order = ("year", "desc")


def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category or None) for
    each one added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    category, category_label = "Organisation", _l("Organisation")
    appbuilder.add_view(CalendarDayView, "Calendar", label=_l("Working-day calendar"), icon="fa-calendar",
                        category=category, category_label=category_label)
    appbuilder.add_view(CalendarYearView, "Calendar years", label=_l("Calendar years"),
                        icon="fa-calendar-check-o", category=category, category_label=category_label)
    return [(CalendarDayView, "Calendar", category), (CalendarYearView, "Calendar years", category)]
