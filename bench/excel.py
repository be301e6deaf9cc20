"""Excel figures for `make bench` (issue 16, item 10): importing 10,000 and 100,000 customers from an .xlsx
sheet through app.domain.imports (check pass, then every row through the ORM with its audit rows, one
transaction), side by side with a raw executemany of the same customer rows; then `audit verify`; and the
.xlsx export of the customer list at that size through the page (GET /customer/export.xlsx). Each size
runs in a fresh process on its own SQLite database: peak memory is that process's VmHWM.

Environment: BENCH_EXCEL_SIZES (10000,100000), BENCH_OUTPUT (docs/benchmarks.md).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT, BUILDINGS, UNITS_PER_BUILDING, LINK_RATE = "基准花园", 10, 100, 0.3
TARGETS = {10_000: 15.0, 100_000: 150.0}  # import seconds
EXPORT_TARGET = {100_000: 30.0}
MEMORY_TARGET_MIB = 500
EXPORT_LIMIT = 100_000  # CsvExportMixin.xlsx_export_limit; the minimal seed adds 3 customers


def peak_rss_mib() -> float:
    from bench.printing import peak_rss_mib as peak

    return peak()


def sheet(n: int) -> bytes:
    """n customers with valid, distinct ID numbers and mobiles; about a third with a unit."""
    from openpyxl import Workbook

    from app.domain.imports import headers
    from app.domain.validation import id_number_check_digit

    rng = random.Random(16)
    book = Workbook(write_only=True)
    out = book.create_sheet("客户")
    out.append(headers())
    stages = ("业主", "准业主", "签约客户", "意向客户", "潜在客户")
    for i in range(n):
        born = date(1950, 1, 1) + timedelta(days=i % 20_000)
        first17 = f"3301{i // 1000 % 100:02d}{born:%Y%m%d}{i % 1000:03d}"
        unit = ([PROJECT, f"{rng.randint(1, BUILDINGS)}栋", f"{rng.randint(1, UNITS_PER_BUILDING)}"]
                if rng.random() < LINK_RATE else [None, None, None])
        out.append([f"客户{i}", "个人", rng.choice(stages), rng.choice(("男", "女")),
                    first17 + id_number_check_digit(first17), f"1{rng.choice('356789')}{i:09d}", None, None,
                    f"西湖区基准路 {i} 号", None, None, None, None, *unit])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _measure_in_this_process(n: int) -> dict:
    from sqlalchemy import insert

    from app import audit
    from app.domain import imports, records
    from app.extensions import db
    from app.models import Building, Customer, Project, Unit
    from tests.conftest import PASSWORD, migrated_app
    from tests.seed import seed_minimal

    workdir = Path(tempfile.mkdtemp(prefix="kefu-bench-excel-"))
    app = migrated_app(f"sqlite:///{workdir / 'excel.db'}", KEFU_ARCHIVE_DIR=str(workdir / "archive"),
                       KEFU_AUDIT_ANCHOR_LOG=str(workdir / "anchors.jsonl"))
    result = {"rows": n}
    try:
        with app.app_context():
            seed_minimal(db.session, app.appbuilder, PASSWORD)
            admin = app.appbuilder.sm.find_user(username="admin")
            with audit.acting_as(db.session, admin), records.unit_of_work(db.session):
                project = Project(code="BENCH", name=PROJECT)
                for b in range(1, BUILDINGS + 1):
                    building = Building(project=project, name=f"{b}栋")
                    db.session.add_all(Unit(building=building, number=str(u)) for u in range(1, UNITS_PER_BUILDING + 1))
            db.session.remove()
        with app.test_request_context():
            data = sheet(n)
        result["file_mib"] = len(data) / 2**20
        result["baseline_rss_mib"] = peak_rss_mib()
        with app.test_request_context():
            actor = app.appbuilder.sm.find_user(username="cs_staff")
            started = time.perf_counter()
            checked = imports.run(db.session, data, actor, dry_run=True)
            result["check_seconds"] = time.perf_counter() - started
            db.session.rollback()
            started = time.perf_counter()
            with records.unit_of_work(db.session):
                done = imports.run(db.session, data, actor, dry_run=False)
            result["import_seconds"] = time.perf_counter() - started
            result.update(created=done.created, linked=done.linked, errors=len(done.errors) + len(checked.errors))
            db.session.remove()
            # The same customer rows, parsed, inserted by one raw executemany (no checks, no audit), rolled back.
            rows = []
            for _number, raw in imports.read_rows(data):
                values, _unit, _errors = imports.parse(raw)
                rows.append({**values, "kind": values.get("kind", "person"), "version": 1,
                             "mobile": "2" + values["mobile"][1:], "id_number": None})
            with db.engine.connect() as conn:
                started = time.perf_counter()
                conn.execute(insert(Customer.__table__), rows)
                result["raw_seconds"] = time.perf_counter() - started
                conn.rollback()
            del rows
            with db.engine.connect() as conn:
                started = time.perf_counter()
                verified = audit.verify(conn)
                result.update(verify_ok=verified.ok, audit_rows=verified.count,
                              verify_seconds=time.perf_counter() - started)
        result["import_peak_rss_mib"] = peak_rss_mib()
        client = app.test_client()
        client.post("/login/", data={"username": "cs_staff", "password": PASSWORD})
        started = time.perf_counter()
        response = client.get("/customer/export.xlsx")
        body = response.data
        result["export_seconds"] = time.perf_counter() - started
        result["export_status"] = response.status_code
        result["export_mib"] = len(body) / 2**20
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(body), read_only=True)
        result["export_rows"] = sum(1 for _row in book.active.iter_rows(values_only=True)) - 1
        book.close()
        result["peak_rss_mib"] = peak_rss_mib()
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def measure(n: int) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import tests.conftest; "
            "from bench.excel import _measure_in_this_process as m; "
            f"print('RESULT ' + json.dumps(m({n})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode or not lines:
        raise RuntimeError(f"the Excel bench of {n} rows failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


@dataclass
class ExcelResults:
    sizes: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    load: tuple = (0.0, 0.0, 0.0)


def run(log=print) -> ExcelResults:
    sizes = [int(s) for s in os.environ.get("BENCH_EXCEL_SIZES", "10000,100000").split(",") if s.strip()]
    results = ExcelResults(load=os.getloadavg())
    started = time.perf_counter()
    for n in sizes:
        log(f"[excel] import of {n:,} customers, raw executemany, audit verify, export")
        figures = measure(n)
        results.sizes.append(figures)
        log(f"[excel]   import {figures['import_seconds']:.1f} s (raw {figures['raw_seconds']:.2f} s), export "
            f"{figures['export_seconds']:.1f} s, peak {figures['peak_rss_mib']:.0f} MiB")
    results.seconds = time.perf_counter() - started
    return results


SECTION = "## Excel import and export (issue 16)"


def markdown(results: ExcelResults) -> str:
    lines = [SECTION, "",
             "An .xlsx sheet of customers (valid rows, about 30 % naming a unit) imported through "
             "`app.domain.imports.run` on SQLite: a check pass (streaming, nothing written) then the write pass, "
             "in batches of 500 — new customers and unit links by executemany with their audit rows appended "
             "to the chain as the flush hook writes them, updates through the ORM flush — in one transaction. "
             "The sheet is written by openpyxl, which stores text as inline strings (slower to read than the "
             "shared strings Excel writes). The raw column is one Core `executemany` of the same customer "
             "rows (no checks, no audit rows, no unit links). The import time includes its own check pass; `audit verify` then walks "
             "the whole chain. Export: `GET /customer/export.xlsx` as CS staff (masked, a page of 2,000 at a time "
             "into a write-only workbook). Each size in a fresh process; peak memory is its VmHWM.", "",
             "| rows | file MiB | check s | import s | raw executemany s | import target | audit verify | "
             "export s (rows) | export target | peak RSS MiB (baseline) | met |",
             "|---:|---:|---:|---:|---:|---|---|---:|---|---:|---|"]
    for f in results.sizes:
        n = f["rows"]
        target, export_target = TARGETS.get(n), EXPORT_TARGET.get(n)
        met = ((target is None or f["import_seconds"] <= target)
               and (export_target is None or f["export_seconds"] <= export_target)
               and f["peak_rss_mib"] <= MEMORY_TARGET_MIB and f["verify_ok"] and not f["errors"]
               and f["export_rows"] == min(n + 3, EXPORT_LIMIT))
        lines.append(
            f"| {n:,} | {f['file_mib']:.1f} | {f['check_seconds']:.1f} | {f['import_seconds']:.1f} | "
            f"{f['raw_seconds']:.2f} | {f'≤ {target:g} s' if target else '—'} | "
            f"{'ok' if f['verify_ok'] else 'FAILED'} ({f['audit_rows']:,} rows, {f['verify_seconds']:.1f} s) | "
            f"{f['export_seconds']:.1f} ({f['export_rows']:,}) | {f'≤ {export_target:g} s' if export_target else '—'} | "
            f"{f['peak_rss_mib']:.0f} ({f['baseline_rss_mib']:.0f}) | {'yes' if met else 'NO'} |")
    load = " / ".join(f"{x:.2f}" for x in results.load)
    lines += ["", f"Excel bench: {results.seconds / 60:.1f} min, load average at its start {load}; memory target "
                  f"≤ {MEMORY_TARGET_MIB} MiB. Alone: `.venv/bin/python -m bench.excel` (`BENCH_EXCEL_SIZES`).", ""]
    return "\n".join(lines)


def replace_section(report: Path, text: str) -> None:
    """Put this section in place of the report's Excel section (or append it), leaving the others."""
    old = report.read_text(encoding="utf-8") if report.exists() else ""
    if SECTION in old:
        before, rest = old.split(SECTION, 1)
        following = rest.find("\n## ")
        after = rest[following + 1:] if following >= 0 else ""
        report.write_text(before + text + ("\n" + after if after else ""), encoding="utf-8")
    else:
        report.write_text(old.rstrip("\n") + "\n\n" + text if old else text, encoding="utf-8")


def main() -> int:
    import tests.conftest  # noqa: F401  (a temporary KEFU_INSTANCE before config is read)

    results = run()
    text = markdown(results)
    print(text)
    replace_section(Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / "benchmarks.md")), text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
