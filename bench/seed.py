"""Bulk seeding: estates, units, N customers and their units, M complaints with their `receive` step
entry, each row with its audit row chained in bulk.

Rows are written with Core executemany on SQLite and COPY on PostgreSQL, never through the ORM. The
audit rows are built exactly as app.audit.append builds them (same canonical changes JSON, same
microsecond timestamps, app.audit.row_hash), continue from the audit_chain_head row, and the head row
is moved in the same transaction as each batch, so `audit verify` passes afterwards.
`check_against_orm` proves the bulk changes JSON equals what the app's flush hook writes;
`check_complaints_against_domain` proves the same for complaints and their step entries, and that a
generated complaint in each state has exactly the fields (and values) the workflow would have left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Table, create_engine, event, func, insert, inspect, select, text, update

from app import audit
from app.demo import PATH, STOP_AFTER
from app.domain import approvals, calendar, complaints, records
from app.domain.privacy import mask
from app.domain.roles import CS_STAFF
from app.domain.rules import field_errors
from app.models import (
    AuditChainHead,
    AuditLog,
    Building,
    Complaint,
    ComplaintStep,
    Customer,
    CustomerUnit,
    Department,
    Project,
    Unit,
    UserDepartment,
)

from .data import (
    BUILDINGS_PER_PROJECT,
    COMPLAINT_DAYS,
    COMPLAINT_STATES,
    CS_TEAM,
    DOORS,
    FLOORS,
    LINK_RATE,
    RECEIVER_SHARES,
    REJECTED_REPLY,
    STATE_CODES,
    UNITS_PER_PROJECT,
    ComplaintContext,
    ComplaintGenerator,
    Deadlines,
    Generator,
    receive_step,
    stamp,
    units_needed,
)

AUDIT_COLUMNS = ("seq", "at", "actor_id", "actor_name", "table_name", "record_id", "action", "changes",
                 "prev_hash", "hash")


@dataclass
class SeedStats:
    customers: int = 0
    customer_units: int = 0
    projects: int = 0
    buildings: int = 0
    units: int = 0
    audit_rows: int = 0
    complaints: int = 0
    complaint_steps: int = 0
    complaint_audit_rows: int = 0
    complaint_states: dict[str, int] = field(default_factory=dict)
    cs_team: int = 0  # bench customer-service users added
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return (self.customers + self.customer_units + self.projects + self.buildings + self.units + self.audit_rows
                + self.complaints + self.complaint_steps + self.complaint_audit_rows)


# --- writers ---------------------------------------------------------------------------------------

class SqliteWriter:
    """executemany of the Core insert per table and batch: the statement is compiled once per column set and
    the driver's executemany gets the rows with SQLAlchemy's own bind processors applied (dates, numerics),
    so the stored values are exactly what an ORM insert stores, without the per-row parameter machinery."""

    def __init__(self):
        self._compiled: dict = {}

    @staticmethod
    def on_connect(dbapi_connection, _record) -> None:
        # The seeding engine's own connections only (the app's pool keeps its settings).
        dbapi_connection.execute("PRAGMA cache_size=-262144")  # a 256 MB page cache
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    def _statement(self, conn, table: Table, columns: tuple[str, ...]):
        key = (table.name, columns)
        if key not in self._compiled:
            compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(columns))
            order = [columns.index(name) for name in compiled.positiontup]
            processors = [(i, table.c[columns[i]].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
                          for i in order]
            self._compiled[key] = (str(compiled), order, [(pos, p) for pos, (_i, p) in enumerate(processors) if p])
        return self._compiled[key]

    def insert(self, conn, table: Table, rows: list[dict]) -> None:
        if not rows:
            return
        sql, order, processors = self._statement(conn, table, tuple(rows[0]))
        params = []
        for row in rows:
            values = list(row.values())
            values = [values[i] for i in order]
            for pos, process in processors:
                if values[pos] is not None:
                    values[pos] = process(values[pos])
            params.append(tuple(values))
        conn.exec_driver_sql(sql, params)


class PostgresWriter:
    """COPY ... FROM STDIN through psycopg's cursor.copy, inside the batch's transaction."""

    on_connect = None

    def insert(self, conn, table: Table, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        names = ", ".join(f'"{c}"' for c in columns)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


# --- the audit rows ---------------------------------------------------------------------------------

def insert_changes(model, row: dict) -> str:
    """The canonical changes JSON of an insert, as app.audit._diff + append produce it."""
    personal = getattr(model, "__personal_fields__", ())
    plain = (str, int)
    jsonable = audit._jsonable
    return audit.canonical_json({
        key: [None, mask(key, value) if key in personal else (value if type(value) in plain else jsonable(value))]
        for key, value in row.items() if value is not None and key != "id"
    })


class Chain:
    """Appends audit rows in memory, continuing from the chain head read in the batch's transaction."""

    def __init__(self, actor_id: int | None, actor_name: str):
        self.actor_id, self.actor_name = actor_id, actor_name
        self.seq, self.prev = 0, ""  # set by lock_head
        self.rows: list[dict] = []

    def lock_head(self, conn) -> None:
        head = conn.execute(select(AuditChainHead.seq, AuditChainHead.hash)
                            .where(AuditChainHead.id == 1).with_for_update()).one()
        self.seq, self.prev = head.seq, head.hash
        self.key = audit.audit_key()  # rows are keyed like app.audit.append's
        self.rows = []

    def add_inserts(self, model, rows: list[dict], at, actors: list[tuple[int, str]] | None = None) -> None:
        """One insert row per row, by the chain's actor or, with `actors`, by the actor of each row."""
        table_name = model.__table__.name
        actor_id, actor_name = self.actor_id, self.actor_name
        seq, prev = self.seq, self.prev
        out = self.rows
        row_hash = audit.row_hash
        for i, row in enumerate(rows):
            if actors is not None:
                actor_id, actor_name = actors[i]
            seq += 1
            changes = insert_changes(model, row)
            record_id = str(row["id"])
            digest = row_hash(prev, seq, at, actor_id, actor_name, table_name, record_id, "insert", changes,
                              key=self.key)
            out.append(dict(seq=seq, at=at, actor_id=actor_id, actor_name=actor_name, table_name=table_name,
                            record_id=record_id, action="insert", changes=changes, prev_hash=prev, hash=digest))
            prev = digest
        self.seq, self.prev = seq, prev

    def flush(self, conn, writer) -> int:
        written = len(self.rows)
        writer.insert(conn, AuditLog.__table__, self.rows)
        conn.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(seq=self.seq, hash=self.prev))
        self.rows = []
        return written


# --- the seeder --------------------------------------------------------------------------------------

def full_row(model, values: dict) -> dict:
    """Every column of the table (None where unset), so that every row of a batch has the same keys."""
    row = dict.fromkeys(model.__table__.columns.keys())
    row.update(values)
    return row


class Seeder:
    def __init__(self, app, customers: int, log: Callable[[str], None] = print, batch: int = 20_000,
                 complaints: int = 0, password: str | None = None):
        self.app, self.n, self.log, self.batch = app, customers, log, batch
        self.n_complaints, self.password = complaints, password
        self.url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.is_pg = self.url.startswith("postgresql")
        self.writer = PostgresWriter() if self.is_pg else SqliteWriter()
        self.gen = Generator()
        self.stats = SeedStats()
        self.links: list[tuple[int, int]] = []  # (customer id, unit id) of the bench customers' unit links
        self.customer_ids = (0, -1)  # first and last bench customer id

    def run(self, actor_username: str = "admin") -> SeedStats:
        from app.extensions import db

        with self.app.app_context():
            actor = self.app.appbuilder.sm.find_user(username=actor_username)
            self.actor_id, self.actor_name = actor.id, actor.username
            self.check_against_orm(db.session, actor)
            db.session.remove()
        engine = create_engine(self.url)
        if self.writer.on_connect:
            event.listen(engine, "connect", self.writer.on_connect)
        started = time.perf_counter()
        try:
            # In the app's context: the audit rows are keyed with its audit key (app.audit.audit_key).
            with self.app.app_context(), engine.connect() as conn:
                t = time.perf_counter()
                units = self.seed_properties(conn)
                self.stats.phases["projects, buildings, units"] = time.perf_counter() - t
                t = time.perf_counter()
                self.seed_customers(conn, units)
                self.stats.phases["customers and their units"] = time.perf_counter() - t
                if self.n_complaints:
                    t = time.perf_counter()
                    prepared = self.prepare_complaints()
                    self.stats.phases["complaint checks and schedule"] = time.perf_counter() - t
                    t = time.perf_counter()
                    self.seed_complaints(conn, prepared)
                    self.stats.phases["complaints and their steps"] = time.perf_counter() - t
                if self.is_pg:
                    t = time.perf_counter()
                    for table in ("project", "building", "unit", "customer", "customer_unit", "complaint",
                                  "complaint_step"):
                        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                             f"(SELECT max(id) FROM {table}))")
                    conn.commit()
                    # What autovacuum would do soon after a bulk load: statistics and the visibility map.
                    conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
                    self.stats.phases["VACUUM ANALYZE"] = time.perf_counter() - t
        finally:
            engine.dispose()
        self.stats.seconds = time.perf_counter() - started
        return self.stats

    # --- proof that the bulk audit rows equal the app's --------------------------------------
    def check_against_orm(self, session, actor) -> None:
        """Insert one generated customer and unit link through the app's domain layer (in a transaction
        rolled back afterwards) and compare the audit rows its flush hook wrote with the bulk ones."""
        gen = Generator(seed=1)
        values = {Customer: gen.customer(10**9, linked=True)}
        customer = Customer(**values[Customer])
        unit = session.scalars(select(Unit).order_by(Unit.id).limit(1)).first()
        try:
            records.create(session, customer, actor)
            purchase = gen.purchase(unit.area)
            link = CustomerUnit(customer=customer, unit=unit, **purchase)
            records.create(session, link, actor)
            values[CustomerUnit] = dict(customer_id=customer.id, unit_id=unit.id, **purchase)
            for obj in (customer, link):
                model = type(obj)
                stored = session.execute(select(AuditLog.changes).where(
                    AuditLog.table_name == model.__table__.name, AuditLog.record_id == str(obj.id))).scalar_one()
                bulk_row = stamp(full_row(model, {"id": obj.id, **values[model]}), actor.id, obj.created_at)
                mine = insert_changes(model, bulk_row)
                if mine != stored:
                    raise RuntimeError(f"bulk audit changes differ from the app's for {model.__name__}:\n"
                                       f"  app:  {stored}\n  bulk: {mine}")
        finally:
            session.rollback()
        for i in range(2000):  # the generated data passes the app's own field rules
            errors = field_errors(Customer(**gen.customer(i, linked=i % 5 == 0)))
            if errors:
                raise RuntimeError(f"generated customer {i} breaks the field rules: {errors}")
        self.log("  bulk audit rows match the app's flush hook (customer, customer_unit); "
                 "generated customers pass the field rules")

    # --- batches ---------------------------------------------------------------------------
    def _next_id(self, conn, model) -> int:
        return (conn.scalar(select(func.max(model.id))) or 0) + 1

    def _write_batch(self, conn, tables: list[tuple], chain: Chain) -> int:
        """tables: [(model, rows)], rows already stamped; writes them and their audit rows, moves the head."""
        for model, rows in tables:
            self.writer.insert(conn, model.__table__, rows)
        return chain.flush(conn, self.writer)

    def seed_properties(self, conn) -> list[tuple[int, object]]:
        """Estates of 12 buildings x 30 floors x 4 doors; returns [(unit id, unit area)] for the links."""
        gen, chain = self.gen, Chain(self.actor_id, self.actor_name)
        wanted_units = units_needed(self.n)
        projects = -(-wanted_units // UNITS_PER_PROJECT)
        taken = set(conn.scalars(select(Project.name)))
        names = gen.estate_names(projects, taken)
        project_id, building_id, unit_id = (self._next_id(conn, m) for m in (Project, Building, Unit))
        conn.rollback()
        units: list[tuple[int, object]] = []
        for p in range(projects):
            conn.begin()
            chain.lock_head(conn)
            at = audit.utcnow()
            project = stamp(full_row(Project, dict(
                id=project_id, code=f"B{p + 1:04d}", name=names[p], city="杭州",
                address=gen.address())), self.actor_id, at)
            buildings, unit_rows = [], []
            for b in range(1, BUILDINGS_PER_PROJECT + 1):
                buildings.append(stamp(full_row(Building, dict(
                    id=building_id, project_id=project_id, name=f"{b}栋", floors=FLOORS)), self.actor_id, at))
                for floor in range(1, FLOORS + 1):
                    for door in range(1, DOORS + 1):
                        area = gen.unit_area(door)
                        unit_rows.append(stamp(full_row(Unit, dict(
                            id=unit_id, building_id=building_id, number=f"{floor}{door:02d}", floor=floor,
                            area=area)), self.actor_id, at))
                        units.append((unit_id, area))
                        unit_id += 1
                building_id += 1
            project_id += 1
            chain.add_inserts(Project, [project], at)
            chain.add_inserts(Building, buildings, at)
            chain.add_inserts(Unit, unit_rows, at)
            audited = self._write_batch(conn, [(Project, [project]), (Building, buildings), (Unit, unit_rows)],
                                        chain)
            conn.commit()
            self.stats.projects += 1
            self.stats.buildings += len(buildings)
            self.stats.units += len(unit_rows)
            self.stats.audit_rows += audited
        self.log(f"  {projects} estates, {self.stats.buildings:,} buildings, {self.stats.units:,} units")
        return units

    def seed_customers(self, conn, units: list[tuple[int, object]]) -> None:
        gen, chain, n = self.gen, Chain(self.actor_id, self.actor_name), self.n
        customer_id, link_id = self._next_id(conn, Customer), self._next_id(conn, CustomerUnit)
        conn.rollback()
        next_unit = 0
        started = last_log = time.perf_counter()
        logged_at = 0
        self.customer_ids = (customer_id, customer_id + n - 1)
        for start in range(0, n, self.batch):
            stop = min(n, start + self.batch)
            conn.begin()
            chain.lock_head(conn)
            at = audit.utcnow()
            customers, links = [], []
            for i in range(start, stop):
                linked = next_unit < len(units) and gen.rng.random() < LINK_RATE
                customers.append(stamp(full_row(Customer, dict(id=customer_id, **gen.customer(i, linked))),
                                       self.actor_id, at))
                if linked:
                    unit, area = units[next_unit]
                    next_unit += 1
                    links.append(stamp(full_row(CustomerUnit, dict(
                        id=link_id, customer_id=customer_id, unit_id=unit, **gen.purchase(area))), self.actor_id, at))
                    self.links.append((customer_id, unit))
                    link_id += 1
                customer_id += 1
            chain.add_inserts(Customer, customers, at)
            chain.add_inserts(CustomerUnit, links, at)
            audited = self._write_batch(conn, [(Customer, customers), (CustomerUnit, links)], chain)
            conn.commit()
            self.stats.customers += len(customers)
            self.stats.customer_units += len(links)
            self.stats.audit_rows += audited
            now = time.perf_counter()
            if stop == n or stop - logged_at >= max(n // 20, self.batch) or now - last_log > 30:
                rate = stop / (now - started)
                self.log(f"  customers {stop:>10,}/{n:,}  {rate:>9,.0f} customers/s  "
                         f"({(stop + self.stats.customer_units) * 2 / (now - started):,.0f} rows/s "
                         f"with unit links and audit rows)")
                logged_at, last_log = stop, now

    # --- complaints --------------------------------------------------------------------------
    def prepare_complaints(self) -> tuple[ComplaintGenerator, list]:
        """The bench customer-service team, the generator's context, the checks against the domain, and the
        moments of receipt of every complaint (oldest first)."""
        from app.extensions import db

        with self.app.app_context():
            session = db.session
            sm = self.app.appbuilder.sm
            self.stats.cs_team = add_cs_team(session, sm, self.gen, self.password)
            users = [sm.find_user(username=name) for name in ("cs_staff", "cs_manager")]
            team = [sm.find_user(username=f"kf{i:02d}") for i in range(1, CS_TEAM + 1)]
            receivers = [(u.id, u.username) for u in users + team]
            rest = (1 - sum(RECEIVER_SHARES.values())) / CS_TEAM
            weights = [RECEIVER_SHARES["cs_staff"], RECEIVER_SHARES["cs_manager"]] + [rest] * CS_TEAM
            departments = {d.code: d.id for d in session.scalars(select(Department))}
            now = calendar.local_now()
            first, last = self.customer_ids
            ctx = ComplaintContext(now=now, owners=self.links, first_customer=first, last_customer=last,
                                   unit_of=dict(self.links), receivers=receivers, receiver_weights=weights,
                                   departments=departments, manager=receivers[1])
            deadlines = Deadlines(calendar.WorkCalendar(session), (now - timedelta(days=COMPLAINT_DAYS + 2)).date(),
                                  now.date() + timedelta(days=400))
            check_complaints_against_domain(session, sm, ctx, deadlines, self.log)
            taken = set(session.scalars(select(Complaint.received_at)))
            db.session.remove()
        generator = ComplaintGenerator(ctx, deadlines)
        schedule = generator.schedule(self.n_complaints, taken)
        return generator, schedule

    def seed_complaints(self, conn, prepared: tuple[ComplaintGenerator, list]) -> None:
        generator, schedule = prepared
        chain, n = Chain(self.actor_id, self.actor_name), len(schedule)
        complaint_id, step_id = self._next_id(conn, Complaint), self._next_id(conn, ComplaintStep)
        conn.rollback()
        states = dict.fromkeys(STATE_CODES, 0)
        started = last_log = time.perf_counter()
        logged_at = 0
        for start in range(0, n, self.batch):
            stop = min(n, start + self.batch)
            conn.begin()
            chain.lock_head(conn)
            at = audit.utcnow()
            rows, steps, actors = [], [], []
            for received, final in schedule[start:stop]:
                values, receiver = generator.complaint(complaint_id, received, final)
                rows.append(stamp(full_row(Complaint, values), receiver[0], at))
                steps.append(stamp(full_row(ComplaintStep, receive_step(step_id, values, receiver)), receiver[0], at))
                actors.append(receiver)
                states[final] += 1
                complaint_id += 1
                step_id += 1
            chain.add_inserts(Complaint, rows, at, actors)
            chain.add_inserts(ComplaintStep, steps, at, actors)
            audited = self._write_batch(conn, [(Complaint, rows), (ComplaintStep, steps)], chain)
            conn.commit()
            self.stats.complaints += len(rows)
            self.stats.complaint_steps += len(steps)
            self.stats.complaint_audit_rows += audited
            now = time.perf_counter()
            if stop == n or stop - logged_at >= max(n // 10, self.batch) or now - last_log > 30:
                self.log(f"  complaints {stop:>10,}/{n:,}  {stop / (now - started):>9,.0f} complaints/s  "
                         f"({stop * 4 / (now - started):,.0f} rows/s with their steps and audit rows)")
                logged_at, last_log = stop, now
        self.stats.complaint_states = states


def count_rows(conn) -> dict[str, int]:
    return {name: conn.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in ("customer", "customer_unit", "unit", "complaint", "complaint_step", "audit_log")}


# --- complaints --------------------------------------------------------------------------------------

# Columns whose value is the moment a step was taken (now, when the domain walks a complaint).
STEP_MOMENTS = frozenset({"state_changed_at", "closed_at", "return_visited_at", "return_visit_due_at"})
NOT_FIELDS = frozenset({"id", "created_at", "updated_at", "created_by_id", "updated_by_id", "version"})


def add_cs_team(session, sm, gen: Generator, password: str | None) -> int:
    """CS_TEAM customer-service staff (kf01, kf02, ...) in the customer-service department."""
    import secrets

    role = sm.find_role(CS_STAFF)
    department = session.scalar(select(Department).where(Department.is_customer_service.is_(True))
                                .order_by(Department.id))
    added = 0
    for i in range(1, CS_TEAM + 1):
        username = f"kf{i:02d}"
        if sm.find_user(username=username) is not None:
            continue
        name = gen.person_name()
        user = sm.add_user(username, name, "", f"{username}@kefu.example", role, password or secrets.token_urlsafe(12))
        if not user:
            raise RuntimeError(f"could not add the bench user {username}")
        with audit.acting_as(session, audit.SYSTEM), records.unit_of_work(session):
            session.add(UserDepartment(user_id=user.id, department_id=department.id))
        added += 1
    return added


# --- proof that bulk complaints are what the workflow writes ---------------------------------------

# The step fields kept in the step entry only (not columns of the complaint).
STEP_ONLY = frozenset(name for step in complaints.STEPS for name, spec in step.fields.items() if not spec.stored)


def check_complaints_against_domain(session, sm, ctx: ComplaintContext, deadlines: Deadlines, log) -> None:
    """In a transaction rolled back afterwards: (1) the bulk deadlines equal WorkCalendar's; (2) a complaint
    received through complaints.open_complaint gets the same audit rows (complaint and `receive` step) as
    the bulk ones; (3) a generated complaint of each state, walked through complaints.transition (and the
    general manager's approvals), ends with exactly the generated fields set, to the same values (the
    moments of the steps aside); (4) 3,000 generated complaints pass the steps' field parsers and have every
    field their steps require."""
    import random

    rng = random.Random(7)
    work = calendar.WorkCalendar(session)
    for _ in range(20_000):
        start = ctx.now - timedelta(days=rng.uniform(0, COMPLAINT_DAYS), seconds=rng.randrange(86400))
        start = start.replace(microsecond=0)
        days = rng.choice((0.25, 0.5, 1.5, 3, 3.5, 7))
        if deadlines.add(start, days) != work.add_working_days(start, days):
            raise RuntimeError(f"bulk deadline of {start} + {days} working days differs: {deadlines.add(start, days)} "
                               f"!= {work.add_working_days(start, days)}")

    gen = ComplaintGenerator(ctx, deadlines, seed=1)
    users = {uid: sm.get_user_by_id(uid) for uid, _name in ctx.receivers}
    gm = sm.find_user(username="gm")
    variants = [(state, None) for state in STATE_CODES]
    variants += [("fed_back", "serious"), ("closed", "serious"), ("handling", "rehandled"), ("fed_back", "rehandled")]
    try:
        for index, (state, variant) in enumerate(variants):
            row = receiver = None
            for _ in range(5000):
                age = next(a for s, _sh, _m, a in COMPLAINT_STATES if s == state)
                received = (ctx.now - timedelta(days=rng.uniform(*age))).replace(microsecond=0)
                received = min(received, ctx.now - timedelta(minutes=30))
                row, receiver = gen.complaint(10**9 + index, received, state)
                if variant is None or (variant == "serious" and row.get("severity") in complaints.SERIOUS) or (
                        variant == "rehandled" and row.get("rehandling_count")):
                    break
            else:
                raise RuntimeError(f"the generator made no {variant} {state} complaint")
            actor = users[receiver[0]]
            complaint = complaints.open_complaint(
                session, actor, channel=row["channel"], customer_id=row["customer_id"], content=row["content"],
                received_at=row["received_at"], unit_id=row["unit_id"])
            if index == 0:
                _compare_receipt(session, complaint, row, receiver)
            _walk(session, complaint, row, state, actor, users[ctx.manager[0]], gm)
            walked = {c.key: getattr(complaint, c.key) for c in inspect(Complaint).column_attrs
                      if c.key not in NOT_FIELDS}
            made = {k: v for k, v in row.items() if k not in NOT_FIELDS}
            set_walked = {k for k, v in walked.items() if v is not None}
            set_made = {k for k, v in made.items() if v is not None}
            if set_walked != set_made:
                raise RuntimeError(f"a generated {state} complaint ({variant or 'plain'}) has other fields than the "
                                   f"workflow leaves: only generated {sorted(set_made - set_walked)}, only walked "
                                   f"{sorted(set_walked - set_made)}")
            differ = {k: (made[k], walked[k]) for k in set_made - STEP_MOMENTS if made[k] != walked[k]}
            if differ:
                raise RuntimeError(f"a generated {state} complaint ({variant or 'plain'}) differs from the walked "
                                   f"one: {differ}")
    finally:
        session.rollback()

    required_of = {}
    for state in STATE_CODES:
        path = ("close_invalid",) if state == "closed_invalid" else complaints_path(state)
        required_of[state] = {name for action in path for name in complaints.STEP_BY_ACTION[action].required
                              if name not in STEP_ONLY}
    for i in range(3000):
        state = STATE_CODES[i % len(STATE_CODES)]
        age = 30 if state in ("fed_back", "closed_invalid", "return_visited") else 3
        row, _receiver = gen.complaint(i, ctx.now - timedelta(days=age, seconds=rng.randrange(86400)), state)
        for name, value in row.items():
            if name in complaints.FIELDS and value is not None:
                try:
                    parsed = complaints.FIELDS[name](value)
                except ValueError as exc:
                    raise RuntimeError(f"generated {state} complaint: {name}={value!r} is refused: {exc}") from None
                if parsed != value:
                    raise RuntimeError(f"generated {state} complaint: {name}={value!r} is parsed as {parsed!r}")
        missing = sorted(name for name in required_of[state] if row.get(name) is None)
        if missing:
            raise RuntimeError(f"generated {state} complaint lacks required fields {missing}")
    log("  bulk deadlines equal WorkCalendar's; bulk audit rows match the app's (complaint, complaint_step); "
        f"generated complaints of {len(variants)} kinds equal the same ones walked through the workflow; "
        "generated complaints pass the steps' field rules")


def complaints_path(state: str) -> tuple[str, ...]:
    return PATH[:STOP_AFTER[state]]


def _compare_receipt(session, complaint, row: dict, receiver: tuple[int, str]) -> None:
    step = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)).one()
    bulk_complaint = stamp(full_row(Complaint, {**row, "id": complaint.id}), receiver[0], complaint.created_at)
    bulk_step = stamp(full_row(ComplaintStep, {**receive_step(step.id, {**row, "id": complaint.id}, receiver),
                                               "at": step.at}), receiver[0], step.created_at)
    for model, obj, bulk in ((Complaint, complaint, bulk_complaint), (ComplaintStep, step, bulk_step)):
        stored = session.execute(select(AuditLog.changes).where(
            AuditLog.table_name == model.__table__.name, AuditLog.record_id == str(obj.id),
            AuditLog.action == "insert")).scalar_one()
        mine = insert_changes(model, bulk)
        if mine != stored:
            raise RuntimeError(f"bulk audit changes differ from the app's for {model.__name__}:\n"
                               f"  app:  {stored}\n  bulk: {mine}")


def _walk(session, complaint, row: dict, state: str, receiver, manager, gm) -> None:
    """Take the steps that lead to `state` with the generated values, as the people who take them."""
    serious = row.get("severity") in complaints.SERIOUS
    rehandlings = row.get("rehandling_count") or 0

    def step(action, actor, fields=None):
        if fields is None:
            table = complaints.STEP_BY_ACTION[action]
            fields = {name: row[name] for name in (*table.required, *table.optional)
                      if name not in STEP_ONLY and row.get(name) is not None}
            deadline, close_by = fields.get("handling_deadline"), complaint.close_due_at
            if action == "start_handling" and deadline and close_by and deadline > close_by.date():
                fields["deadline_reason"] = "需等待材料到货，已与客户商定"  # the domain asks why (kept in the step entry)
        if action == "start_handling":  # the deadline was set on the day of the complaint, not in the past then
            with calendar.clock_at(row["received_at"]):
                complaints.transition(session, complaint, action, actor, complaint.version, fields)
            return
        complaints.transition(session, complaint, action, actor, complaint.version, fields)

    def rejected_reply(satisfaction):
        step("reply", receiver, {"reply_result": REJECTED_REPLY, "customer_accepted": False,
                                 "satisfaction": satisfaction})
        step("add_progress", manager, {"progress_note": "重新安排处理", "customer_told_how": "电话告知客户"})

    def decide(kind):
        approvals.decide(session, approvals.pending_for(session, complaint, kind), "approve", "同意", gm)

    if state == "closed_invalid":
        step("close_invalid", receiver)
        return
    for action in complaints_path(state):
        if action == "assess":
            step("assess", manager if serious else receiver)
            if serious:
                decide("complaint_plan")
        elif action == "assign":  # the CS manager's (SPEC §1)
            step("assign", manager)
        elif action == "start_handling":
            step("start_handling", manager)
            if state == "handling":
                for _ in range(rehandlings):
                    rejected_reply(row["satisfaction"])
        elif action == "reply":
            for _ in range(rehandlings):
                rejected_reply(1)
            step("reply", receiver)
        elif action == "close":
            step("close", manager)
            if serious:
                decide("complaint_close")
        elif action == "feed_back":
            step("feed_back", manager)
        else:
            step(action, receiver)
