"""Security headers on every answer (issue 11, item 12): pages, API, files, errors and static files,
over the whole URL map (tests/http/crawl.py), as every role and as nobody, for reads and refused writes.

The Content-Security-Policy allows scripts only from the site and inline scripts stamped with the
answer's nonce; every inline script of every page carries that nonce, and no page uses inline event
handlers or `javascript:` addresses (which no nonce can allow). The browser tests check that Chromium
reports no CSP violation on the pages they walk.
"""

from __future__ import annotations

import re

from .crawl import call, routes

FIXED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
REQUIRED_DIRECTIVES = {
    "default-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "frame-ancestors": {"'none'"},
    "form-action": {"'self'"},
}
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)
NONCE = re.compile(r"""\bnonce=["']([^"']+)["']""")
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def policy(headers) -> dict[str, set[str]]:
    directives = {}
    for part in headers.get("Content-Security-Policy", "").split(";"):
        words = part.split()
        if words:
            directives[words[0]] = set(words[1:])
    return directives


def header_problems(headers) -> list[str]:
    problems = [f"{name}: {headers.get(name)!r}" for name, value in FIXED.items() if headers.get(name) != value]
    csp = policy(headers)
    for directive, values in REQUIRED_DIRECTIVES.items():
        if csp.get(directive) not in (values, {"'none'"}):  # as required, or stricter still
            problems.append(f"CSP {directive}: {csp.get(directive)}")
    scripts = csp.get("script-src", csp.get("default-src", set()))
    if scripts & {"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:"}:
        problems.append(f"CSP script-src too wide: {scripts}")
    return problems


def test_every_get_answer_carries_the_headers(crawled):
    kinds = {"html": 0, "json": 0, "static": 0, "error": 0, "redirect": 0}
    wrong = []
    for a in crawled:
        problems = header_problems(a.headers)
        if problems:
            wrong.append((a.username, a.url, a.status, problems))
        ctype = a.headers.get("Content-Type", "")
        kinds["static"] += a.route.endpoint.endswith("static") and a.status == 200
        kinds["html"] += ctype.startswith("text/html") and a.status == 200
        kinds["json"] += ctype.startswith("application/json") and a.status == 200
        kinds["error"] += a.status >= 400
        kinds["redirect"] += 300 <= a.status < 400
    assert not wrong, wrong[:20]
    assert all(kinds.values()), kinds  # the crawl did meet every kind of answer


def test_every_refused_write_carries_the_headers(csrf_app, targets):
    client = csrf_app.test_client()
    wrong = []
    for route in routes(csrf_app):
        for method in route.writes:
            answer = call(client, method.lower(), targets.url(route, None))
            problems = header_problems(answer["headers"])
            if problems:
                wrong.append((method, route.rule, answer["status"], problems))
    assert not wrong, wrong[:20]


def test_a_server_error_carries_the_headers(csrf_app, monkeypatch):
    """An answer made by Flask's 500 handler (an exception escaping a view) passes the same hook."""

    def fail(**_kwargs):
        raise RuntimeError("a fault in a view")

    monkeypatch.setitem(csrf_app.view_functions, "LocaleView.index", fail)
    response = csrf_app.test_client().get("/lang/zh")
    assert response.status_code == 500
    assert not header_problems(response.headers)


def test_every_inline_script_carries_the_answers_nonce(crawled):
    pages = [a for a in crawled if a.body]
    assert len(pages) > 300
    wrong = []
    for a in pages:
        nonce = next(iter(v for v in policy(a.headers).get("script-src", ()) if v.startswith("'nonce-")), "")
        for attrs in SCRIPT_TAG.findall(a.body):
            if "src=" in attrs:
                continue
            found = NONCE.search(attrs)
            if not found or f"'nonce-{found.group(1)}'" != nonce:
                wrong.append((a.username, a.url, attrs))
        if INLINE_HANDLER.search(a.body) or "javascript:" in a.body:
            wrong.append((a.username, a.url, "inline handler or javascript: URL"))
    assert not wrong, wrong[:20]


def test_each_answer_has_its_own_nonce(crawled):
    """Every answer that may run scripts names its own nonce; one that may run none (an attachment:
    `default-src 'none'` and no script-src) needs none."""
    scripted = [a for a in crawled if policy(a.headers).get("default-src") != {"'none'"}
                or "script-src" in policy(a.headers)]
    nonces = [v for a in scripted for v in policy(a.headers).get("script-src", ()) if v.startswith("'nonce-")]
    assert len(scripted) > 1000 and len(nonces) == len(scripted)
    assert len(set(nonces)) == len(nonces)
