"""Bulk seeding: estates, units, N customers and their units, each row with its audit row chained in bulk.

Rows are written with Core executemany on SQLite and COPY on PostgreSQL, never through the ORM. The
audit rows are built exactly as app.audit.append builds them (same canonical changes JSON, same
microsecond timestamps, app.audit.row_hash), continue from the audit_chain_head row, and the head row
is moved in the same transaction as each batch, so `audit verify` passes afterwards.
`check_against_orm` proves the bulk changes JSON equals what the app's flush hook writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Table, create_engine, event, func, insert, select, text, update

from app import audit
from app.domain import records
from app.domain.privacy import mask
from app.domain.rules import field_errors
from app.models import AuditChainHead, AuditLog, Building, Customer, CustomerUnit, Project, Unit

from .data import (
    BUILDINGS_PER_PROJECT,
    DOORS,
    FLOORS,
    LINK_RATE,
    UNITS_PER_PROJECT,
    Generator,
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
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.customers + self.customer_units + self.projects + self.buildings + self.units + self.audit_rows


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
        self.rows = []

    def add_inserts(self, model, rows: list[dict], at) -> None:
        table_name = model.__table__.name
        actor_id, actor_name = self.actor_id, self.actor_name
        seq, prev = self.seq, self.prev
        out = self.rows
        row_hash = audit.row_hash
        for row in rows:
            seq += 1
            changes = insert_changes(model, row)
            record_id = str(row["id"])
            digest = row_hash(prev, seq, at, actor_id, actor_name, table_name, record_id, "insert", changes)
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
    def __init__(self, app, customers: int, log: Callable[[str], None] = print, batch: int = 20_000):
        self.app, self.n, self.log, self.batch = app, customers, log, batch
        self.url = app.config["SQLALCHEMY_DATABASE_URI"]
        self.is_pg = self.url.startswith("postgresql")
        self.writer = PostgresWriter() if self.is_pg else SqliteWriter()
        self.gen = Generator()
        self.stats = SeedStats()

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
            with engine.connect() as conn:
                t = time.perf_counter()
                units = self.seed_properties(conn)
                self.stats.phases["projects, buildings, units"] = time.perf_counter() - t
                t = time.perf_counter()
                self.seed_customers(conn, units)
                self.stats.phases["customers and their units"] = time.perf_counter() - t
                if self.is_pg:
                    t = time.perf_counter()
                    for table in ("project", "building", "unit", "customer", "customer_unit"):
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


def count_rows(conn) -> dict[str, int]:
    return {name: conn.scalar(text(f"SELECT count(*) FROM {name}"))
            for name in ("customer", "customer_unit", "unit", "audit_log")}
