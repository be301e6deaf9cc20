"""My work over seeded data: `app.domain.worklist.for_user` (what the my-work page and nothing else reads:
one person's part of who acts next) for a customer-service staff member and a department's staff, against
hand-written raw SQL selecting the same records (their rows, each workflow's, that wait for that person,
leaving out those waiting for the general manager) on the same engine in the same run; and, for scale,
`waiting()` (everyone's work, what the page computed before issue 12) from which the same part is taken.

Part of `make bench` (bench.run measures it after the complaint pages). Alone, on a new database seeded
for it: `.venv/bin/python -m bench.worklist` (`BENCH_WORKLIST_COMPLAINTS`, default 20,000;
`BENCH_WORKLIST_CUSTOMERS`, 5,000; `BENCH_REPEATS`, `BENCH_WARMUPS`, `BENCH_DATABASES`, `BENCH_OUTPUT`); it puts
its section in place of the report's.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from .measure import Timing, recording, time_it

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## My work: one person's part of the worklist (issue 12)"
RATIO_TARGET = 3.0  # for_user / raw SQL, median
PASSWORD = "bench-pass-2026"

# The raw SQL, written from SPEC §3/§4 (who acts in which state), not read from the workflow tables.
NOT_WAITING_FOR_GM = ("NOT EXISTS (SELECT 1 FROM approval a WHERE a.subject_table = '{table}' "
                      "AND a.subject_id = {alias}.id AND a.state = 'pending')")
COMPLAINT_SQL = ("SELECT c.id, c.received_at, c.state, c.content, d.name AS department, c.acknowledge_due_at, "
                 "c.acknowledged_at, c.assign_due_at, c.investigate_due_at, c.close_due_at, c.handling_deadline, "
                 "c.return_visit_due_at FROM complaint c LEFT OUTER JOIN department d ON d.id = c.department_id "
                 "WHERE {where} AND " + NOT_WAITING_FOR_GM.format(table="complaint", alias="c") + " ORDER BY c.id")
RAW = {
    # cs_staff: the complaints they received (first-responsible) while received, confirmed, handling or
    # closed (the return visit); the visits they make; the rectified items of their visits; every due
    # delivery or move-in return visit within a week.
    "cs_staff": {
        "complaint": COMPLAINT_SQL.format(where="c.first_responsible_id = :me AND c.state IN "
                                                "('received', 'confirmed', 'handling', 'closed')"),
        # (a rectifying visit waits for its visitor once every item is satisfied)
        "visit": "SELECT v.id, v.planned_at, v.state FROM visit v WHERE v.staff_id = :me AND v.state IN "
                 "('planned', 'visited', 'rectifying', 'summarised') AND (v.state <> 'rectifying' OR NOT EXISTS "
                 "(SELECT 1 FROM rectification r WHERE r.visit_id = v.id AND r.state <> 'satisfied')) AND "
                 + NOT_WAITING_FOR_GM.format(table="visit", alias="v") + " ORDER BY v.id",
        "rectification": "SELECT r.id, r.deadline, r.state, r.measure FROM rectification r JOIN visit v ON "
                         "v.id = r.visit_id WHERE r.state = 'done' AND v.state = 'rectifying' AND v.staff_id = :me "
                         "ORDER BY r.id",
        "return_visit": "SELECT rv.id, rv.due_on, rv.state FROM return_visit rv WHERE rv.state = 'due' AND "
                        "rv.kind <> 'visit' AND rv.due_on <= :week ORDER BY rv.id",
    },
    # eng_staff: the complaints and rectification items at their department, while investigated or handled.
    "eng_staff": {
        "complaint": COMPLAINT_SQL.format(where="c.department_id IN (SELECT department_id FROM user_department "
                                                "WHERE user_id = :me) AND c.state IN ('investigating', 'handling')"),
        "rectification": "SELECT r.id, r.deadline, r.state, r.measure FROM rectification r JOIN visit v ON "
                         "v.id = r.visit_id WHERE r.state = 'open' AND v.state = 'rectifying' AND r.department_id IN "
                         "(SELECT department_id FROM user_department WHERE user_id = :me) ORDER BY r.id",
    },
}


@dataclass
class Measured:
    username: str
    items: dict = field(default_factory=dict)  # kind -> how many items for_user lists
    raw_rows: dict = field(default_factory=dict)  # kind -> how many rows the raw SQL selects
    app: Timing | None = None
    everyone: Timing | None = None
    raw: Timing | None = None
    statements: int = 0
    problems: list = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.app.median / self.raw.median if self.raw and self.raw.median else float("nan")


@dataclass
class Run:
    kind: str
    version: str
    complaints: int
    open_complaints: int
    results: list
    load: tuple


def measure(app, repeats: int, warmups: int, log=print) -> list[Measured]:
    """for_user, waiting() and the raw SQL for each user of RAW, on the app's engine."""
    from app.domain import calendar, worklist
    from app.extensions import db

    results = []
    with app.app_context():
        engine = db.engine
        ids = {name: app.appbuilder.sm.find_user(username=name).id for name in RAW}
        db.session.remove()
    for username, sqls in RAW.items():
        user_id, m = ids[username], Measured(username)
        now = calendar.local_now()
        params = {"me": user_id, "week": now.date() + timedelta(days=7)}
        statements = {kind: text(sql) for kind, sql in sqls.items()}

        def app_fn(user_id=user_id, now=now):
            with app.app_context():
                try:
                    return worklist.for_user(db.session, user_id, now)
                finally:
                    db.session.remove()

        def everyone_fn(user_id=user_id, now=now):
            with app.app_context():
                try:
                    return next((p.items for p in worklist.waiting(db.session, now) if p.user_id == user_id), [])
                finally:
                    db.session.remove()

        def raw_fn(statements=statements, params=params):
            with engine.connect() as conn:
                return {kind: conn.execute(sql, params).all() for kind, sql in statements.items()}

        items, rows = app_fn(), raw_fn()
        for kind in sorted({i.kind for i in items} | set(rows)):
            m.items[kind] = sum(1 for i in items if i.kind == kind)
            m.raw_rows[kind] = len(rows.get(kind, ()))
        listed = {i.record_id for i in items if i.kind == "complaint"}
        selected = {r.id for r in rows["complaint"]}
        if listed != selected:
            m.problems.append(f"{username}: for_user lists {len(listed)} complaints, the raw SQL selects "
                              f"{len(selected)} ({len(listed ^ selected)} differ)")
        if [i.as_dict() for i in everyone_fn()] != [i.as_dict() for i in items]:
            m.problems.append(f"{username}: for_user differs from their part of waiting()")
        with recording(engine) as seen:
            app_fn()
        m.statements = len(seen)
        log(f"[worklist] {username}: " + ", ".join(f"{k} {m.items[k]:,} items / {m.raw_rows[k]:,} rows"
                                                  for k in m.items))
        m.app = time_it(app_fn, repeats, warmups)
        m.raw = time_it(raw_fn, repeats, warmups)
        m.everyone = time_it(everyone_fn, max(3, repeats // 4), 1)
        log(f"[worklist]   for_user {m.app.median:8.1f} ms (p95 {m.app.p95:8.1f})  raw {m.raw.median:7.1f} ms "
            f"(p95 {m.raw.p95:7.1f})  ratio {m.ratio:.2f}  {m.statements} statements  waiting() "
            f"{m.everyone.median:8.1f} ms")
        for problem in m.problems:
            log(f"[worklist]   PROBLEM: {problem}")
        results.append(m)
    return results


def facts(app) -> tuple[int, int]:
    from app.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        total = conn.scalar(text("SELECT count(*) FROM complaint"))
        open_ = conn.scalar(text("SELECT count(*) FROM complaint WHERE state NOT IN "
                                 "('closed_invalid', 'return_visited', 'fed_back', 'closed_unresolved')"))
    return total, open_


def markdown(runs: list[Run], command: str, repeats: int, warmups: int) -> str:
    lines = [SECTION, "",
             "`app.domain.worklist.for_user` — the my-work page's only read of the work — for one person, "
             "narrowed in SQL per party (the role, the department, the person named on the record: "
             "`Party.where`), against hand-written raw SQL selecting the same rows on the same engine in the "
             "same run, and `waiting()` (everyone's work, which the page computed before and then kept one "
             "person's part of). The check: the complaints for_user lists are exactly those the raw SQL selects, "
             "and for_user equals that person's part of waiting().", "",
             f"Command: `{command}` — {repeats} timed calls after {warmups} warm-ups (waiting(): "
             f"{max(3, repeats // 4)} after 1).", "",
             "| database | complaints (open) | user | items (raw rows) | for_user median ms | p95 ms | "
             f"raw SQL median ms | p95 ms | ratio | statements | waiting() median ms | target ratio ≤ {RATIO_TARGET:g} |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    notes = []
    for run in runs:
        for m in run.results:
            items = ", ".join(f"{k} {m.items[k]:,} ({m.raw_rows[k]:,})" if k in m.raw_rows or m.raw_rows
                              else f"{k} {m.items[k]:,}" for k in m.items)
            met = "yes" if m.ratio <= RATIO_TARGET and not m.problems else "NO"
            lines.append(f"| {run.kind} {run.version} | {run.complaints:,} ({run.open_complaints:,}) | {m.username} | "
                         f"{items} | {m.app.median:.1f} | {m.app.p95:.1f} | {m.raw.median:.1f} | {m.raw.p95:.1f} | "
                         f"{m.ratio:.2f}× | {m.statements} | {m.everyone.median:.1f} | {met} |")
        load = " / ".join(f"{x:.2f}" for x in run.load)
        notes.append(f"- {run.kind}: load average (1 / 5 / 15 min) at the start {load} (2 cores shared with "
                     "other work).")
        notes += [f"- PROBLEM: {p}" for m in run.results for p in m.problems]
    lines += ["", *notes, "", "The ratio compares Python building the items (parties, possible steps, deadlines, summaries) "
                  "with the bare selection; the statements stay the same whatever the data (a query per "
                  "workflow and its relationships, the directory, the pending approvals, the calendar).", ""]
    return "\n".join(lines)


def replace_section(report: Path, section: str) -> None:
    """Put this section in place of the report's own (the one with its heading, the section's first line),
    else before the printing section, else at the end."""
    text_ = report.read_text(encoding="utf-8") if report.exists() else ""
    heading = section.split("\n", 1)[0]  # bench.club writes its own section through here too
    if heading in text_:
        before, rest = text_.split(heading, 1)
        after = rest[rest.index("\n## "):] if "\n## " in rest else ""
        text_ = before + section.rstrip("\n") + "\n" + after
    elif "\n## Printing and the archive" in text_:
        before, after = text_.split("\n## Printing and the archive", 1)
        text_ = before.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n\n## Printing and the archive" + after
    else:
        text_ = text_.rstrip("\n") + "\n\n" + section
    report.write_text(text_, encoding="utf-8")


def run_alone(kind: str, customers: int, complaints: int, repeats: int, warmups: int, workdir: str, log) -> Run:
    from app.demo import load_demo
    from app.extensions import db
    from tests.conftest import migrated_app

    from .run import new_database
    from .seed import Seeder

    url, cluster = new_database(kind, workdir, "worklist.db")
    try:
        log(f"[worklist/{kind}] migrating, loading the demo, seeding {customers:,} customers and "
            f"{complaints:,} complaints")
        app = migrated_app(url)
        with app.app_context():
            load_demo(db.session, app.appbuilder, PASSWORD)
            version = db.session.scalar(text("SHOW server_version" if kind == "postgresql"
                                             else "SELECT sqlite_version()"))
            db.session.remove()
        Seeder(app, customers, log=lambda m: log(f"[worklist/{kind}]{m}"), complaints=complaints,
               password=PASSWORD).run()
        total, open_ = facts(app)
        load = os.getloadavg()
        results = measure(app, repeats, warmups, log)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return Run(kind, version, total, open_, results, load)
    finally:
        if cluster:
            cluster.stop()


def main() -> int:
    import shutil

    import tests.conftest as conftest  # a temporary KEFU_INSTANCE before config is read

    from .run import env_int, log

    complaints = env_int("BENCH_WORKLIST_COMPLAINTS", 20_000)
    customers = env_int("BENCH_WORKLIST_CUSTOMERS", 5_000)
    repeats, warmups = env_int("BENCH_REPEATS", 20), env_int("BENCH_WARMUPS", 2)
    kinds = [k.strip() for k in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",") if k.strip()]
    output = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "benchmarks.md")
    workdir = tempfile.mkdtemp(prefix="kefu-worklist-")
    started = time.perf_counter()
    runs = []
    try:
        for kind in kinds:
            runs.append(run_alone(kind, customers, complaints, repeats, warmups, workdir, log))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(conftest._TMP, ignore_errors=True)
    command = (f"BENCH_WORKLIST_COMPLAINTS={complaints} BENCH_WORKLIST_CUSTOMERS={customers} "
               f"BENCH_REPEATS={repeats} BENCH_DATABASES={','.join(kinds)} .venv/bin/python -m bench.worklist")
    section = markdown(runs, command, repeats, warmups)
    section += f"\nWhole worklist bench: {(time.perf_counter() - started) / 60:.1f} min.\n"
    print(section)
    replace_section(output, section)
    return 0 if not any(m.problems for r in runs for m in r.results) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
