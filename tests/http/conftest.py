"""Helpers for the HTTP tests: logged-in clients per demo user (HTML session or JWT), short database
reads that never keep a transaction open across a request, unique valid customer data, a browser-like
form reader, and the accepted wordings (English source or its current translation) of a message.

On SQLite a session that has read outside a request holds BEGIN IMMEDIATE (the write lock) until it
ends, so every read here runs in its own app context and is rolled back at once.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import re
from contextlib import contextmanager
from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, ApiClient

_serial = itertools.count(1)
_RUN = os.getpid() % 10_000


def serial() -> int:
    return next(_serial)


def unique_mobile() -> str:
    """A valid mainland mobile no demo customer has (the demo never uses the 166 prefix)."""
    return f"166{_RUN:04d}{serial():04d}"


def valid_id_number() -> str:
    from app.domain.validation import id_number_check_digit

    n = serial()
    born = date(1960, 1, 1) + timedelta(days=(_RUN * 131 + n * 37) % 15_000)
    first17 = f"110101{born:%Y%m%d}{n % 1000:03d}"
    return first17 + id_number_check_digit(first17)


def wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + next(c for c in "0123456789X" if c != id_number[17])


def customer_payload(**overrides) -> dict:
    n = serial()
    data = {"name": f"测试客户{_RUN}-{n}", "kind": "person", "stage": "potential", "gender": "female",
            "id_number": valid_id_number(), "mobile": unique_mobile(), "address": f"西湖区测试路 {n} 号"}
    data.update(overrides)
    return data


def mask_mobile(value: str) -> str:
    return value[:3] + "****" + value[-4:]


def mask_id(value: str) -> str:
    return value[:4] + "*" * 10 + value[-4:]


MASKED_MOBILE = re.compile(r"^1\d{2}\*{4}\d{4}$")
MASKED_ID = re.compile(r"^\d{4}\*{10}[\dX]{4}$")
FULL_MOBILE_IN_TEXT = re.compile(r"(?<![\d*])1[3-9]\d{9}(?![\d*])")
FULL_ID_IN_TEXT = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")


# --- the database, read briefly ---------------------------------------------------------------

class Db:
    def __init__(self, app):
        self.app = app

    @contextmanager
    def session(self):
        from app.extensions import db

        with self.app.app_context():
            try:
                yield db.session
            finally:
                db.session.rollback()
                db.session.remove()

    def count(self, model, *where) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(model).where(*where))

    def customers(self) -> int:
        from app.models import Customer

        return self.count(Customer)

    def audit_count(self) -> int:
        from app.models import AuditLog

        return self.count(AuditLog)

    def last_seq(self) -> int:
        from app.models import AuditLog

        with self.session() as s:
            return s.scalar(select(func.max(AuditLog.seq))) or 0

    def audit_after(self, seq: int) -> list[dict]:
        from app.models import AuditLog

        with self.session() as s:
            rows = s.scalars(select(AuditLog).where(AuditLog.seq > seq).order_by(AuditLog.seq)).all()
            return [dict(table=r.table_name, record_id=r.record_id, action=r.action, actor=r.actor_name,
                         changes=json.loads(r.changes)) for r in rows]

    def customer(self, cid) -> dict | None:
        from app.models import Customer

        with self.session() as s:
            item = s.get(Customer, int(cid))
            if item is None:
                return None
            return {c.key: getattr(item, c.key) for c in Customer.__table__.columns}

    def customer_by_mobile(self, mobile) -> list[dict]:
        from app.models import Customer

        with self.session() as s:
            return [{"id": c.id, "name": c.name, "mobile": c.mobile, "id_number": c.id_number}
                    for c in s.scalars(select(Customer).where(Customer.mobile == mobile))]

    def demo_customer(self) -> dict:
        """A demo customer with a mobile and an ID number (the lowest id)."""
        from app.models import Customer

        with self.session() as s:
            item = s.scalars(select(Customer).where(Customer.mobile.is_not(None), Customer.id_number.is_not(None))
                             .order_by(Customer.id).limit(1)).one()
            return {"id": item.id, "name": item.name, "mobile": item.mobile, "id_number": item.id_number}


    def customer_with_unit(self) -> dict:
        from app.models import Customer, CustomerUnit

        with self.session() as s:
            item = s.scalars(select(Customer).join(CustomerUnit).order_by(Customer.id).limit(1)).one()
            return {"id": item.id, "name": item.name, "version": item.version}


@pytest.fixture(scope="session")
def dbr(app):
    return Db(app)


# --- clients ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def html_as(app):
    """html_as('cs_staff') -> a test client logged in through the form (one per user, reused)."""
    clients = {}

    def _get(username):
        if username not in clients:
            client = app.test_client()
            response = client.post("/login/", data={"username": username, "password": PASSWORD})
            assert response.status_code == 302, f"login of {username} failed"
            clients[username] = client
        return clients[username]

    return _get


@pytest.fixture(scope="session")
def api_as(app):
    """api_as('cs_staff') -> a client sending that user's JWT (one per user, reused)."""
    clients = {}

    def _get(username):
        if username not in clients:
            client = app.test_client()
            response = client.post("/api/v1/security/login",
                                   json={"username": username, "password": PASSWORD, "provider": "db"})
            assert response.status_code == 200, response.get_data(as_text=True)
            clients[username] = ApiClient(client, response.get_json()["access_token"])
        return clients[username]

    return _get


@pytest.fixture
def created(api_as):
    """created(**fields) -> a new customer made through the API as cs_staff: (id, payload, result)."""

    def _create(**overrides):
        payload = customer_payload(**overrides)
        response = api_as("cs_staff").post("/api/v1/customer/", json=payload)
        assert response.status_code == 201, response.get_data(as_text=True)
        body = response.get_json()
        return body["id"], payload, body["result"]

    return _create


# --- messages -----------------------------------------------------------------------------------

def wordings(app, message) -> set[str]:
    """The English source of a lazy message and its translation in the default locale (zh)."""
    from flask_babel import force_locale

    found = set()
    with app.test_request_context():
        for locale in ("en", app.config.get("BABEL_DEFAULT_LOCALE", "zh")):
            with force_locale(locale):
                found.add(str(message))
    return found


def in_english(app, message) -> str:
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        return str(message)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- forms as a browser sends them -------------------------------------------------------------

class FormReader(HTMLParser):
    """The values a browser would submit for a form."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "checkbox"):
            self.values[name] = a.get("value") or ""
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.values[name] = a.get("value") or "y"
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, None)
        elif tag == "option" and self._select:
            if self.values[self._select] is None or "selected" in a:
                self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            value = self.values[self._textarea]
            for newline in ("\r\n", "\n"):  # a browser drops one newline right after <textarea>
                if value.startswith(newline):
                    value = value[len(newline):]
                    break
            self.values[self._textarea] = value
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(page: str, marker: str = 'name="name"') -> dict[str, str]:
    """The submitted values of the page's form that contains `marker`."""
    forms = re.findall(r"<form\b.*?</form>", page, re.S)
    chosen = [f for f in forms if marker in f]
    assert chosen, f"no form with {marker} on the page"
    reader = FormReader()
    reader.feed(chosen[0])
    return {k: (v if v is not None else "") for k, v in reader.values.items()}


# --- the whole URL map (tests/http/crawl.py) ----------------------------------------------------

@pytest.fixture(scope="session")
def csrf_app(app):
    """A second app on the session database configured as deployed: CSRF checks on (the test
    configuration turns them off) and a server error answered as a 500 page, not raised."""
    from app import create_app
    from app.extensions import db
    from tests.conftest import make_config

    deployed = create_app(make_config(app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True,
                                      PROPAGATE_EXCEPTIONS=False,
                                      KEFU_ARCHIVE_DIR=app.config["KEFU_ARCHIVE_DIR"]))
    yield deployed
    with deployed.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def targets(csrf_app):
    from tests.http.crawl import Targets

    return Targets(csrf_app)


@pytest.fixture(scope="session")
def crawled(csrf_app, targets):
    """Every GET route as one demo user of each role and as nobody (tests/http/crawl.py), once."""
    from tests.http.crawl import crawl_gets

    return crawl_gets(csrf_app, targets, PASSWORD)
