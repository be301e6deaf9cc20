"""Bad input is a 4xx with a Chinese message, never a 500 — in one place for the whole app.

- Ids: every URL argument that names a record (`pk`, `*_id`) must be a whole number an INTEGER id
  holds; anything else is "not found" before a view runs (2^70 crashed SQLite, 2^31 PostgreSQL).
- JSON writes under /api/: the body must be a JSON object (FAB's own security API crashed on arrays).
- HTML lists: page, page size, sort column and direction, filter column and index, and the action of
  `action_post` are checked against the view before FAB parses them with int() or looks them up.
- Error answers: every HTTP error (Werkzeug's, Flask's routing 404/405, a 416 of a file's range, our
  aborts) and RecursionError (rison nesting) are JSON `{"message"}` under /api/ (or to a script asking
  for JSON) and a page elsewhere — inside the app's layout (navbar and menu), with its title, the
  reason and the way back; the error's own headers (`Allow` of a 405) are kept. An exception FAB's
  `@safe` caught is mapped the same way, and anything else stays a 500 — logged with its traceback
  (by Flask or by `@safe`), answered without details. When the layout itself cannot be drawn (the
  database is gone), a plain page says the same without it.
- FAB's own refusals: `has_access` flashes «请先登录» on its way to the login page (FAB's «Access is
  Denied» told an anonymous person nothing), an action the role may not take flashes the 403 message,
  and `has_access_api`'s JSON carries the Chinese 401/403 message.
- FAB's own API answers (`response_400/401/403/404/422`, used by its security APIs for users, roles,
  groups, permissions) carry English or marshmallow's per-field object as `message`: the message is
  the Chinese one of the status, FAB's detail goes to `errors` (per field) or `detail`. A write the
  database refuses for a constraint (a duplicate name, an id naming nothing: IntegrityError) or for a
  value it cannot hold (DataError) is the client's: 422 / 400, rolled back, never a 500.
429 (rate limits) keeps the login limiter's own handler (app/__init__.py), which answers through `answer`.
Messages and titles follow the user's locale (Chinese by default; English by `?_l_=en` or the session).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, jsonify, render_template, request
from flask_appbuilder import ModelView
from flask_appbuilder import views as fab_views
from flask_appbuilder.api import BaseApi, ModelRestApi
from flask_appbuilder.charts.views import GroupByChartView
from flask_appbuilder.security import decorators as fab_decorators
from flask_appbuilder.security.decorators import has_access, protect
from flask_appbuilder.security.sqla.apis import UserApi
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join

from app.domain import privacy
from app.domain.errors import DomainError
from app.domain.fields import MAX_ID
from app.extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: _l("The request is not valid."),
    401: _l("Please log in to continue."),
    403: _l("Your role may not open this page or take this action."),
    404: _l("The page or record was not found."),
    405: _l("This method is not allowed here."),
    415: _l("Please send the fields as a JSON object."),
    416: _l("The requested part of the file is not available."),
    500: _l("An internal error occurred. It has been logged; please try again later."),
    503: _l("The service is unavailable for a moment. Please try again later."),
}
# The heading of an error page; a status not named here takes its class's (4xx: 400, 5xx: 500).
TITLES = {
    400: _l("Request not accepted"),
    401: _l("Login required"),
    403: _l("No access"),
    404: _l("Page or record not found"),
    405: _l("Method not supported"),
    413: _l("Upload too large"),
    429: _l("Too many attempts"),
    500: _l("System error"),
}
API_MESSAGES = {
    400: MESSAGES[400],
    401: MESSAGES[401],
    403: MESSAGES[403],
    404: MESSAGES[404],
    422: _l("Some fields are not valid; nothing was saved."),
}
CONFLICT = _l("This conflicts with an existing record (a name already taken) or names a record that does not "
              "exist; nothing was saved.")
NESTED_TOO_DEEP = _l("The query is nested too deeply.")
JSON_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ID_ARG = re.compile(r"^(pk|id|\w+_id)$")
_INT = re.compile(r"^-?\d{1,19}$")
_PAGING = re.compile(r"^(page|psize)_(\w+)$")
_ORDER = re.compile(r"^_(oc|od)_(\w+)$")
_FILTER = re.compile(r"^_flt_(\d+)_(.+)$")


def install_fab_routes() -> None:
    """Before AppBuilder registers its views: FAB's routes that crash on an address naming nothing
    check it first — after FAB's permission check (the refusal stays the table's), before FAB's code.
    - `download/<filename>` (every ModelView; Kefu stores no FAB file columns): a name that is not an
      uploaded file's (no `_sep_`: IndexError) or names no file (FileNotFoundError) is a 404;
    - `chart/<group_by>` of the admin's charts (GroupByChartView, DirectByChartView): the chart's
      number among its definitions, else 404 (int("active") and definitions[9] crashed);
    - the security API's `PUT /users/<pk>`: a user that does not exist is a 404 (FAB set its fields on None)."""
    _guard_route(ModelView, "download", _check_download)
    _guard_route(GroupByChartView, "chart", _check_chart)
    _guard_route(UserApi, "put", _check_record, protect())


def _guard_route(cls, name: str, check, guard=has_access) -> None:
    routed = cls.__dict__[name]
    if getattr(routed, "_kefu_guarded", False):  # an earlier create_app() guarded it
        return
    inner = routed.__wrapped__  # FAB's function under its permission check (@has_access, @protect)

    @functools.wraps(inner)
    def checked(self, *args, **kwargs):
        check(self, *args, **kwargs)
        return inner(self, *args, **kwargs)

    guarded = guard(checked)
    guarded._urls = routed._urls
    guarded._kefu_guarded = True
    setattr(cls, name, guarded)


def _check_download(view, filename: str) -> None:
    folder = current_app.config.get("UPLOAD_FOLDER")
    path = safe_join(folder, filename) if folder and "_sep_" in filename else None
    if path is None or not os.path.isfile(path):
        abort(404)


def _check_record(api, pk) -> None:
    if api.datamodel.get(pk, api._base_filters) is None:
        abort(404)


def _check_chart(view, group_by=0) -> None:
    if not str(group_by).isdigit() or int(group_by) >= len(view.definitions):
        abort(404)


def install(app: Flask) -> None:
    app.url_value_preprocessor(_refuse_bad_ids)
    app.before_request(_refuse_bad_input)
    # Every HTTP error, whatever its code (a handler for a code, such as 429's, still comes first).
    app.register_error_handler(HTTPException, _answer_http_error)
    app.register_error_handler(RecursionError, _answer_recursion)
    app.register_error_handler(500, _answer_server_error)
    BaseApi.response_500 = _response_500
    for status in API_MESSAGES:
        setattr(BaseApi, f"response_{status}", _fab_response(status))
    # FAB's decorators and views read these names when they refuse (module globals, looked up per call).
    fab_decorators.FLAMSG_ERR_SEC_ACCESS_DENIED = MESSAGES[401]  # has_access: flashed on the way to log in
    fab_decorators.response_unauthorized_mvc = _unauthorized_mvc  # has_access_api
    fab_views.FLAMSG_ERR_SEC_ACCESS_DENIED = MESSAGES[403]  # an action (action/, action_post) refused


def _is_api() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    """JSON under /api/, and for a script that asks for it (an XHR, or JSON preferred to HTML)."""
    if _is_api() or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return True
    return request.accept_mimetypes.best_match(("text/html", "application/json"), "text/html") == "application/json"


def message_for(status: int, error: HTTPException | None = None) -> str:
    if error is not None and error.description is not None and not isinstance(error.description, str):
        return str(error.description)
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        return gettext("The upload is too large (at most %(size)s MB).", size=limit // (1024 * 1024))
    return str(MESSAGES.get(status) or MESSAGES[500 if status >= 500 else 400])


def title_for(status: int) -> str:
    return str(TITLES.get(status) or TITLES[500 if status >= 500 else 400])


def answer(status: int, message: str, headers=None):
    """The refusal: JSON `{"message"}` for the API, else the error page inside the app's layout."""
    if wants_json():
        return jsonify(message=str(message)), status, headers or {}
    return _page(status, str(message)), status, headers or {}


def _page(status: int, message: str) -> str:
    context = dict(status=status, message=message, title=title_for(status), back=_way_back())
    appbuilder = current_app.appbuilder
    try:
        if "user" not in g:  # refused before FAB's before_request set it (the menu needs it)
            g.user = current_user
        return render_template("kefu/error.html", base_template=appbuilder.base_template,
                               appbuilder=appbuilder, **context)
    except Exception:  # noqa: BLE001 - the last answer there is: never Werkzeug's English page
        log.exception("The %s page could not be drawn in the layout; answering the plain page", status)
        _roll_back()
        return render_template("kefu/error_plain.html", lang=str(get_locale() or "zh"), **context)


def _way_back() -> str | None:
    """The page the person came from, when it is one of ours (never another site's address)."""
    came_from = request.referrer
    if not came_from:
        return None
    parts = urlsplit(came_from)
    if parts.scheme not in ("http", "https") or parts.netloc != request.host or parts.path == request.path:
        return None
    return came_from


def _answer_http_error(error: HTTPException):
    # Our own aborts carry a translated (lazy) description; Werkzeug's are English strings. The
    # error's headers stay (a 405's Allow, a 416's Content-Range); the body is ours.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    return answer(error.code, message_for(error.code, error), headers)


def _unauthorized_mvc(status_code: int):
    """FAB's `has_access_api` refusal ({"message": "Access is Denied"}) with the message of its status."""
    return jsonify(message=message_for(status_code), severity="danger"), status_code


def _answer_recursion(error: RecursionError):
    log.warning("Refused a request nested too deeply: %s %s", request.method, request.path)
    return answer(400, str(NESTED_TOO_DEEP))


def _answer_server_error(error):
    # Flask has logged the exception with its traceback before calling this handler. What the failed
    # request left in the session is undone first: the page's menu reads the database.
    _roll_back()
    return answer(500, str(MESSAGES[500]))


def _roll_back() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a connection that is gone: the answer must still go out
        log.exception("Could not roll the session back while answering an error")


def _response_500(self, message=None):
    """FAB's `@safe` turns every exception into a 500 (after logging it): an HTTP error a client caused
    (415 for a body that is not JSON), a rison argument nested past the recursion limit, or a write the
    database refused for its constraints or values keeps its 4xx."""
    error = sys.exc_info()[1]
    if isinstance(error, HTTPException) and error.code < 500:
        return self.response(error.code, message=message_for(error.code, error))
    if isinstance(error, RecursionError):
        return self.response(400, message=str(NESTED_TOO_DEEP))
    refused = _database_refusal(error)
    if refused is not None:
        db.session.rollback()
        log.warning("The database refused a write: %s %s: %s", request.method, request.path, refused)
        return self.response(422, message=str(CONFLICT)) if isinstance(refused, IntegrityError) \
            else self.response(400, message=str(MESSAGES[400]))
    return self.response(500, message=str(MESSAGES[500]))


def _database_refusal(error: BaseException | None) -> DBAPIError | None:
    """The IntegrityError or DataError behind `error` (FAB wraps it in its DatabaseException)."""
    while error is not None:
        if isinstance(error, (IntegrityError, DataError)):
            return error
        error = error.__cause__
    return None


def _fab_response(status: int):
    """FAB's `response_<status>(message=None)` with the Chinese message of the status; FAB's own detail
    (marshmallow's object per field, or an English sentence) is kept apart. A 422 with a sentence is
    FAB's text of a database error (SQL included): not shown."""

    def respond(self, message=None):
        body = {"message": str(API_MESSAGES[status])}
        if isinstance(message, dict):
            body["errors"] = message
        elif status == 422 and message:
            body["message"] = str(CONFLICT)
        elif message:
            body["detail"] = str(message)
        return self.response(status, **body)

    return respond


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
        # The API login refuses a body that is not an object with its own message (username and password).
        if request.method in JSON_WRITES and request.is_json and request.content_length \
                and request.endpoint != "SecurityApi.login":
            body = request.get_json(silent=True)
            if not isinstance(body, dict):
                abort(400, MESSAGES[415])
            if _has_huge_integer(body):
                abort(400, _l("A number in the request is too large."))
            return _refuse_lists_for_single_values(body)
        return None
    view = _model_view()
    if view is None:
        return None
    if request.endpoint.endswith(".action_post") and request.method == "POST":
        if request.form.get("action") not in (view.actions or {}):
            abort(400, _l("This action does not exist."))
    if request.endpoint.endswith(".action") and request.method == "POST":
        _check_action(view, **request.view_args)
    if request.method == "GET":
        _check_list_arguments(view)
    return None


def _refuse_lists_for_single_values(body: dict):
    """A list or object where a ModelRestApi's schema takes one value (FAB's own security APIs pass
    it to the database driver unchecked): 422 naming the field, as Kefu's own APIs answer it."""
    from app.api.base import scalar_fields
    from app.domain.errors import ValidationError

    view = current_app.view_functions.get(request.endpoint)
    api = getattr(view, "__self__", None)
    if not isinstance(api, ModelRestApi) or view.__name__ not in ("post", "put"):
        return None
    try:
        scalar_fields(api.add_model_schema if view.__name__ == "post" else api.edit_model_schema, body)
    except ValidationError as err:
        return {"message": str(API_MESSAGES[422]), "errors": {k: str(v) for k, v in err.errors.items()}}, 422
    return None


def _check_action(view: ModelView, name: str, pk: str) -> None:
    """FAB's `action/<name>/<pk>` runs `actions[name]` on the record: an unknown action
    (AttributeError) or a record the user cannot see (the action got None) is a 404."""
    if name not in (view.actions or {}):
        abort(404, _l("This action does not exist."))
    if view.datamodel.get(view._deserialize_pk_if_composite(pk), view._base_filters) is None:
        abort(404)


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
