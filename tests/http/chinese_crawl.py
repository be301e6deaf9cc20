"""Walk the pages a demo user can reach, as a browser would, and keep what each page shows.

Where to go: the home page, the menu and the links of every page reached, plus every GET route of
`app.url_map` with its ids filled from the demo data (tests/http/crawl.py's Targets). One pass per
user through the Flask test client; each route pattern (endpoint and its non-id arguments, so each
step form of a workflow apart) is visited at most `per_pattern` times, a list's query strings
(sorting, paging, filters) counting as the same pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from werkzeug.exceptions import HTTPException

from tests.http.crawl import LOGIN, browser_login, routes

HREF = re.compile(r'<a\b[^>]*\bhref="([^"#]+)"', re.I)
# Never followed: leaving the session or its language, downloads, the API and static files.
SKIP_ENDPOINTS = re.compile(r"(^|\.)(logout|static|download|export|file|action|delete)$|^LocaleView\.|^SwaggerView\.")
ID_ARGS = frozenset({"pk", "role_id", "attachment_id", "number", "filename"})


@dataclass
class Page:
    username: str
    url: str
    endpoint: str
    status: int
    body: str


def _pattern(app, url: str):
    """(endpoint, non-id arguments) of an address of this app, or None for one the crawl skips."""
    parts = urlsplit(url)
    if parts.netloc or not parts.path.startswith("/") or parts.path.startswith("/api/"):
        return None
    try:
        endpoint, args = app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        return None
    if SKIP_ENDPOINTS.search(endpoint):
        return None
    return endpoint, tuple(sorted((k, str(v)) for k, v in args.items() if k not in ID_ARGS))


def _permissions(app, username: str) -> set[tuple[str, str]]:
    """(permission, view) pairs the user's roles hold."""
    from tests.http.conftest import Db

    with Db(app).session(), app.test_request_context():
        sm = app.appbuilder.sm
        user = sm.find_user(username=username)
        return {pair for role in user.roles for pair in sm.get_role_permissions(role)}


def seeds(app, targets, username: str) -> list[str]:
    """Every GET page route of the URL map that the user's roles may open, filled with ids the user may
    see, and one route the user may not open (its refusal page is a page too)."""
    held, out, refused = _permissions(app, username), ["/"], []
    for route in routes(app):
        if "GET" not in route.methods or route.is_api or "locale" in route.arguments:
            continue
        if SKIP_ENDPOINTS.search(route.endpoint):
            continue
        url = targets.url(route, username)
        if not url:
            continue
        (refused if route.permission is not None and route.permission not in held else out).append(url)
    return out + refused[:1]


def login(app, username: str, password: str):
    """A client logged in through the form (with its CSRF token when the app checks them)."""
    if app.config.get("WTF_CSRF_ENABLED", True):
        return browser_login(app, username, password)
    client = app.test_client()
    response = client.post(LOGIN, data={"username": username, "password": password})
    assert response.status_code == 302 and LOGIN not in response.headers["Location"], f"login of {username}"
    return client


def crawl_as(app, targets, username: str, password: str, per_pattern: int = 1,
             limit: int = 400) -> list[Page]:
    """The pages `username` reaches (HTML answers only), each route pattern at most `per_pattern` times."""
    client = login(app, username, password)
    queue, queued = [], set()

    def offer(url):
        url = url.replace("&amp;", "&")
        if url not in queued and _pattern(app, url) is not None:
            queued.add(url)
            queue.append(url)

    # Links first (what a person clicks), then the URL map's routes nobody linked to.
    offer("/")
    pages, visits = [], Counter()
    later = seeds(app, targets, username)
    while (queue or later) and len(pages) < limit:
        url = queue.pop(0) if queue else later.pop(0)
        if url not in queued:
            queued.add(url)
        pattern = _pattern(app, url)
        if pattern is None or visits[pattern] >= per_pattern:
            continue
        visits[pattern] += 1
        response = client.get(url)
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        response.close()
        if 300 <= response.status_code < 400:  # a browser goes on to where it points, and shows that
            offer(response.headers.get("Location", ""))
            continue
        if not body:
            continue
        pages.append(Page(username, url, pattern[0], response.status_code, body))
        for href in HREF.findall(body):
            offer(href)
    return pages
