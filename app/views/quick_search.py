"""The lists' quick-search box and their active filters, shown above the list with a way to clear each.

The box's text becomes one FAB filter (`_flt_0_quick`), so it pages, combines with the other filters and
reaches the CSV export like any filter; what it means is app.domain.search's (one parser for every list).
"""

from __future__ import annotations

import re

from flask import redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.models.sqla.filters import BaseFilter
from flask_babel import lazy_gettext as _l
from wtforms import StringField

from app.domain import search

QUICK = "quick"
_FILTER_ARG = re.compile(r"_flt_(\d+)_(\w+)")


def quick_filter(target: search.Target) -> type[BaseFilter]:
    """A FAB filter for one list's search box (its model's number, customers, units and text)."""

    class FilterQuick(BaseFilter):
        name = _l("Matches")
        arg_name = "kefu_quick"

        def apply(self, query, value):
            found = search.condition(self.datamodel.session, target, value)
            return query if found is None else query.filter(found)

    return FilterQuick


def _value_text(view, column: str, value: str) -> str:
    field = (view.search_form_extra_fields or {}).get(column)  # an unbound field: its arguments as given
    choices = (getattr(field, "kwargs", None) or {}).get("choices") or ()
    for code, label in choices:
        if str(code) == value:
            return str(label)
    return value


def _column_label(view, column: str) -> str:
    if column == QUICK:
        return str(_l("Search"))
    field = (view.search_form_extra_fields or {}).get(column)
    label = getattr(field, "args", None)
    if label:
        return str(label[0])
    return str((view.label_columns or {}).get(column, column))


def active_filters(view) -> list[dict]:
    """The filters of the current list request: what each is and a link to the list without it."""
    endpoint = f"{type(view).__name__}.list"
    kept = {k: v for k, v in request.args.items() if not k.startswith("page_")}
    found = []
    for key, value in request.args.items():
        match = _FILTER_ARG.fullmatch(key)
        if not match or value == "":
            continue
        column, index = match.group(2), int(match.group(1))
        label = _column_label(view, column)
        kinds = view._filters.get_search_filters().get(column) or []
        if 0 < index < len(kinds):  # «状态 不等于», not only «状态» (the first kind is the plain one)
            label = f"{label} {kinds[index].name}"
        without = {k: v for k, v in kept.items() if k != key}
        found.append({"key": key, "label": label, "value": _value_text(view, column, value),
                      "clear_url": url_for(endpoint, **without)})
    return found


def clear_all_url(view) -> str:
    kept = {k: v for k, v in request.args.items() if not _FILTER_ARG.fullmatch(k) and not k.startswith("page_")}
    return url_for(f"{type(view).__name__}.list", **kept)


class QuickSearchMixin:
    """A list with the search box on top (`q` becomes `_flt_0_quick`, the other filters kept) and its active
    filters shown above it. The view's datamodel has a `quick` virtual column filtered by `quick_filter`."""

    quick_search_placeholder = _l("Number, customer's name or full phone, unit, or words")

    @expose("/list/")
    @has_access
    def list(self):
        if "q" in request.args:
            args = {k: v for k, v in request.args.items()
                    if k != "q" and k != f"_flt_0_{QUICK}" and not k.startswith("page_")}
            if request.args["q"].strip():
                args[f"_flt_0_{QUICK}"] = request.args["q"].strip()
            return redirect(url_for(".list", **args))
        widgets = self._list()
        return self.render_template(
            self.list_template, title=self.list_title, widgets=widgets, quick_search_columns=True,
            quick_search_placeholder=self.quick_search_placeholder,
            quick_search_value=request.args.get(f"_flt_0_{QUICK}", ""),
            active_filters=active_filters(self), clear_filters_url=clear_all_url(self))


def quick_search_field():
    """The search box's own field in FAB's search form (so that the filter is a known search column)."""
    return StringField(_l("Search"))
