"""Measurements: the app's own code paths (Flask test client: HTML logged in through POST /login/, the
REST API with a JWT) against the raw SQL doing the same work on the app's own engine, the SQL
statements each request issues, and `audit verify` throughput."""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

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



# --- complaints ----------------------------------------------------------------------------------------
# The raw SQL of each complaint request: hand-written, with the same count cap, filters, joins, order and
# page as the app's queries, selecting the columns the page shows (and those "overdue" is judged on).

_BEFORE_ASSIGNED = "('received', 'confirmed', 'assessed')"
_BEFORE_INVESTIGATED = "('received', 'confirmed', 'assessed', 'investigating')"
_BEFORE_CLOSED = "('received', 'confirmed', 'assessed', 'investigating', 'handling', 'replied')"
# The deadlines of complaints.WAITS, written out: a state's deadlines run in order, the first one set is
# the due (Workflow.deadline_of), any one passed makes the complaint overdue (Workflow.overdue_clause).
_ACK = "CASE WHEN c.acknowledged_at IS NULL THEN c.acknowledge_due_at END"  # met once acknowledged
OVERDUE_SQL = (  # app.domain.complaints.overdue_clause
    f"((c.state IN {_BEFORE_CLOSED} AND c.acknowledged_at IS NULL AND c.acknowledge_due_at < :now)"
    f" OR (c.state IN {_BEFORE_ASSIGNED} AND c.assign_due_at < :now)"
    f" OR (c.state IN {_BEFORE_INVESTIGATED} AND c.investigate_due_at < :now)"
    f" OR (c.state IN {_BEFORE_CLOSED} AND c.close_due_at < :now)"
    " OR (c.state = 'handling' AND c.handling_deadline < :today)"
    " OR (c.state = 'closed' AND c.return_visit_due_at < :now))")
DUE_SQL = (  # app.domain.workflow.Workflow.deadline_of on complaints.WAITS
    f"CASE WHEN c.state IN {_BEFORE_ASSIGNED} THEN coalesce({_ACK}, c.assign_due_at, c.investigate_due_at, "
    f"c.close_due_at) WHEN c.state = 'investigating' THEN coalesce({_ACK}, c.investigate_due_at, c.close_due_at) "
    f"WHEN c.state = 'handling' THEN coalesce({_ACK}, c.handling_deadline, c.close_due_at) "
    f"WHEN c.state = 'replied' THEN coalesce({_ACK}, c.close_due_at) "
    "WHEN c.state = 'closed' THEN c.return_visit_due_at END")
DEADLINE_COLUMNS = "c.acknowledge_due_at, c.acknowledged_at, c.assign_due_at, c.investigate_due_at, c.close_due_at, c.handling_deadline, c.return_visit_due_at"
# ComplaintView.list_columns: number, received at, channel, customer, unit, category, severity, department,
# state, first-responsible person, overdue.
COMPLAINT_HTML_COLUMNS = ("c.id, c.received_at, c.channel, cu.name AS customer, c.unit_id, c.category, c.severity, "
                          "d.name AS department, c.state, c.first_responsible_id, " + DEADLINE_COLUMNS)
# ComplaintApi.list_columns (COMPLAINT_LIST) and the overdue reasons.
COMPLAINT_API_COLUMNS = ("c.id, c.version, c.customer_id, cu.name AS customer, c.state, c.severity, c.category, "
                         "c.channel, c.received_at, c.first_responsible_id, c.department_id, d.name AS department, "
                         "c.satisfaction, c.rehandling_count, c.closed_at, " + DEADLINE_COLUMNS)
COMPLAINT_FROM = ("FROM complaint c JOIN customer cu ON cu.id = c.customer_id "
                  "LEFT OUTER JOIN department d ON d.id = c.department_id")
USERS_SQL = "SELECT id, first_name, last_name, username FROM ab_user WHERE id IN :ids"
UNITS_SQL = ("SELECT u.id, p.name, b.name, u.number FROM unit u JOIN building b ON b.id = u.building_id "
             "JOIN project p ON p.id = b.project_id WHERE u.id IN :ids")
# One section of my-work: the 101 most urgent complaints waiting, then the names of their customers.
MY_WORK_SQL = (f"SELECT c.id, c.received_at, c.state, c.content, c.customer_id, {DEADLINE_COLUMNS} "
               "FROM complaint c WHERE {where} "
               f"ORDER BY CASE WHEN {OVERDUE_SQL} THEN 0 ELSE 1 END, CASE WHEN ({DUE_SQL}) IS NULL THEN 1 ELSE 0 END, "
               f"{DUE_SQL}, c.received_at, c.id LIMIT 101")
MY_WORK_CUSTOMERS_SQL = "SELECT id, name FROM customer WHERE id IN :ids"
# Who acts (complaints.WAITS): the first-responsible person while received, confirmed, handling or closed;
# the CS managers while assessed (a major one once the GM approved its plan), replied or return-visited;
# nobody while the general manager decides.
_NOT_WITH_GM = ("NOT EXISTS (SELECT 1 FROM approval a WHERE a.subject_table = 'complaint' AND a.subject_id = c.id "
                "AND a.state = 'pending')")
MINE_WHERE = ("c.first_responsible_id = :me AND c.state IN ('received', 'confirmed', 'handling', 'closed') AND "
              + _NOT_WITH_GM)
MANAGER_WHERE = ("((c.state = 'assessed' AND (c.severity IS NULL OR c.severity NOT IN ('major', 'crisis') "
                 "OR c.plan_approved = :yes)) OR c.state IN ('replied', 'return_visited')) AND " + _NOT_WITH_GM)
STATS_GROUPS_SQL = (
    "SELECT c.channel, c.category, c.severity, c.department_id, c.state, count(*) AS n, count(c.satisfaction), "
    "coalesce(sum(c.satisfaction), 0), count(c.return_visit_satisfaction), coalesce(sum(c.return_visit_satisfaction), 0), "
    "sum(CASE WHEN c.rehandling_count > 0 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN c.state IN ('replied', 'closed', 'return_visited', 'fed_back') OR c.rehandling_count > 0 "
    f"THEN 1 ELSE 0 END), sum(CASE WHEN {OVERDUE_SQL} THEN 1 ELSE 0 END) AS overdue "
    "FROM complaint c WHERE c.received_at >= :start AND c.received_at < :end "
    "GROUP BY c.channel, c.category, c.severity, c.department_id, c.state")
STATS_CLOSINGS_SQL = "SELECT c.received_at, c.closed_at FROM complaint c WHERE c.closed_at >= :start AND c.closed_at < :end"
STATS_CLOSINGS_PG_SQL = (  # PostgreSQL computes the time to close's percentiles itself (as the app does there)
    "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.received_at) "
    "/ 86400), percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.received_at) / 86400) "
    "FROM complaint c WHERE c.closed_at >= :start AND c.closed_at < :end")
STATS_CALENDAR_SQL = "SELECT day, is_workday FROM calendar_day WHERE day >= :first AND day <= :last"
STATS_LEDGER_SQL = (
    "SELECT c.id, c.received_at, c.channel, cu.name, p.name, b.name, u.number, c.category, c.severity, "
    "substr(c.content, 1, 40), d.name, c.state, c.closed_at, c.satisfaction, "
    f"CASE WHEN {OVERDUE_SQL} THEN 1 ELSE 0 END, usr.username "
    "FROM complaint c JOIN customer cu ON cu.id = c.customer_id LEFT OUTER JOIN unit u ON u.id = c.unit_id "
    "LEFT OUTER JOIN building b ON b.id = u.building_id LEFT OUTER JOIN project p ON p.id = b.project_id "
    "LEFT OUTER JOIN department d ON d.id = c.department_id JOIN ab_user usr ON usr.id = c.first_responsible_id "
    "WHERE c.received_at >= :start AND c.received_at < :end ORDER BY c.received_at, c.id LIMIT :limit OFFSET 0")
CONFIRMED_HOW = "电话回访客户，确认为有效投诉"
TRANSITION_SQL = {
    "load": "SELECT id, state, version, state_changed_at FROM complaint WHERE id = :id",
    "head": "SELECT seq, hash FROM audit_chain_head WHERE id = 1",
    "update": ("UPDATE complaint SET state = 'confirmed', confirmed_how = :how, state_changed_at = :now, "
               "updated_at = :utc, updated_by_id = :me, version = version + 1 WHERE id = :id AND version = :version"),
    "step": ("INSERT INTO complaint_step (complaint_id, action, from_state, to_state, actor_id, actor_name, at, data, "
             "created_at, updated_at, created_by_id, updated_by_id, version) VALUES (:id, 'confirm', 'received', "
             "'confirmed', :me, :name, :now, :data, :utc, :utc, :me, :me, 1) RETURNING id"),
    "audit": ("INSERT INTO audit_log (seq, at, actor_id, actor_name, table_name, record_id, action, changes, "
              "prev_hash, hash) VALUES (:seq, :at, :actor_id, :actor_name, :table_name, :record_id, :action, "
              ":changes, :prev_hash, :hash)"),
    "move_head": "UPDATE audit_chain_head SET seq = :seq, hash = :hash WHERE id = 1",
}
TRANSITION_TARGET_MS, STATS_TARGET_MS = 100.0, 1000.0


def complaint_number(complaint_id: int, received_at) -> str:
    """Complaint.number; `received_at` as a datetime or as SQLite's text."""
    return f"TS{str(received_at)[:4]}-{complaint_id:06d}"


def complaints_api_url(page_size: int = 25, filters: list[dict] | None = None) -> str:
    args = {"page": 0, "page_size": page_size}
    if filters:
        args["filters"] = filters
    return "/api/v1/complaint/?q=" + quote(prison.dumps(args), safe="(),:!'")


def typed(sql: str, **types):
    """text() with the given bind types (SQLAlchemy's own formats for dates on SQLite) and IN lists."""
    from sqlalchemy import Date, DateTime

    kinds = {"datetime": DateTime(), "date": Date()}
    present = {name: kind for name, kind in types.items() if f":{name}" in sql}
    params = [bindparam(name, type_=kinds[kind]) for name, kind in present.items() if kind in kinds]
    params += [bindparam(name, expanding=True) for name, kind in present.items() if kind == "in"]
    return text(sql).bindparams(*params)


@dataclass
class Measured:
    """One complaint request: the app, the raw SQL doing the same work, the statements of one request."""

    key: str
    title: str
    target: str  # "list" (lists and my-work), "transition", "stats"
    app: Timing | None = None
    raw: Timing | None = None
    statements: list[Statement] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    note: str = ""
    statements_at_100: int | None = None  # the same list at page size 100

    @property
    def repeated(self) -> int:
        """How often the most repeated statement ran (a query per row shows as 25 or more)."""
        counts: dict[str, int] = {}
        for s in self.statements:
            counts[s.sql] = counts.get(s.sql, 0) + 1
        return max(counts.values(), default=0)


class ComplaintBench:
    """The complaint pages as cs_staff (lists, my-work, a transition) and cs_manager (my-work, statistics)."""

    def __init__(self, app, staff: Bench, manager: Bench, repeats: int, warmups: int, month: str, first_bench_id: int):
        self.app, self.staff, self.manager = app, staff, manager
        self.repeats, self.warmups, self.month = repeats, warmups, month
        self.engine, self.cap = staff.engine, staff.cap
        self.first_bench_id = first_bench_id
        self.is_pg = self.engine.dialect.name == "postgresql"
        with app.app_context():
            sm = app.appbuilder.sm
            self.staff_user = sm.find_user(username="cs_staff")
            self.manager_id = sm.find_user(username="cs_manager").id
            self.staff_id, self.staff_name = self.staff_user.id, self.staff_user.username

    # --- helpers ------------------------------------------------------------------------------
    def _read(self, fn):
        """Run fn(conn) as the app's read-only requests do (a GET request context: deferred BEGIN on SQLite)."""
        with self.app.test_request_context("/", method="GET"), self.engine.connect() as conn:
            return fn(conn)

    @staticmethod
    def _now():
        from app.domain import calendar

        now = calendar.local_now()
        return {"now": now, "today": now.date()}

    def _measure(self, m: Measured, app_fn, raw_fn, check=None) -> Measured:
        if check is not None:
            try:
                m.problems += [p for p in check(app_fn(), raw_fn()) if p]
            except Exception as exc:  # noqa: BLE001 - a failed check is a finding, not a crash
                m.problems.append(f"check failed: {type(exc).__name__}: {exc}")
        with recording(self.engine) as statements:
            app_fn()
        m.statements = statements
        m.app = time_it(app_fn, self.repeats, self.warmups)
        m.raw = time_it(raw_fn, self.repeats, self.warmups)
        return m

    # --- lists ------------------------------------------------------------------------------
    def raw_list(self, columns: str, where: str, page_size: int, related: bool):
        count_sql = typed(f"SELECT count(*) FROM (SELECT c.id FROM complaint c WHERE {where} "
                          f"LIMIT {self.cap + 1}) AS capped", now="datetime", today="date")
        page_sql = typed(f"SELECT {columns} {COMPLAINT_FROM} WHERE {where} ORDER BY c.received_at DESC "
                         f"LIMIT {page_size} OFFSET 0", now="datetime", today="date")
        users_sql, units_sql = typed(USERS_SQL, ids="in"), typed(UNITS_SQL, ids="in")
        uses_now = ":now" in where

        def run():
            def work(conn):
                params = self._now() if uses_now else {}
                count = conn.execute(count_sql, params).scalar_one()
                rows = conn.execute(page_sql, params).all()
                if related and rows:
                    conn.execute(users_sql, {"ids": sorted({r.first_responsible_id for r in rows})}).all()
                    units = sorted({r.unit_id for r in rows if r.unit_id})
                    if units:
                        conn.execute(units_sql, {"ids": units}).all()
                return count, rows
            return self._read(work)

        return run

    def list_scenario(self, key: str, title: str, html_url: str, api_url_: str, where: str,
                      html_100: str, api_100: str) -> list[Measured]:
        staff = self.staff
        raw_html = self.raw_list(COMPLAINT_HTML_COLUMNS, where, 25, True)
        raw_api = self.raw_list(COMPLAINT_API_COLUMNS, where, 25, False)

        def check_html(body, raw):
            count, rows = raw
            problems = []
            shown = f"{self.cap:,}+" if count > self.cap else f"{count}"
            if shown not in body:
                problems.append(f"HTML {html_url}: the page does not show the count {shown!r}")
            missing = [complaint_number(r.id, r.received_at) for r in rows
                       if complaint_number(r.id, r.received_at) not in body]
            if missing:
                problems.append(f"HTML {html_url}: {len(missing)} of the raw SQL's {len(rows)} complaints are "
                                f"not on the page (e.g. {missing[0]})")
            return problems

        def check_api(data, raw):
            count, rows = raw
            problems = []
            if data.get("count") != count:
                problems.append(f"API {api_url_}: count {data.get('count')} but the raw SQL counts {count}")
            if data.get("ids") != [r.id for r in rows]:
                problems.append(f"API {api_url_}: the page's complaints differ from the raw SQL's")
            return problems

        html = self._measure(Measured(f"{key}_html", f"{title} — HTML", "list"),
                             lambda: staff.get_html(html_url), raw_html, check_html)
        html.statements_at_100 = len(staff.statements_of(lambda: staff.get_html(html_100)))
        api = self._measure(Measured(f"{key}_api", f"{title} — API", "list"),
                            lambda: staff.get_api(api_url_), raw_api, check_api)
        api.statements_at_100 = len(staff.statements_of(lambda: staff.get_api(api_100)))
        return [html, api]

    # --- the quick search (issue 14, item 4) ---------------------------------------------------
    def quick_search(self) -> list[Measured]:
        """The complaint list's search box (`_flt_0_quick`, what `q` redirects to) by a complaint number, a
        customer's full mobile, a unit «project building number» and a content word, each against raw SQL
        finding the same complaints through the same indexes."""
        sample = self._read(lambda conn: conn.execute(text(
            "SELECT c.id, c.received_at, c.content, cu.mobile, p.name AS project, b.name AS building, "
            "u.number AS unit FROM complaint c JOIN customer cu ON cu.id = c.customer_id "
            "JOIN unit u ON u.id = c.unit_id JOIN building b ON b.id = u.building_id "
            "JOIN project p ON p.id = b.project_id WHERE c.id >= :first AND cu.mobile IS NOT NULL "
            "ORDER BY c.id LIMIT 1"), {"first": self.first_bench_id + 12_345}).one())
        word = next((w for w in re.split(r"[，。、；：,.\s]+", sample.content) if len(w) >= 3), sample.content[:3])[:4]
        unit_text = f"{sample.project} {sample.building} {sample.unit}"

        def quoted(value: str) -> str:
            return "'" + value.replace("'", "''") + "'"

        cases = [
            ("quick_number", f"Quick search by complaint number {complaint_number(sample.id, sample.received_at)}",
             complaint_number(sample.id, sample.received_at), f"c.id = {sample.id}"),
            ("quick_mobile", "Quick search by a customer's full mobile",
             sample.mobile, f"c.customer_id IN (SELECT id FROM customer WHERE mobile = {quoted(sample.mobile)} "
                            f"OR phone = {quoted(sample.mobile)})"),
            ("quick_unit", f"Quick search by unit «{unit_text}»", unit_text,
             "c.unit_id IN (SELECT u.id FROM unit u JOIN building b ON b.id = u.building_id JOIN project p ON "
             f"p.id = b.project_id WHERE p.name = {quoted(sample.project)} AND b.name = {quoted(sample.building)} "
             f"AND u.number = {quoted(sample.unit)})"),
            ("quick_words", f"Quick search by a content word «{word}»", word,
             f"c.content LIKE {quoted('%' + word + '%')}"),
        ]
        found = []
        for key, title, box, where in cases:
            url = "/complaint/list/?" + urlencode({"_flt_0_quick": box})
            found.append(self.html_scenario(key, f"{title} — HTML", url, where))
        return found

    def html_scenario(self, key: str, title: str, html_url: str, where: str) -> Measured:
        raw_html = self.raw_list(COMPLAINT_HTML_COLUMNS, where, 25, True)

        def check_html(body, raw):
            count, rows = raw
            shown = f"{self.cap:,}+" if count > self.cap else f"{count}"
            problems = [] if shown in body else [f"HTML {html_url}: the page does not show the count {shown!r}"]
            missing = [complaint_number(r.id, r.received_at) for r in rows
                       if complaint_number(r.id, r.received_at) not in body]
            if missing:
                problems.append(f"HTML {html_url}: {len(missing)} of the raw SQL's {len(rows)} complaints are "
                                f"not on the page (e.g. {missing[0]})")
            if not rows:
                problems.append(f"HTML {html_url}: the raw SQL finds nothing (a search that finds nothing measures "
                                "nothing)")
            return problems

        return self._measure(Measured(key, title, "list"), lambda: self.staff.get_html(html_url), raw_html,
                             check_html)

    # --- my work ----------------------------------------------------------------------------
    def my_work(self, bench: Bench, user_id: int, username: str, sections: list[str]) -> Measured:
        sqls = [typed(MY_WORK_SQL.format(where=MINE_WHERE if s == "mine" else MANAGER_WHERE),
                      now="datetime", today="date") for s in sections]

        customers_sql = typed(MY_WORK_CUSTOMERS_SQL, ids="in")

        def raw():
            def work(conn):
                params = {**self._now(), "me": user_id, "yes": True}
                found = []
                for sql in sqls:
                    rows = conn.execute(sql, params).all()
                    if rows:
                        conn.execute(customers_sql, {"ids": sorted({r.customer_id for r in rows})}).all()
                    found.append(rows)
                return found
            return self._read(work)

        def check(body, found):
            problems = []
            for section, rows in zip(sections, found, strict=True):
                missing = [complaint_number(r.id, r.received_at) for r in rows[:100]
                           if complaint_number(r.id, r.received_at) not in body]
                if missing:
                    problems.append(f"my-work of {username}, section {section}: {len(missing)} of the raw SQL's "
                                    f"{min(100, len(rows))} complaints are not on the page (e.g. {missing[0]})")
            return problems

        counts = self._read(lambda conn: [len(rows) for rows in [conn.execute(sql, {
            **self._now(), "me": user_id, "yes": True}).all() for sql in sqls]])
        m = Measured(f"mywork_{username}", f"My work of {username} — HTML", "list",
                     note=", ".join(f"{s}: {'100+' if n > 100 else n} rows" for s, n in zip(sections, counts, strict=True))
                     + "; the raw SQL covers the complaint sections (the page also lists visits, rectification items "
                       "and return visits: none are seeded)")
        return self._measure(m, lambda: bench.get_html("/mywork/"), raw, check)

    # --- a transition -------------------------------------------------------------------------
    def transition(self) -> Measured:
        from app import audit
        from app.domain import calendar
        from app.models import ComplaintStep

        from .seed import full_row, insert_changes

        needed = self.warmups + self.repeats + 2
        ids = self._read(lambda conn: conn.execute(text(
            "SELECT id FROM complaint WHERE state = 'received' AND version = 1 AND id >= :first ORDER BY id "
            "LIMIT :n"), {"first": self.first_bench_id, "n": 2 * needed}).scalars().all())
        m = Measured("transition", "One transition (confirm a received complaint) — API", "transition",
                     note="POST /api/v1/complaint/<id>/transition as cs_staff, a different received complaint each "
                          "time; raw SQL: load the complaint, lock the audit chain head, UPDATE the complaint, "
                          "INSERT the step entry, INSERT its 2 audit rows, move the head, in one transaction")
        if len(ids) < 2 * needed:
            m.problems.append(f"only {len(ids)} received complaints to confirm, {2 * needed} needed")
            return m
        app_ids, raw_ids = iter(ids[:needed]), iter(ids[needed:])
        staff = self.staff
        body = {"action": "confirm", "version": 1, "confirmed_how": CONFIRMED_HOW}

        def app_fn():
            pk = next(app_ids)
            response = staff.api.post(f"/api/v1/complaint/{pk}/transition", json=body, headers=staff.headers)
            if response.status_code != 200 or response.get_json().get("state") != "confirmed":
                raise RuntimeError(f"POST transition of {pk}: {response.status_code} "
                                   f"{response.get_data(as_text=True)[:300]}")
            return pk

        sql = {name: typed(s, now="datetime", utc="datetime", at="datetime") for name, s in TRANSITION_SQL.items()}
        if self.is_pg:
            sql["head"] = text(TRANSITION_SQL["head"] + " FOR UPDATE")
        data = audit.canonical_json({"confirmed_how": CONFIRMED_HOW})

        def raw_fn():
            pk = next(raw_ids)
            # A POST request context: on SQLite the transaction starts with BEGIN IMMEDIATE, as the app's.
            with self.app.test_request_context("/", method="POST"), self.engine.begin() as conn:
                row = conn.execute(sql["load"], {"id": pk}).one()
                if row.state != "received":
                    raise RuntimeError(f"complaint {pk} is {row.state}")
                now, utc = calendar.local_now(), audit.utcnow()
                head = conn.execute(sql["head"]).one()
                if conn.execute(sql["update"], {"id": pk, "version": row.version, "how": CONFIRMED_HOW, "now": now,
                                                "utc": utc, "me": self.staff_id}).rowcount != 1:
                    raise RuntimeError(f"complaint {pk} changed meanwhile")
                step_id = conn.execute(sql["step"], {"id": pk, "me": self.staff_id, "name": self.staff_name,
                                                     "now": now, "data": data, "utc": utc}).scalar_one()
                step = full_row(ComplaintStep, dict(
                    id=step_id, complaint_id=pk, action="confirm", from_state="received", to_state="confirmed",
                    actor_id=self.staff_id, actor_name=self.staff_name, at=now, data=data, created_at=utc,
                    updated_at=utc, created_by_id=self.staff_id, updated_by_id=self.staff_id, version=1))
                entries = [("complaint_step", str(step_id), "insert", insert_changes(ComplaintStep, step)),
                           ("complaint", str(pk), "update", audit.canonical_json({
                               "confirmed_how": [None, CONFIRMED_HOW], "state": ["received", "confirmed"],
                               "state_changed_at": [audit._jsonable(row.state_changed_at), audit._jsonable(now)]}))]
                seq, prev = head.seq, head.hash
                rows = []
                for table_name, record_id, action, changes in entries:
                    seq += 1
                    digest = audit.row_hash(prev, seq, utc, self.staff_id, self.staff_name, table_name, record_id,
                                            action, changes, key=audit.audit_key())
                    rows.append(dict(seq=seq, at=utc, actor_id=self.staff_id, actor_name=self.staff_name,
                                     table_name=table_name, record_id=record_id, action=action, changes=changes,
                                     prev_hash=prev, hash=digest))
                    prev = digest
                conn.execute(sql["audit"], rows)
                conn.execute(sql["move_head"], {"seq": seq, "hash": prev})
            return pk

        def check(app_pk, raw_pk):
            def work(conn):
                found = conn.execute(text(
                    "SELECT c.id, c.state, c.version, count(s.id) AS steps FROM complaint c JOIN complaint_step s "
                    "ON s.complaint_id = c.id AND s.action = 'confirm' WHERE c.id IN (:a, :b) GROUP BY c.id, c.state, "
                    "c.version"), {"a": app_pk, "b": raw_pk}).all()
                return {r.id: (r.state, r.version, r.steps) for r in found}
            found = self._read(work)
            return [f"complaint {pk} after the {who} transition: {found.get(pk)}, expected ('confirmed', 2, 1)"
                    for who, pk in (("app's", app_pk), ("raw SQL's", raw_pk)) if found.get(pk) != ("confirmed", 2, 1)]

        return self._measure(m, app_fn, raw_fn, check)

    # --- the monthly statistics -------------------------------------------------------------
    def raw_stats(self, ledger_limit: int):
        from app.domain import calendar
        from app.domain.complaint_stats import month_bounds

        start, end = month_bounds(self.month)
        groups_sql = typed(STATS_GROUPS_SQL, start="datetime", end="datetime", now="datetime", today="date")
        closings_sql = typed(STATS_CLOSINGS_PG_SQL if self.is_pg else STATS_CLOSINGS_SQL, start="datetime",
                             end="datetime")
        calendar_sql = typed(STATS_CALENDAR_SQL, first="date", last="date")
        ledger_sql = typed(STATS_LEDGER_SQL, start="datetime", end="datetime", now="datetime", today="date")

        def run():
            def work(conn):
                as_of = min(end, calendar.local_now())
                params = {"start": start, "end": end, "now": as_of, "today": as_of.date()}
                departments = conn.execute(text("SELECT id, name FROM department ORDER BY id")).all()
                groups = conn.execute(groups_sql, params).all()
                closings = conn.execute(closings_sql, params).all()
                closed = closings[0][0] if self.is_pg else len(closings)
                days = conn.execute(calendar_sql, {"first": start.date().replace(month=1, day=1),
                                                   "last": end.date().replace(month=12, day=31)}).all()
                ledger = conn.execute(ledger_sql, {**params, "limit": ledger_limit}).all()
                return departments, groups, closed, days, ledger
            return self._read(work)

        return run

    def stats(self) -> list[Measured]:
        manager = self.manager
        api_url_ = f"/api/v1/complaint/stats?month={self.month}"
        html_url = f"/complaintstats/?month={self.month}"

        def check_api(data, raw):
            _departments, groups, closed, _days, ledger = raw
            problems = []
            total, overdue = sum(g.n for g in groups), sum(int(g.overdue or 0) for g in groups)
            if data.get("total") != total:
                problems.append(f"stats API: total {data.get('total')}, the raw SQL counts {total}")
            if (data.get("overdue") or {}).get("total") != overdue:
                problems.append(f"stats API: overdue {(data.get('overdue') or {}).get('total')}, raw SQL {overdue}")
            if (data.get("time_to_close") or {}).get("closed") != closed:
                problems.append(f"stats API: {(data.get('time_to_close') or {}).get('closed')} closed, raw SQL "
                                f"{closed}")
            if [r["id"] for r in data.get("ledger", [])] != [r[0] for r in ledger]:
                problems.append("stats API: the ledger's complaints differ from the raw SQL's")
            if not total:
                problems.append(f"no complaint was received in {self.month}")
            return problems

        def check_html(body, raw):
            ledger = raw[4]
            missing = [complaint_number(r[0], r[1]) for r in ledger if complaint_number(r[0], r[1]) not in body]
            return [f"stats page: {len(missing)} of the raw SQL's {len(ledger)} ledger rows are not on the page"] \
                if missing else []

        api = self._measure(Measured("stats_api", f"Monthly statistics {self.month} (ledger of 1,000) — API", "stats"),
                            lambda: manager.get_api(api_url_), self.raw_stats(1000), check_api)
        html = self._measure(Measured("stats_html", f"Monthly statistics {self.month} (ledger page of 100) — HTML",
                                      "stats"), lambda: manager.get_html(html_url), self.raw_stats(100), check_html)
        return [api, html]

    # --- everything -------------------------------------------------------------------------
    def scenarios(self):
        """(title, callable returning [Measured]) in the order they run (the transition last: it writes)."""
        overdue = [{"col": "state", "opr": "eq", "value": "handling"}, {"col": "state", "opr": "overdue", "value": True}]
        filtered_where = f"c.state = 'handling' AND {OVERDUE_SQL}"
        return [
            ("complaints list, page 1", lambda: self.list_scenario(
                "list", "Complaints list, page 1", "/complaint/list/", complaints_api_url(), "1 = 1",
                "/complaint/list/?psize_ComplaintView=100", complaints_api_url(100))),
            ("filtered list (state handling + overdue)", lambda: self.list_scenario(
                "filtered", "Complaints handling and overdue, page 1",
                "/complaint/list/?_flt_0_state=handling&_flt_0_overdue=y", complaints_api_url(filters=overdue),
                filtered_where, "/complaint/list/?_flt_0_state=handling&_flt_0_overdue=y&psize_ComplaintView=100",
                complaints_api_url(100, overdue))),
            ("quick search", self.quick_search),
            ("my work of cs_staff", lambda: [self.my_work(self.staff, self.staff_id, "cs_staff", ["mine"])]),
            ("my work of cs_manager", lambda: [self.my_work(self.manager, self.manager_id, "cs_manager",
                                                            ["mine", "manager"])]),
            ("monthly statistics", self.stats),
            ("one transition", lambda: [self.transition()]),
        ]
