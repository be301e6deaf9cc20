"""What protects the browser session: CSRF tokens, cookie-less API writes, and the response headers.

- every HTML POST/PUT/PATCH/DELETE carries the session's CSRF token (Flask-WTF's CSRFProtect over the
  whole app); FAB exempts its REST APIs from it, so
- a write to the REST API (/api/v1/…) must bring its JWT in the Authorization header: a session cookie,
  which a browser sends on a cross-site request, never authorises an API write (FAB's own security
  APIs accept the cookie through `allow_browser_login`);
- every answer (pages, API, files, errors, static) forbids framing and sniffing, keeps the referrer on
  the site and carries a Content-Security-Policy whose scripts are the site's files and the inline
  scripts stamped with this request's nonce (FAB's templates read it through `csp_nonce()`).
"""

from __future__ import annotations

import secrets

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_appbuilder.api import BaseApi
from flask_appbuilder.baseviews import BaseCRUDView
from flask_babel import gettext as _
from flask_jwt_extended import verify_jwt_in_request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import MethodNotAllowed

csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Endpoints that authenticate by what they are sent (a password, a refresh token), not by a session.
TOKENLESS_API_WRITES = frozenset({"SecurityApi.login", "SecurityApi.refresh"})


def install_csrf(app: Flask) -> None:
    """Before AppBuilder: FAB exempts each REST API blueprint as it creates it, and refuses its GET
    delete and action routes once CSRFProtect is present (`is_get_mutation_allowed`)."""
    csrf.init_app(app)
    app.register_error_handler(CSRFError, _csrf_refused)


def install(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_no_writes_on_get)
    app.before_request(_api_writes_need_the_token)
    app.after_request(_security_headers)


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def _wants_json() -> bool:
    return (request.path.startswith("/api/") or request.is_json
            or request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or request.accept_mimetypes.best == "application/json")


def _csrf_refused(_err: CSRFError):
    message = _("This page has expired or did not come from Kefu. Please reload the page and try again.")
    if _wants_json():
        return jsonify(message=message), 400
    appbuilder = current_app.appbuilder
    g.setdefault("user", current_user)  # FAB's menu reads g.user, set by a before_request that did not run
    return render_template("kefu/refused.html", message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), 400


def _is_api_endpoint() -> bool:
    view = current_app.view_functions.get(request.endpoint)
    return isinstance(getattr(view, "__self__", None), BaseApi)


# FAB's ModelView routes that write and also answer GET (a link, an <img>, a cross-site redirect).
WRITING_MODELVIEW_ROUTES = frozenset({"delete", "action"})


def _no_writes_on_get():
    """before_request: FAB's `delete/<pk>` and `action/<name>/<pk>` take POST only (their buttons post a
    form with the CSRF token); on GET they answer 405 without running."""
    if request.method not in UNSAFE_METHODS:
        view = current_app.view_functions.get(request.endpoint)
        if isinstance(getattr(view, "__self__", None), BaseCRUDView) and view.__name__ in WRITING_MODELVIEW_ROUTES:
            raise MethodNotAllowed(["POST"], _("This address changes data: it accepts only a form sent with POST."))
    return None


def _api_writes_need_the_token():
    """before_request: an API write is authorised by its JWT only, never by a session cookie."""
    if request.method not in UNSAFE_METHODS or request.endpoint in TOKENLESS_API_WRITES:
        return None
    if not _is_api_endpoint():
        return None
    if request.headers.get("Authorization", "").startswith("Bearer "):
        try:
            verify_jwt_in_request()
            return None
        except Exception:  # noqa: BLE001 - expired, malformed or revoked: all the same refusal
            pass
    return jsonify(message=_("Send the access token in the Authorization header (Bearer …).")), 401


def content_security_policy(nonce: str) -> str:
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        # FAB's templates and widgets set style="" attributes throughout: inline styles stay allowed.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ))


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _security_headers(response):
    """after_request: runs for every answer, error pages and static files included. A view that set
    a stricter policy of its own (an attachment, say) keeps it."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    return response
