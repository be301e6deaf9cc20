"""Measurements: the app's own code paths (Flask test client: HTML logged in through POST /login/, the
REST API with a JWT) against the raw SQL doing the same work on the app's own engine, the SQL
statements each request issues, and `audit verify` throughput."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import prison
from sqlalchemy import bindparam, event, text

from app.domain.privacy import mask


@dataclass
class Timing:
    samples: list[float]  # milliseconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        """Nearest-rank 95th percentile (the 19th of 20 samples)."""
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def time_it(fn: Callable[[], object], repeats: int, warmups: int) -> Timing:
    for _ in range(warmups):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(samples)


@dataclass
class Statement:
    sql: str
    parameters: object
    ms: float = 0.0


@contextmanager
def recording(engine):
    """Every statement sent to the database through `engine` inside the block, with its duration."""
    statements: list[Statement] = []

    def before(_conn, _cursor, statement, parameters, context, _executemany):
        statements.append(Statement(statement, parameters))
        context._bench_started = time.perf_counter()

    def after(_conn, _cursor, _statement, _parameters, context, _executemany):
        statements[-1].ms = (time.perf_counter() - context._bench_started) * 1000

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


# --- the scenarios -----------------------------------------------------------------------------------

HTML_COLUMNS = "id, name, kind, stage, mobile, id_number, updated_at"  # CustomerView.list_columns (+ id)
API_COLUMNS = ("id, version, name, kind, stage, gender, mobile, phone, id_number, certificate_number, "
               "updated_at")  # CustomerApi.list_columns
RELATED_SQL = ("SELECT cu.customer_id, p.name, b.name, u.number FROM customer_unit cu "
               "JOIN unit u ON u.id = cu.unit_id JOIN building b ON b.id = u.building_id "
               "JOIN project p ON p.id = b.project_id WHERE cu.customer_id IN :ids ORDER BY cu.customer_id")


@dataclass
class Scenario:
    key: str
    title: str
    html_url: str
    api_url: str
    where: str = ""  # the raw SQL's WHERE clause (with :v) and its value
    value: object = None
    page: int = 0
    page_size: int = 25
    check_html: Callable[[str], str | None] = lambda _body: None
    check_api: Callable[[dict], str | None] = lambda _data: None


def api_url(page: int, page_size: int = 25, filters: list[dict] | None = None) -> str:
    args = {"page": page, "page_size": page_size}
    if filters:
        args["filters"] = filters
    return "/api/v1/customer/?q=" + quote(prison.dumps(args), safe="(),:!'")


def scenarios(total: int, cap: int, mobile: str, name: str, name_matches: int, page_target: int) -> list[Scenario]:
    pages = -(-total // 25)
    page = min(page_target, pages) - 1  # FAB's page index is 0-based: page 20,000 is page_CustomerView=19999
    capped = f"{cap:,}+"

    def shows(expected: str):
        return lambda body: None if expected in body else f"the page does not show {expected!r}"

    def api_count(expected: int, rows: int):
        def check(data):
            if data.get("count") != expected or len(data.get("result", ())) != rows:
                return f"API answered count={data.get('count')} with {len(data.get('result', ()))} rows"
            return None
        return check

    over_cap = min(total, cap + 1)
    last_rows = min(25, total - page * 25)
    return [
        Scenario("page1", "Customers list, page 1", "/customer/list/", api_url(0),
                 check_html=shows(capped if total > cap else f"{total}"), check_api=api_count(over_cap, 25)),
        Scenario("page_n", f"Customers list, page {page + 1:,}", f"/customer/list/?page_CustomerView={page}",
                 api_url(page), page=page, check_html=shows(capped if total > cap else f"{total}"),
                 check_api=api_count(over_cap, last_rows)),
        Scenario("phone", "Search by full mobile number", f"/customer/list/?q={mobile}",
                 api_url(0, filters=[{"col": "mobile", "opr": "eq", "value": mobile}]),
                 where="mobile = :v", value=mobile, check_html=shows(mask("mobile", mobile)),
                 check_api=api_count(1, 1)),
        Scenario("name", f"Search by name (contains “{name}”)", f"/customer/list/?q={quote(name)}",
                 api_url(0, filters=[{"col": "name", "opr": "ct", "value": name}]),
                 where="name LIKE :v", value=f"%{name}%", check_html=shows(name),
                 check_api=api_count(min(name_matches, cap + 1), min(25, name_matches))),
    ]


# --- the app and the raw SQL ---------------------------------------------------------------------

@dataclass
class Result:
    html: Timing | None = None
    api: Timing | None = None
    raw_html: Timing | None = None
    raw_api: Timing | None = None
    html_statements: list[Statement] = field(default_factory=list)
    api_statements: list[Statement] = field(default_factory=list)
    html_final_url: str = ""
    api_count: object = None
    problems: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, app, username: str, password: str, repeats: int, warmups: int):
        from app.extensions import db

        self.app, self.repeats, self.warmups = app, repeats, warmups
        with app.app_context():
            self.engine = db.engine
        self.cap = app.config["KEFU_COUNT_CAP"]
        self.html = app.test_client()
        response = self.html.post("/login/", data={"username": username, "password": password})
        if response.status_code != 302:
            raise RuntimeError(f"HTML login of {username} failed: {response.status_code}")
        self.api = app.test_client()
        response = self.api.post("/api/v1/security/login",
                                 json={"username": username, "password": password, "provider": "db"})
        if response.status_code != 200:
            raise RuntimeError(f"API login of {username} failed: {response.get_data(as_text=True)}")
        self.headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    # --- requests ---------------------------------------------------------------------------
    def resolve_html(self, url: str) -> str:
        """The quick search answers with a redirect to the filtered list: measure the page it names."""
        response = self.html.get(url)
        if response.status_code == 302:
            location = response.headers["Location"]
            parts = urlsplit(location)
            return parts.path + ("?" + parts.query if parts.query else "")
        return url

    def get_html(self, url: str) -> str:
        response = self.html.get(url)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        return response.get_data(as_text=True)

    def get_api(self, url: str) -> dict:
        response = self.api.get(url, headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response.get_json()

    def statements_of(self, fn) -> list[Statement]:
        with recording(self.engine) as statements:
            fn()
        return statements

    # --- raw SQL -----------------------------------------------------------------------------
    def raw(self, scenario: Scenario, columns: str, joins: bool) -> Callable[[], object]:
        where = f" WHERE {scenario.where}" if scenario.where else ""
        params = {"v": scenario.value} if scenario.where else {}
        count_sql = text(f"SELECT count(*) FROM (SELECT 1 FROM customer{where} LIMIT {self.cap + 1}) AS capped")
        page_sql = text(f"SELECT {columns} FROM customer{where} ORDER BY id DESC "
                        f"LIMIT {scenario.page_size} OFFSET {scenario.page * scenario.page_size}")
        related_sql = text(RELATED_SQL).bindparams(bindparam("ids", expanding=True))

        def run():
            # Inside a GET request context, so that the connection starts its transaction as the app's
            # read-only requests do (a deferred BEGIN on SQLite: app.db_engine hook).
            with self.app.test_request_context("/", method="GET"), self.engine.connect() as conn:
                count = conn.execute(count_sql, params).scalar_one()
                rows = conn.execute(page_sql, params).all()
                related = conn.execute(related_sql, {"ids": [r[0] for r in rows]}).all() if joins and rows else []
            return count, rows, related

        return run

    # --- one scenario ------------------------------------------------------------------------
    def run(self, scenario: Scenario) -> Result:
        result = Result()
        url = self.resolve_html(scenario.html_url)
        result.html_final_url = url
        body = self.get_html(url)
        if problem := scenario.check_html(body):
            result.problems.append(f"HTML {url}: {problem}")
        data = self.get_api(scenario.api_url)
        result.api_count = data.get("count")
        if problem := scenario.check_api(data):
            result.problems.append(f"API {scenario.api_url}: {problem}")
        raw_html, raw_api = self.raw(scenario, HTML_COLUMNS, True), self.raw(scenario, API_COLUMNS, False)
        count, rows, _related = raw_html()
        if count != data.get("count"):
            result.problems.append(f"raw count {count} differs from the API's {data.get('count')}")
        result.html_statements = self.statements_of(lambda: self.get_html(url))
        result.api_statements = self.statements_of(lambda: self.get_api(scenario.api_url))
        result.html = time_it(lambda: self.get_html(url), self.repeats, self.warmups)
        result.api = time_it(lambda: self.get_api(scenario.api_url), self.repeats, self.warmups)
        result.raw_html = time_it(raw_html, self.repeats, self.warmups)
        result.raw_api = time_it(raw_api, self.repeats, self.warmups)
        return result

    def statements_for_page_size(self, page_size: int) -> tuple[int, int]:
        """Statements of the HTML and API list page 1 at another page size (a fixed number: no query per row)."""
        html = self.statements_of(lambda: self.get_html(f"/customer/list/?psize_CustomerView={page_size}"))
        api = self.statements_of(lambda: self.get_api(api_url(0, page_size)))
        return len(html), len(api)


def verify_throughput(app, runs: int) -> tuple[list[float], int, bool, str]:
    """app.audit.verify over the whole chain, as `flask audit verify` calls it: rows/s per run."""
    from app.audit import verify
    from app.extensions import db

    rates, count, ok, problem = [], 0, True, ""
    with app.app_context():
        for _ in range(runs):
            with db.engine.connect() as conn:
                started = time.perf_counter()
                result = verify(conn)
                elapsed = time.perf_counter() - started
            count, ok, problem = result.count, result.ok, result.problem
            rates.append(result.count / elapsed)
            if not ok:
                break
    return rates, count, ok, problem


def explain(app, statement: Statement) -> str:
    """The database's plan of one statement the app sent (EXPLAIN ANALYZE on PostgreSQL)."""
    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor()
        try:
            if conn.dialect.name == "postgresql":
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement.sql, statement.parameters)
                lines = [r[0] for r in cursor.fetchall()]
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.parameters)
                depth, lines = {0: -1}, []
                for node, parent, _unused, detail in cursor.fetchall():
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node] + detail)
        finally:
            cursor.close()
            raw.rollback()
    return "\n".join(lines)

