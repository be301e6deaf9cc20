"""Bad input is a 4xx with a Chinese message, never a 500 — in one place for the whole app.

- Ids: every URL argument that names a record (`pk`, `*_id`) must be a whole number an INTEGER id
  holds; anything else is "not found" before a view runs (2^70 crashed SQLite, 2^31 PostgreSQL).
- JSON writes under /api/: the body must be a JSON object (FAB's own security API crashed on arrays).
- HTML lists: page, page size, sort column and direction, filter column and index, and the action of
  `action_post` are checked against the view before FAB parses them with int() or looks them up.
- Error answers: 400/404/405/413/415 and RecursionError (rison nesting) are JSON `{"message"}` under
  /api/ and a page elsewhere; an exception FAB's `@safe` caught is mapped the same way, and anything
  else stays a 500 — logged with its traceback (by Flask or by `@safe`), answered without details.
429 (rate limits) is left to the login limiter's own handler.
"""

from __future__ import annotations

import logging
import re
import sys

from flask import Flask, abort, current_app, g, render_template, request
from flask_appbuilder import ModelView
from flask_appbuilder.api import BaseApi
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app.domain import privacy
from app.domain.errors import DomainError
from app.domain.fields import MAX_ID

log = logging.getLogger(__name__)

HANDLED = (400, 403, 404, 405, 413, 415)
MESSAGES = {
    400: _l("The request is not valid."),
    403: _l("Your role may not open this page or take this action."),
    404: _l("The page or record was not found."),
    405: _l("This method is not allowed here."),
    415: _l("Please send the fields as a JSON object."),
    500: _l("An internal error occurred. It has been logged; please try again later."),
}
NESTED_TOO_DEEP = _l("The query is nested too deeply.")
JSON_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The API login answers a body that is not an object itself, naming what it needs (username, password).
CHECKS_ITS_OWN_BODY = frozenset({"SecurityApi.login"})
_ID_ARG = re.compile(r"^(pk|id|\w+_id)$")
_INT = re.compile(r"^-?\d{1,19}$")
_PAGING = re.compile(r"^(page|psize)_(\w+)$")
_ORDER = re.compile(r"^_(oc|od)_(\w+)$")
_FILTER = re.compile(r"^_flt_(\d+)_(.+)$")


def install(app: Flask) -> None:
    app.url_value_preprocessor(_refuse_bad_ids)
    app.before_request(_refuse_bad_input)
    for code in HANDLED:
        app.register_error_handler(code, _answer_http_error)
    app.register_error_handler(RecursionError, _answer_recursion)
    app.register_error_handler(500, _answer_server_error)
    BaseApi.response_500 = _response_500


def _is_api() -> bool:
    return request.path.startswith("/api/")


def message_for(status: int, error: HTTPException | None = None) -> str:
    if error is not None and error.description is not None and not isinstance(error.description, str):
        return str(error.description)
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return gettext("The upload is too large (at most %(size)s MB).", size=limit // (1024 * 1024))
    return str(MESSAGES.get(status, MESSAGES[400]))


def answer(status: int, message: str):
    if _is_api():
        return {"message": message}, status
    appbuilder = current_app.appbuilder
    if "user" not in g:  # refused before FAB's before_request set it (the menu needs it)
        g.user = current_user
    return render_template("kefu/error.html", status=status, message=message,
                           base_template=appbuilder.base_template, appbuilder=appbuilder), status


def _answer_http_error(error: HTTPException):
    # Our own aborts carry a translated (lazy) description; Werkzeug's are English strings.
    return answer(error.code, message_for(error.code, error))


def _answer_recursion(error: RecursionError):
    log.warning("Refused a request nested too deeply: %s %s", request.method, request.path)
    return answer(400, str(NESTED_TOO_DEEP))


def _answer_server_error(error):
    # Flask has logged the exception with its traceback before calling this handler.
    return answer(500, str(MESSAGES[500]))


def _response_500(self, message=None):
    """FAB's `@safe` turns every exception into a 500 (after logging it): an HTTP error a client caused
    (415 for a body that is not JSON) or a rison argument nested past the recursion limit keeps its 4xx."""
    error = sys.exc_info()[1]
    if isinstance(error, HTTPException) and error.code < 500:
        return self.response(error.code, message=message_for(error.code, error))
    if isinstance(error, RecursionError):
        return self.response(400, message=str(NESTED_TOO_DEEP))
    return self.response(500, message=str(MESSAGES[500]))


# --- input checks before any view runs ---------------------------------------------------------

def _refuse_bad_ids(endpoint, values) -> None:
    """Record ids are whole numbers within an INTEGER: anything else names no record (404)."""
    for name, value in (values or {}).items():
        if not _ID_ARG.match(name):
            continue
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and _INT.match(value):
            number = int(value)
        else:
            abort(404)
        if abs(number) > MAX_ID:
            abort(404)


def _refuse_bad_input():
    if _is_api():
        if request.endpoint in CHECKS_ITS_OWN_BODY:
            return None
        if request.method in JSON_WRITES and request.is_json and request.content_length:
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                abort(400, MESSAGES[415])
            if _has_huge_integer(body):
                abort(400, _l("A number in the request is too large."))
        return None
    view = _model_view()
    if view is None:
        return None
    if request.endpoint.endswith(".action_post") and request.method == "POST":
        if request.form.get("action") not in (view.actions or {}):
            abort(400, _l("This action does not exist."))
    if request.method == "GET":
        _check_list_arguments(view)
    return None


def _has_huge_integer(node) -> bool:
    """An integer no id column holds (ids in a body as in a URL) would crash the database driver."""
    if isinstance(node, dict):
        return any(_has_huge_integer(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_huge_integer(v) for v in node)
    return isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_ID


def _model_view() -> ModelView | None:
    views = current_app.extensions.get("kefu_model_views")
    if views is None:
        views = current_app.extensions["kefu_model_views"] = {
            v.endpoint: v for v in current_app.appbuilder.baseviews if isinstance(v, ModelView)}
    return views.get(request.blueprint) if request.blueprint else None


def _check_list_arguments(view: ModelView) -> None:
    """FAB parses these with int() and trusts the column names: a page, page size or filter index that
    is not a number, a sort column or filter column the view does not offer is a 400."""
    search = None
    for arg, value in request.args.items(multi=True):
        if (found := _PAGING.match(arg)) is not None:
            if not value.isdigit() or len(value) > 9:
                abort(400)
        elif (found := _ORDER.match(arg)) is not None:
            if found.group(2) != view.__class__.__name__:
                continue
            if found.group(1) == "od" and value not in ("asc", "desc"):
                abort(400)
            if found.group(1) == "oc" and value not in (view.order_columns or []):
                _refuse_personal(privacy.check_order, view.datamodel.obj, value)
                abort(400)
        elif (found := _FILTER.match(arg)) is not None:
            if search is None:
                search = view._filters.get_search_filters()
            column, index = found.group(2), int(found.group(1)[:3])
            if privacy.is_personal_column(view.datamodel.obj, column):
                continue  # KefuFilters (app.views.base) maps or refuses it, with the reason
            if column not in search or index >= len(search[column]):
                abort(400)


def _refuse_personal(check, *args) -> None:
    """A sort or filter the view does not offer because its column is personal data says so (the
    same reason the API gives), instead of the bare «请求无效»."""
    try:
        check(*args)
    except DomainError as err:
        abort(err.status, err.message)
