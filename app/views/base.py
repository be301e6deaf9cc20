"""The base of every HTML view: FAB's ModelView made to go through the domain layer.

- queries go through KefuInterface: department scope, the count cap, related columns loaded with the page;
- the form fields carry the domain's field rules (one place: app.domain.rules) as WTForms validators;
- saving checks the optimistic lock (a hidden `version` field) and flushes through the domain, so a
  refused save is flashed in the user's language and nothing is written;
- personal data is masked in lists, detail pages and edit forms; the detail page shows the record's
  audit history.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from datetime import date
from decimal import Decimal

from flask import Response, abort, current_app, request, send_file, url_for
from flask_appbuilder import ModelView, expose, has_access, permission_name
from flask_appbuilder.models.filters import Filters
from flask_appbuilder.models.sqla.filters import (
    BaseFilter,
    FilterContains,
    FilterEqual,
    SQLAFilterConverter,
    get_field_setup_query,
)
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.sqla.models import Role as _FabRole
from flask_appbuilder.urltools import get_filter_args
from flask_appbuilder.widgets import ListWidget
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import inspect, select
from wtforms import HiddenField
from wtforms.validators import ValidationError as FormValidationError

from app import audit, labels
from app.domain import calendar, privacy, records, scope
from app.domain.errors import DomainError
from app.domain.people import display_name
from app.domain.privacy import mask
from app.domain.rules import rules_for
from app.extensions import db
from app.models import AuditLog

HISTORY_LIMIT = 200


class RelatedTextFilter(BaseFilter):
    """A text box that filters on related records (never a drop-down of a whole related table).
    Subclasses set `name`, `arg_name` and `condition(value)`; blank input filters nothing."""

    def condition(self, value: str):
        raise NotImplementedError

    def apply(self, query, value):
        value = (value or "").strip()
        return query.filter(self.condition(value)) if value else query


class FilterContainsText(FilterContains):
    """"Contains" as a plain LIKE: Chinese text has no case, and ILIKE (lower() on SQLite) kept the
    planner from cheaper matching (measured 204 ms -> 66 ms on PostgreSQL for 1M customers).
    `autoescape` keeps a typed % or _ from acting as a wildcard."""

    def apply(self, query, value):
        query, field = get_field_setup_query(query, self.model, self.column_name)
        return query.filter(field.contains(value, autoescape=True))


class KefuFilterConverter(SQLAFilterConverter):
    """FAB's filters, except where the interface names its own for a column (no whole-table drop-downs).

    FAB converts every column of the model into filter objects on each list request (about 150 for a
    complaint list); filters hold no state, so each interface keeps its conversions. A new list is
    returned each time because FAB extends the list it gets (`_search_filters[k] += v`)."""

    def convert(self, col_name):
        converted = self.datamodel.converted_filters
        if col_name not in converted:
            converted[col_name] = self._convert(col_name)
        found = converted[col_name]
        return list(found) if found is not None else None

    def _convert(self, col_name):
        if privacy.is_personal_column(self.datamodel.obj, col_name):
            return [FilterEqual(col_name, self.datamodel)]  # masked: the full value only, whatever a view adds
        custom = getattr(self.datamodel, "custom_filters", {}).get(col_name)
        if custom:
            return [f(col_name, self.datamodel) for f in custom]
        filters = super().convert(col_name)
        if filters and (self.datamodel.is_string(col_name) or self.datamodel.is_text(col_name)):
            return [FilterContainsText(col_name, self.datamodel) if type(f) is FilterContains else f
                    for f in filters]
        return filters


class KefuFilters(Filters):
    """FAB's filters, refusing (in the user's language) any search of a masked column but equality, as the
    HTML list's `_flt_<index>_<col>` or the API's rison `(col:…,opr:…)` asks for it: FAB would answer an
    operator the converter did not offer with an English 400 (API) or an IndexError (HTML)."""

    def add_filter_index(self, column_name, filter_instance_index, value):
        found = self._all_filters.get(column_name) or []
        operator = found[filter_instance_index].arg_name if 0 <= filter_instance_index < len(found) else None
        if operator is None and privacy.is_personal_column(self.datamodel.obj, column_name):
            # A link made before masked columns lost FAB's other filters: FAB's position of "equal to"
            # (3 for text) still means equality (the quick search wrote `_flt_3_mobile=<full number>`).
            # The classes are read, not instantiated: FAB registers every instance's arg_name globally.
            fab = next((classes for test, classes in SQLAFilterConverter.conversion_table
                        if getattr(self.datamodel, test)(column_name)), [])
            if 0 <= filter_instance_index < len(fab) and fab[filter_instance_index].arg_name == privacy.EXACT_MATCH:
                operator, filter_instance_index = privacy.EXACT_MATCH, 0
        privacy.check_search(self.datamodel.obj, column_name, operator)
        super().add_filter_index(column_name, filter_instance_index, value)

    def rest_add_filters(self, data):
        for item in data if isinstance(data, list) else ():
            if isinstance(item, dict):
                privacy.check_search(self.datamodel.obj, item.get("col"), item.get("opr"))
                if item.get("opr") in LIST_OPERATORS and not _list_of_values(item.get("value")):
                    abort(400, _l("This filter takes a list of values."))  # FAB's `in_(2)` crashed
        super().rest_add_filters(data)


LIST_OPERATORS = ("in", "not_in")


def _list_of_values(value) -> bool:
    return isinstance(value, list) and all(v is None or isinstance(v, (str, int, float)) for v in value)


class KefuInterface(SQLAInterface):
    filter_converter_class = KefuFilterConverter

    def __init__(self, obj, session=None, custom_filters=None, eager=()):
        self.custom_filters = custom_filters or {}
        self.eager = tuple(eager)  # loader options, so related columns come with the page (no query per row)
        self.converted_filters: dict[str, list | None] = {}  # KefuFilterConverter's, per column
        super().__init__(obj, session)

    def get_filters(self, search_columns=None, search_filters=None):
        return KefuFilters(self.filter_converter_class, self, search_columns, search_filters)

    def _apply_inner_all(self, query, filters=None, *args, **kwargs):
        # The last line of defence for masked columns, whatever built the filters (lists, API, exports).
        for flt in getattr(filters, "filters", ()):
            privacy.check_search(self.obj, flt.column_name, flt.arg_name)
        query = scope.restrict(query, self.obj, audit.request_actor_resolver(), self.session)
        query = self._narrow_search(query, filters)
        return super()._apply_inner_all(query, filters, *args, **kwargs)

    # {column: condition(session, actor)}: a search on one of these columns matches only the rows where the
    # condition holds (FAB swaps a filter for its own class of the same operator, so it is applied here).
    narrowed_search: dict = {}

    def _narrow_search(self, query, filters):
        conditions = {self.narrowed_search[flt.column_name] for flt in getattr(filters, "filters", ())
                      if flt.column_name in self.narrowed_search}
        for condition in conditions:
            query = query.filter(condition(self.session, audit.request_actor_resolver()))
        return query

    def apply_order_by(self, query, order_column, *args, **kwargs):
        privacy.check_order(self.obj, order_column)  # sorting would reveal a masked value by bisection
        return super().apply_order_by(query, order_column, *args, **kwargs)

    def apply_all(self, query, *args, **kwargs):
        return super().apply_all(query, *args, **kwargs).options(*self.eager)

    # A page far beyond the last row is an empty page, not a database error: the offset is kept within a
    # 64-bit integer (page 2986259073561879040 of 100 rows overflowed SQLite's INTEGER: a 500, found by
    # schemathesis).
    MAX_OFFSET = 2**62

    def apply_pagination(self, query, page, page_size):
        if page and page_size and page * page_size > self.MAX_OFFSET:
            return query.offset(self.MAX_OFFSET).limit(page_size)
        return super().apply_pagination(query, page, page_size)

    def query_count(self, query, filters=None, select_columns=None) -> int:
        """Count at most KEFU_COUNT_CAP + 1 rows: a list never counts a million rows to say "10,000+"."""
        cap = current_app.config["KEFU_COUNT_CAP"]
        # Without the API's joins for related columns (customer.name, department.name): a many-to-one
        # join never changes the count, and filters add the joins they need. Measured on 1M complaints
        # (make bench, PostgreSQL): the API list page spent 7.0 ms in the database, the raw SQL 1.9 ms.
        inner = self._apply_inner_all(query, filters, select_columns=None, aliases_mapping={})
        # Count primary keys only: measured, counting whole rows cost SQLite 4.8 ms instead of 0.5 ms.
        return inner.order_by(None).with_entities(self.obj.id).limit(cap + 1).count()

    def delete(self, item, commit: bool = True) -> None:
        """DomainModelView.pre_delete has already deleted the item through the domain (flushed); a
        second session.delete would issue a DELETE matching no row (StaleDataError): only commit."""
        if inspect(item).deleted:
            if commit:
                self.session.commit()
            return
        super().delete(item, commit)


def may_reveal() -> bool:
    """Whether the current user's role may reveal personal data: the domain's decision (app.domain.privacy),
    asked here to offer the reveal buttons; revealing itself is checked again by the domain."""
    return privacy.may_reveal(db.session, current_app.appbuilder.sm.current_user)


def china_time(value, seconds: bool = False) -> str:
    """A moment stored in UTC (bookkeeping columns, approvals, the audit trail) as shown: China time, like
    every other time on the pages and on paper."""
    if not value:
        return ""
    local = calendar.from_utc(value)
    return f"{local:%Y-%m-%d %H:%M:%S}" if seconds else f"{local:%Y-%m-%d %H:%M}"


def shown(value):
    """What a template prints for a value (Jinja's `finalize`, set in create_app): nothing for None, 是/否
    for a boolean, so no page says «None», «True» or «False»; anything else as it is."""
    if value is None:
        return ""
    if value is True or value is False:
        return str(labels.YES if value else labels.NO)
    if isinstance(value, list):  # a to-many column (a user's roles): its items in words, not a Python list
        return "、".join(str(shown(item)) for item in value)
    return value


def _people() -> list:
    from flask import g
    from flask_appbuilder.security.sqla.models import User

    if "kefu_people" not in g:  # a handful of users: read once per request
        g.kefu_people = db.session.execute(select(User.id, User.first_name, User.last_name, User.username)).all()
    return g.kefu_people


def user_names_by_id() -> dict[int, str]:
    return {r.id: display_name(r.first_name, r.last_name, r.username) for r in _people()}


def person_by_login(login) -> str:
    """A person named by a login name (stored beside the id on approvals and audit rows) as the pages
    name people: by their name; the system's own writes as «系统»."""
    if not login:
        return ""
    if login == "system":
        return str(_l("System"))
    found = {r.username: display_name(r.first_name, r.last_name, r.username) for r in _people()}
    return found.get(login, login)


def as_code(value):
    """A code (a department's SALES, a project's HPY) as it is, marked as a code: not a word to translate."""
    return Markup('<span translate="no" class="kefu-code">{}</span>').format(value) if value else ""


def format_utc_minute(value) -> str:
    """Bookkeeping times are stored in UTC; shown to the minute in China time."""
    return china_time(value)


class RuleValidator:
    """A WTForms validator that runs the domain's rule for one field, for a message beside the field."""

    def __init__(self, model, field_name, normalise, checks):
        self.model, self.field_name, self.normalise, self.checks = model, field_name, normalise, checks

    def __call__(self, form, field):
        value = field.data
        if isinstance(value, str) and self.normalise:
            value = self.normalise(value) or None
        if self._is_unchanged_mask(form, value):
            return
        for check in self.checks:
            message = check(value)
            if message:
                raise FormValidationError(str(message))

    def _is_unchanged_mask(self, form, value) -> bool:
        pk = getattr(form, "_id", None)
        if pk is None or not isinstance(value, str) or "*" not in value:
            return False
        if self.field_name not in getattr(self.model, "__personal_fields__", ()):
            return False
        original = db.session.execute(
            select(getattr(self.model, self.field_name)).where(self.model.id == pk)
        ).scalar_one_or_none()
        return mask(self.field_name, original) == value


class KefuListWidget(ListWidget):
    template = "kefu/widgets/list.html"


class OverdueListWidget(KefuListWidget):
    """Rows the view marks `overdue` are shown in red (complaints, visits, rectification items, return visits)."""

    template = "kefu/widgets/overdue_list.html"


class CappedListMixin:
    """Page size capped at KEFU_MAX_PAGE_SIZE (FAB's psize_<View> has no bound); capped counts shown as N+."""

    list_widget = KefuListWidget

    def __init__(self, **kwargs):
        # The view's own copy of its labels (a table of app.labels, read-only): FAB adds the labels it
        # makes up for unlabelled columns to label_columns, which must not reach the shared table.
        self.label_columns = dict(self.label_columns or {})
        super().__init__(**kwargs)

    def _get_list_widget(self, **kwargs):
        cap = current_app.config["KEFU_MAX_PAGE_SIZE"]
        kwargs["page_size"] = max(1, min(kwargs.get("page_size") or self.page_size, cap))
        kwargs.setdefault("count_cap", current_app.config["KEFU_COUNT_CAP"])
        kwargs.setdefault("export_endpoint", None)
        return super()._get_list_widget(**kwargs)


FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx cannot hold


def csv_cell(value):
    """A cell as text Excel will not run: a value beginning like a formula gets a leading `'` (OWASP's
    CSV-injection advice). Numbers and dates are written as they are."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal, date)):  # bool and datetime included
        return value
    text = str(value)  # lazy labels too
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


class CsvExportMixin:
    """The filtered list as a CSV file: the same scope and filters as the list page, at most
    `export_limit` rows, opened by Excel as Chinese. The link shows only to a role that may export.
    A view sets `export_filename`, `export_order` and writes `export_table(items)` (header, rows)."""

    export_limit = 10_000
    export_order = ("id", "asc")
    export_filename = "export.csv"

    def export_table(self, items) -> tuple[list[str], list[list]]:
        raise NotImplementedError

    def _get_list_widget(self, **kwargs):
        if current_app.appbuilder.sm.has_access("can_export", self.class_permission_name):
            kwargs.setdefault("export_endpoint", url_for(".export", **request.args))
            kwargs.setdefault("export_xlsx_endpoint", url_for(".export_xlsx", **request.args))
        return super()._get_list_widget(**kwargs)

    @expose("/export/")
    @has_access
    @permission_name("export")
    def export(self):
        get_filter_args(self._filters)
        joined = self._filters.get_joined_filters(self._base_filters)
        _count, items = self.datamodel.query(joined, *self.export_order, page=0, page_size=self.export_limit)
        header, rows = self.export_table(items)
        out = io.StringIO()
        out.write("\ufeff")  # so that Excel opens the UTF-8 file as Chinese
        writer = csv.writer(out)
        writer.writerow([csv_cell(str(value)) for value in header])
        writer.writerows([csv_cell(value) for value in row] for row in rows)
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={self.export_filename}"})

    xlsx_export_limit = 100_000
    xlsx_page = 2_000

    @expose("/export.xlsx")
    @has_access
    @permission_name("export")
    def export_xlsx(self):
        """The same list as the CSV export (same filters, scope, masking and export_table), as an Excel
        sheet: read a page at a time and streamed into a write-only workbook (a temporary file), so that
        100,000 rows are never held in memory at once."""
        get_filter_args(self._filters)
        joined = self._filters.get_joined_filters(self._base_filters)
        pages = (self.datamodel.query(joined, *self.export_order, page=page, page_size=self.xlsx_page)[1]
                 for page in range(-(-self.xlsx_export_limit // self.xlsx_page)))
        path = write_xlsx(self.export_table, pages, str(self.list_title or "")[:31] or "Sheet1")
        name = self.export_filename.rsplit(".", 1)[0] + ".xlsx"
        return xlsx_file(path, name)


def xlsx_cell(sheet, value):
    """A cell Excel will not run: text stays text (openpyxl would store "=..." as a formula, so the cell is
    typed as a string explicitly); numbers and dates keep their type."""
    if value is None or isinstance(value, (int, float, Decimal, date)):
        return float(value) if isinstance(value, Decimal) else value
    cell = WriteOnlyCell(sheet, value=ILLEGAL_XML.sub("", str(value)))  # lazy labels too
    cell.data_type = "s"
    return cell


def write_xlsx(export_table, pages, title: str) -> str:
    """Write the pages of items, each through `export_table` (header, rows), to a temporary .xlsx file."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    header_written = False
    for items in pages:
        if not items and header_written:
            break
        header, rows = export_table(items)
        if not header_written:
            sheet.append([xlsx_cell(sheet, str(h)) for h in header])
            header_written = True
        for row in rows:
            sheet.append([xlsx_cell(sheet, v) for v in row])
        if not items:
            break
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    book.save(path)
    return path


def xlsx_file(path: str, name: str) -> Response:
    """Send the file and remove it: opened first, then unlinked (POSIX keeps it until closed)."""
    stream = open(path, "rb")  # noqa: SIM115 - closed by the response
    os.unlink(path)
    return send_file(stream, as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class DomainModelView(CappedListMixin, ModelView):
    """Subclasses set `datamodel = KefuInterface(Model, ...)`, columns and labels."""

    list_template = "kefu/list.html"
    show_template = "kefu/show.html"
    edit_template = "kefu/edit.html"
    add_template = "kefu/add.html"
    page_size = 25
    edit_form_extra_fields = {"version": HiddenField()}

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        # Every edit form carries the version it read (the optimistic lock), whatever else a view adds.
        self.edit_form_extra_fields = {**(self.edit_form_extra_fields or {}), "version": HiddenField()}
        validators = dict(self.validators_columns or {})
        for field, (normalise, checks) in rules_for(model).items():
            validators.setdefault(field, []).append(RuleValidator(model, field, normalise, checks))
        self.validators_columns = validators
        personal = getattr(model, "__personal_fields__", ())
        formatters = dict(self.formatters_columns or {})
        for stamp in ("created_at", "updated_at"):
            formatters.setdefault(stamp, format_utc_minute)
        formatters.setdefault("code", as_code)
        for column in {*(self.list_columns or ()), *(self.show_columns or ())}:
            if column.endswith("_by_name"):  # a login name stored beside the id: shown as the person's name
                formatters.setdefault(column, person_by_login)
        for field in personal:
            formatters.setdefault(field, lambda value, _f=field: mask(_f, value) or "")
        self.formatters_columns = formatters
        if self.edit_columns and "version" not in self.edit_columns:
            self.edit_columns = [*self.edit_columns, "version"]
        super().__init__(**kwargs)
        self.order_columns = [c for c in self.order_columns if not privacy.is_personal_column(model, c)]

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        for error in (privacy.PersonalDataSearchError, privacy.PersonalDataOrderError):
            blueprint.register_error_handler(error, self._refused_search)
        return blueprint

    def _refused_search(self, err: DomainError):
        """A search or sort of a masked column: refused with the reason, never answered with other rows."""
        return self.render_template("kefu/refused.html", title=self.list_title, message=str(err),
                                    back=url_for(f"{self.endpoint}.list")), err.status

    # --- forms ---------------------------------------------------------------------------
    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk, self._base_filters)
        form.version.data = item.version
        for field in getattr(self.datamodel.obj, "__personal_fields__", ()):
            if field in form:
                form[field].data = mask(field, getattr(item, field))

    def _restore_masked(self, item) -> None:
        """An edit form shows personal data masked; an unchanged masked value keeps the stored one."""
        state = inspect(item)
        for field in getattr(type(item), "__personal_fields__", ()):
            hist = state.attrs[field].history
            if hist.added and hist.deleted and mask(field, hist.deleted[0]) == hist.added[0]:
                setattr(item, field, hist.deleted[0])

    def pre_add(self, item):
        self._through_domain(lambda: records.create(db.session, item, self._actor()))

    def pre_update(self, item):
        self._restore_masked(item)
        self._through_domain(lambda: records.save_loaded(db.session, item, self._actor(),
                                                         request.form.get("version")))

    def pre_delete(self, item):
        self._through_domain(lambda: records.delete(db.session, item, self._actor(), item.version))

    def _through_domain(self, action):
        try:
            action()
        except DomainError:
            db.session.rollback()
            raise

    @staticmethod
    def _actor():
        return current_app.appbuilder.sm.current_user

    # --- detail page with history -----------------------------------------------------------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        from .audit import _person_name, changes_html  # audit.py builds on this module

        pk = self._deserialize_pk_if_composite(pk)
        widgets = self._show(pk)
        history = db.session.execute(
            select(AuditLog)
            .where(AuditLog.table_name == self.datamodel.obj.__table__.name, AuditLog.record_id == str(pk))
            .order_by(AuditLog.seq.desc())
            .limit(HISTORY_LIMIT)
        ).scalars().all()
        personal = [f for f in getattr(self.datamodel.obj, "__personal_fields__", ())
                    if f in (self.show_columns or [])]
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, history=history,
                                    personal_fields=personal if may_reveal() else [],
                                    label_columns=self.label_columns, china_time=china_time,
                                    changes_html=changes_html, person_name=_person_name)


def _role_in_words(role) -> str:
    from app.domain.roles import ROLE_LABELS

    return str(ROLE_LABELS.get(role.name, role.name))


# A role reads as its Chinese label wherever FAB prints one (the users list, the user form's choices, a
# role's page); the stored name stays the contract of `roles sync` and the API.
_FabRole.__str__ = _role_in_words
