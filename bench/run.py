"""`make bench`: for SQLite and then a throwaway PostgreSQL, in one run: a migrated database with the
roles and demo users, N customers and M complaints seeded in bulk with their audit rows chained, the
app's customer list pages and searches, the complaint lists, my-work, a transition and the monthly
statistics, and `audit verify`, measured against raw SQL; the figures are written to docs/benchmarks.md.

Environment: BENCH_CUSTOMERS (default 1,000,000), BENCH_COMPLAINTS (1,000,000), BENCH_REPEATS (20),
BENCH_WARMUPS (2), BENCH_VERIFY_RUNS (3), BENCH_DATABASES (sqlite,postgresql), BENCH_OUTPUT
(docs/benchmarks.md).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-pass-2026"
USERNAME = "cs_staff"
MANAGER = "cs_manager"  # my-work of a manager, and the statistics (cs_staff may not see them)
PAGE_TARGET = 20_000


def log(message: str) -> None:
    print(message, flush=True)


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").replace("_", "").replace(",", "") or default)


@dataclass
class DatabaseRun:
    kind: str
    version: str = ""
    seed: object = None
    rows: dict = field(default_factory=dict)
    size_bytes: int = 0
    results: dict = field(default_factory=dict)  # scenario key -> (Scenario, Result)
    page_size_statements: dict = field(default_factory=dict)  # page size -> (html, api)
    verify_rates: list = field(default_factory=list)
    verify_count: int = 0
    verify_ok: bool = False
    verify_problem: str = ""
    plans: list = field(default_factory=list)  # (title, statement, plan)
    seconds: float = 0.0
    search_mobile: str = ""
    search_index: int = 0
    name_matches: int = 0
    load: tuple = ()  # load average (1, 5, 15 min) when the measurements started
    complaint_results: list = field(default_factory=list)  # [measure.Measured]
    complaint_facts: dict = field(default_factory=dict)
    complaint_load: tuple = ()  # load average when the complaint measurements started
    month: str = ""  # the month of the statistics measured
    worklist: object = None  # bench.worklist.Run: my-work's read (for_user) against raw SQL


def new_database(kind: str, workdir: str, name: str):
    """A new, empty database of `kind`: (its URL, the throwaway PostgreSQL cluster to stop, or None)."""
    import tests.conftest as conftest

    # The tests' templates of a migrated database are keyed without the kind of database: a second kind
    # in the same process must not be filled from the first one's.
    conftest._templates.clear()
    if kind == "postgresql":
        from tests.pg import Cluster

        cluster = Cluster()
        return cluster.create_database(), cluster
    return f"sqlite:///{os.path.join(workdir, name)}", None


def previous_month(now) -> str:
    return f"{now.year - 1}-12" if now.month == 1 else f"{now.year}-{now.month - 1:02d}"


def complaint_facts(conn, month: str, staff_id: int) -> dict:
    """What the complaint measurements run over (for the report)."""
    from sqlalchemy import and_, func, select

    from app.domain import calendar, complaints
    from app.domain.complaint_stats import month_bounds
    from app.models import Complaint

    now = calendar.local_now()
    overdue = complaints.overdue_clause(now)
    start, end = month_bounds(month)

    def count(*where):
        return conn.scalar(select(func.count()).select_from(Complaint).where(*where))

    open_states = ("received", "confirmed", "assessed", "investigating", "handling", "replied")
    return {
        "complaints": count(),
        "open": count(Complaint.state.in_(open_states)),
        "closed, waiting for the return visit": count(Complaint.state == "closed"),
        "overdue now": count(overdue),
        "handling and overdue": count(and_(Complaint.state == "handling", overdue)),
        "cs_staff is first-responsible for": count(Complaint.first_responsible_id == staff_id),
        "cs_staff's open or waiting for a return visit": count(
            Complaint.first_responsible_id == staff_id, Complaint.state.in_((*open_states, "closed"))),
        "cs_staff's overdue": count(Complaint.first_responsible_id == staff_id, overdue),
        f"received in {month}": count(Complaint.received_at >= start, Complaint.received_at < end),
        f"closed in {month}": count(Complaint.closed_at >= start, Complaint.closed_at < end),
    }


def bench_database(kind: str, n: int, n_complaints: int, repeats: int, warmups: int, verify_runs: int,
                   workdir: str) -> DatabaseRun:
    from sqlalchemy import func, select, text

    from app.demo import load_demo
    from app.domain import calendar
    from app.extensions import db
    from app.models import Complaint, Customer
    from tests.conftest import migrated_app

    from .data import NAME_SEARCH, Generator
    from .measure import Bench, ComplaintBench, explain, scenarios, verify_throughput
    from .seed import Seeder, count_rows

    run = DatabaseRun(kind)
    started = time.perf_counter()
    url, cluster = new_database(kind, workdir, "bench.db")
    try:
        log(f"[{kind}] migrating a new database, syncing roles, loading the demo users")
        app = migrated_app(url)
        with app.app_context():
            load_demo(db.session, app.appbuilder, PASSWORD)
            db.session.remove()
            if kind == "postgresql":
                run.version = db.session.scalar(text("SHOW server_version"))
            else:
                run.version = sqlite3.sqlite_version
            db.session.remove()

        with app.app_context():
            first_bench_complaint = (db.session.scalar(select(func.max(Complaint.id))) or 0) + 1
            db.session.remove()
        log(f"[{kind}] seeding {n:,} customers and {n_complaints:,} complaints in bulk")
        run.seed = Seeder(app, n, log=lambda m: log(f"[{kind}]{m}"), complaints=n_complaints, password=PASSWORD).run()
        log(f"[{kind}] seeded in {run.seed.seconds:,.1f} s: {run.seed.customers:,} customers, "
            f"{run.seed.customer_units:,} unit links, {run.seed.units:,} units, {run.seed.audit_rows:,} audit rows, "
            f"{run.seed.complaints:,} complaints with {run.seed.complaint_steps:,} steps and "
            f"{run.seed.complaint_audit_rows:,} audit rows ({run.seed.rows / run.seed.seconds:,.0f} rows/s)")

        with app.app_context():
            with db.engine.connect() as conn:
                run.rows = count_rows(conn)
                # The bench customer in the middle of the run, and how many names contain the search.
                run.search_index = n // 2
                run.search_mobile = Generator.mobile(run.search_index)
                found = conn.scalar(select(func.count()).select_from(Customer).where(
                    Customer.mobile == run.search_mobile))
                if found != 1:
                    raise RuntimeError(f"{found} customers have the mobile {run.search_mobile}, expected 1")
                run.name_matches = conn.scalar(select(func.count()).select_from(Customer).where(
                    Customer.name.like(f"%{NAME_SEARCH}%")))
                if kind == "postgresql":
                    run.size_bytes = conn.scalar(text("SELECT pg_database_size(current_database())"))
            db.session.remove()
        if kind == "sqlite":
            run.size_bytes = sum(p.stat().st_size for p in Path(workdir).glob("bench.db*"))

        run.load = os.getloadavg()
        bench = Bench(app, USERNAME, PASSWORD, repeats, warmups)
        total = run.rows["customer"]
        for scenario in scenarios(total, bench.cap, run.search_mobile, NAME_SEARCH, run.name_matches, PAGE_TARGET):
            log(f"[{kind}] measuring: {scenario.title}")
            result = bench.run(scenario)
            run.results[scenario.key] = (scenario, result)
            for problem in result.problems:
                log(f"[{kind}]   PROBLEM: {problem}")
            log(f"[{kind}]   HTML {result.html.median:8.1f} ms (p95 {result.html.p95:8.1f})  "
                f"raw {result.raw_html.median:7.1f} ms  {len(result.html_statements)} statements")
            log(f"[{kind}]   API  {result.api.median:8.1f} ms (p95 {result.api.p95:8.1f})  "
                f"raw {result.raw_api.median:7.1f} ms  {len(result.api_statements)} statements")
            for label, statements in (("HTML", result.html_statements), ("API", result.api_statements)):
                heaviest = max(statements, key=lambda s: s.ms)
                if "customer" in heaviest.sql:
                    run.plans.append((f"{scenario.title} — {label}, slowest statement ({heaviest.ms:.1f} ms)",
                                      heaviest, explain(app, heaviest)))
        for page_size in (25, 100):
            run.page_size_statements[page_size] = bench.statements_for_page_size(page_size)

        if n_complaints:
            run.month = previous_month(calendar.local_now())
            with app.app_context():
                staff_id = app.appbuilder.sm.find_user(username=USERNAME).id
                db.session.remove()
                with db.engine.connect() as conn:
                    run.complaint_facts = complaint_facts(conn.execution_options(read_only=True), run.month, staff_id)
            log(f"[{kind}] complaints: " + ", ".join(f"{k} {v:,}" for k, v in run.complaint_facts.items()))
            run.complaint_load = os.getloadavg()
            manager = Bench(app, MANAGER, PASSWORD, repeats, warmups)
            complaint_bench = ComplaintBench(app, bench, manager, repeats, warmups, run.month, first_bench_complaint)
            for title, measure in complaint_bench.scenarios():
                log(f"[{kind}] measuring: {title}")
                for m in measure():
                    run.complaint_results.append(m)
                    for problem in m.problems:
                        log(f"[{kind}]   PROBLEM: {problem}")
                    if m.app is None:
                        continue
                    log(f"[{kind}]   {m.title}: {m.app.median:8.1f} ms (p95 {m.app.p95:8.1f})  raw "
                        f"{m.raw.median:7.1f} ms  {len(m.statements)} statements"
                        + (f" ({m.statements_at_100} at page size 100)" if m.statements_at_100 is not None else ""))
                    heaviest = max(m.statements, key=lambda s: s.ms, default=None)
                    if heaviest is not None and "complaint" in heaviest.sql and heaviest.sql.lstrip().upper().startswith(
                            "SELECT"):
                        run.plans.append((f"{m.title}, slowest statement ({heaviest.ms:.1f} ms)", heaviest,
                                          explain(app, heaviest)))
                    if m.key.startswith("quick_"):  # the search must stay index-backed: every plan of it
                        for s in m.statements:
                            if s is not heaviest and "FROM complaint" in s.sql and " WHERE " in s.sql:
                                run.plans.append((f"{m.title}, statement ({s.ms:.1f} ms)", s, explain(app, s)))

            from . import worklist

            log(f"[{kind}] measuring: my work's read of the worklist (for_user)")
            total, open_ = worklist.facts(app)
            load = os.getloadavg()
            run.worklist = worklist.Run(kind, run.version, total, open_,
                                        worklist.measure(app, repeats, warmups, lambda m: log(f"[{kind}] {m}")), load)

        log(f"[{kind}] audit verify x{verify_runs}")
        run.verify_rates, run.verify_count, run.verify_ok, run.verify_problem = verify_throughput(app, verify_runs)
        log(f"[{kind}]   {'OK' if run.verify_ok else 'FAILED'}: {run.verify_count:,} rows, "
            + ", ".join(f"{r:,.0f}" for r in run.verify_rates) + " rows/s " + run.verify_problem)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        if cluster:
            cluster.stop()
    run.seconds = time.perf_counter() - started
    log(f"[{kind}] done in {run.seconds / 60:,.1f} min")
    return run


def main() -> int:
    n = env_int("BENCH_CUSTOMERS", 1_000_000)
    n_complaints = env_int("BENCH_COMPLAINTS", 1_000_000)
    repeats, warmups = env_int("BENCH_REPEATS", 20), env_int("BENCH_WARMUPS", 2)
    verify_runs = env_int("BENCH_VERIFY_RUNS", 3)
    kinds = [k.strip() for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k.strip()]
    output = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "benchmarks.md")

    import tests.conftest as conftest  # sets KEFU_INSTANCE to a temporary folder before config is read

    from .report import Environment, write_report

    environment = Environment.collect(n, repeats, warmups, n_complaints)
    workdir = tempfile.mkdtemp(prefix="kefu-bench-")
    started = time.perf_counter()
    runs = []
    log(f"Kefu bench: {n:,} customers, {n_complaints:,} complaints, {repeats} timed requests after {warmups} "
        f"warm-ups, on {', '.join(kinds)}")
    try:
        for kind in kinds:
            runs.append(bench_database(kind, n, n_complaints, repeats, warmups, verify_runs, workdir))
            write_report(output, environment, runs, time.perf_counter() - started)
            for leftover in Path(workdir).glob("bench.db*"):
                leftover.unlink()
        printed = None
        if os.environ.get("BENCH_PRINTING", "1") != "0":  # the printed forms and the archive (issue 5)
            from . import printing

            printed = printing.run(log)
            with output.open("a", encoding="utf-8") as report:
                report.write("\n" + printing.markdown(printed))
        measured = [r.worklist for r in runs if r.worklist is not None]
        if measured:
            from . import worklist

            worklist.replace_section(output, worklist.markdown(measured, "make bench", repeats, warmups))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(conftest._TMP, ignore_errors=True)
    log(f"Figures written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output} "
        f"(whole bench: {(time.perf_counter() - started) / 60:,.1f} min)")
    printing_ok = printed is None or printed.verify.get("ok", False)
    return 0 if printing_ok and all(r.verify_ok and not any(res.problems for _s, res in r.results.values())
                                    and not any(m.problems for m in r.complaint_results)
                                    and not any(m.problems for m in (r.worklist.results if r.worklist else ()))
                                    for r in runs) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
