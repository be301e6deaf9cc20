"""`make bench`: for SQLite and then a throwaway PostgreSQL, in one run: a migrated database with the
roles and demo users, N customers seeded in bulk with their audit rows chained, the app's list pages,
searches and `audit verify` measured against raw SQL, and the figures written to docs/benchmarks.md.

Environment: BENCH_CUSTOMERS (default 1,000,000), BENCH_REPEATS (20), BENCH_WARMUPS (2),
BENCH_VERIFY_RUNS (3), BENCH_DATABASES (sqlite,postgresql), BENCH_OUTPUT (docs/benchmarks.md).
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


def bench_database(kind: str, n: int, repeats: int, warmups: int, verify_runs: int, workdir: str) -> DatabaseRun:
    from sqlalchemy import func, select, text

    from app.demo import load_demo
    from app.extensions import db
    from app.models import Customer
    from tests.conftest import migrated_app

    from .data import NAME_SEARCH, Generator
    from .measure import Bench, explain, scenarios, verify_throughput
    from .seed import Seeder, count_rows

    run = DatabaseRun(kind)
    started = time.perf_counter()
    cluster = None
    if kind == "postgresql":
        from tests.pg import Cluster

        cluster = Cluster()
        url = cluster.create_database()
    else:
        url = f"sqlite:///{os.path.join(workdir, 'bench.db')}"
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

        log(f"[{kind}] seeding {n:,} customers in bulk")
        run.seed = Seeder(app, n, log=lambda m: log(f"[{kind}]{m}")).run()
        log(f"[{kind}] seeded in {run.seed.seconds:,.1f} s: {run.seed.customers:,} customers, "
            f"{run.seed.customer_units:,} unit links, {run.seed.units:,} units, {run.seed.audit_rows:,} audit rows "
            f"({run.seed.rows / run.seed.seconds:,.0f} rows/s)")

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
    repeats, warmups = env_int("BENCH_REPEATS", 20), env_int("BENCH_WARMUPS", 2)
    verify_runs = env_int("BENCH_VERIFY_RUNS", 3)
    kinds = [k.strip() for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k.strip()]
    output = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "benchmarks.md")

    import tests.conftest as conftest  # sets KEFU_INSTANCE to a temporary folder before config is read

    from .report import Environment, write_report

    environment = Environment.collect(n, repeats, warmups)
    workdir = tempfile.mkdtemp(prefix="kefu-bench-")
    started = time.perf_counter()
    runs = []
    log(f"Kefu bench: {n:,} customers, {repeats} timed requests after {warmups} warm-ups, on {', '.join(kinds)}")
    try:
        for kind in kinds:
            runs.append(bench_database(kind, n, repeats, warmups, verify_runs, workdir))
            write_report(output, environment, runs, time.perf_counter() - started)
            for leftover in Path(workdir).glob("bench.db*"):
                leftover.unlink()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(conftest._TMP, ignore_errors=True)
    log(f"Figures written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output} "
        f"(whole bench: {(time.perf_counter() - started) / 60:,.1f} min)")
    return 0 if all(r.verify_ok and not any(res.problems for _s, res in r.results.values()) for r in runs) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
