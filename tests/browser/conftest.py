"""Browser tests: Debian's Chromium driven by pytest-playwright, against a live Kefu server.

The live server is a second app on the session database (the `app` fixture's, already migrated and
loaded with the demo data) with CSRF protection on, as in production. Browsers are never downloaded:
`playwright install` is not used here, Debian's `chromium` is.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, with Debian's Chromium instead of a downloaded browser."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.fail("Debian's Chromium is not installed: apt-get install chromium chromium-driver "
                    "(never `playwright install`)", pytrace=False)
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A browser set up like a user's in mainland China (the app's default locale is Chinese anyway)."""
    return {**browser_context_args, "locale": "zh-CN", "viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="session")
def live_server(app):
    """Serve a Kefu app with CSRF enabled on the session database; yields its base URL."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.extensions import db
    from tests.conftest import make_config

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    live_app = create_app(make_config(url, WTF_CSRF_ENABLED=True))  # the db is already migrated
    server = make_server("127.0.0.1", 0, live_app, threaded=True)  # port 0: a free port
    thread = threading.Thread(target=server.serve_forever, name="kefu-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with live_app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def artifact(output_path, pytestconfig):
    """artifact('name.png') -> a path in this test's pytest-playwright output folder (--output)."""
    folder = Path(output_path or os.path.join(pytestconfig.getoption("--output"), "browser"))

    def _path(name: str) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / name)

    return _path


def watch_csp(page, problems: list) -> None:
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and ("Content Security Policy" in msg.text or "Refused to" in msg.text)
            else None)
    page.on("pageerror", lambda err: problems.append(f"script error: {err}"))


@pytest.fixture(autouse=True)
def no_csp_violations(page):
    """Every walk fails if Chromium refused anything under the Content-Security-Policy (a script
    without the page's nonce, an inline handler, a resource from elsewhere) or a script failed."""
    problems = []
    watch_csp(page, problems)
    yield
    assert not problems, problems


PHONE = {"width": 390, "height": 844}  # a common phone's screen in CSS pixels


@pytest.fixture
def phone_page(browser, browser_context_args):
    """A page in a phone's browser (390×844, touch, mobile viewport), watched like `page` for refusals
    under the Content-Security-Policy."""
    context = browser.new_context(**{**browser_context_args, "viewport": PHONE, "is_mobile": True,
                                     "has_touch": True})
    page = context.new_page()
    problems = []
    watch_csp(page, problems)
    yield page
    context.close()
    assert not problems, problems
