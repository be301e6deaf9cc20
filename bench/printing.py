"""Printing and archive figures for `make bench` (issue 5): the monthly ledger (投诉台帐) of 5,000 and of
20,000 complaints rendered as a PDF through the form's template, against a plain ReportLab table of the
same rows without it, each size in a fresh process (median and p95 seconds, pages, peak memory); and
`archive verify` over 10,000 archived files (files per second).

Environment: BENCH_LEDGER_SIZES (5000,20000), BENCH_LEDGER_REPEATS (5), BENCH_ARCHIVE_FILES (10000).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRINTED_AT = datetime(2026, 11, 30, 17, 0)


def ledger_rows(n: int) -> list[list]:
    """Rows as app.printing.ledger_data makes them: real-looking text of the widths a month holds."""
    from reports.forms.complaint_ledger import SUMMARY_CHARS

    from .data import Generator

    gen = Generator(seed=5)
    channels, categories = ("热线", "服务中心前台", "论坛", "信函传真邮件", "网上"), ("工程质量", "销售服务", "客户服务", "物业管理")
    states = ("关闭", "回访", "反馈", "处理", "回复")
    texts = ("卫生间渗水楼下天花板受潮发霉", "地下车库照明损坏夜间出入不便", "物业费账单与合同约定不符",
             "交房时墙面空鼓开裂要求修复", "电梯频繁停运影响老人出行", "销售承诺的景观与实际不符")
    rows = []
    for i in range(1, n + 1):
        rng = gen.rng
        rows.append([
            i, f"TS2026-{i:06d}", f"2026-11-{rng.randint(1, 30):02d}", rng.choice(channels), gen.person_name(),
            f"翠湖花园 {rng.randint(1, 12)}栋 {rng.randint(1, 30)}{rng.randint(1, 4):02d}", rng.choice(categories),
            rng.choice(("一般", "一般", "一般", "重大")), rng.choice(texts)[:SUMMARY_CHARS], "工程部",
            rng.choice(states), f"2026-12-{rng.randint(1, 9):02d}", round(rng.uniform(0.5, 9), 1), rng.randint(1, 5),
            rng.choice(("否", "否", "否", "是")), "cs_staff"])
    return rows


def ledger_data(n: int) -> dict:
    rows = ledger_rows(n)
    return {"month": "2026-11", "project": "全部项目", "rows": rows,
            "totals": [("状态", [("关闭", n)]), ("类别", [("工程质量", n)])],
            "figures": [("投诉总数", n), ("关闭用时中位数（天）", 3.2), ("平均满意度", 4.1)]}


# --- one size, measured in a process of its own (peak memory is the process's) --------------------------

def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space.
    ru_maxrss is not used: Linux carries it over from the parent across fork and exec, so a child of the
    bench (which holds a million rows by then) reported the parent's 815 MiB as its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _render_in_this_process(kind: str, n: int, repeats: int) -> dict:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    from reports import base
    from reports.forms import complaint_ledger

    data = ledger_data(n)
    baseline_mib = peak_rss_mib()
    context = base.PrintContext(company="示范置业集团", archive_number="KF-2026-000001",
                                verify_url="http://127.0.0.1:5000/verify/KF-2026-000001?c=0000-0000-0000-0000",
                                verify_code="0000-0000-0000-0000", printed_at=PRINTED_AT, printed_by="bench")

    def form():
        printed = base.build(complaint_ledger, data, context)
        return printed.pages, len(printed.pdf)

    def plain():
        # The same rows in one ReportLab table (header repeated), same font and grid, no form template.
        import io

        font = base.register_font()
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=base.MARGIN, rightMargin=base.MARGIN,
                                topMargin=base.MARGIN, bottomMargin=base.MARGIN, invariant=1, initialFontName=font)
        scale = doc.width / sum(complaint_ledger.WIDTHS)
        table = Table([complaint_ledger.HEADER, *[[str(c) for c in row] for row in data["rows"]]],
                      colWidths=[w * scale for w in complaint_ledger.WIDTHS], repeatRows=1)
        table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 8, 10), ("GRID", (0, 0), (-1, -1), 0.5, "black")]))
        doc.build([table])
        return doc.page, len(buffer.getvalue())

    run = form if kind == "form" else plain
    seconds, cpu, pages, size = [], [], 0, 0
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        pages, size = run()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {"kind": kind, "rows": n, "seconds": seconds, "cpu": cpu, "pages": pages, "bytes": size,
            "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": baseline_mib}


def render(kind: str, n: int, repeats: int) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from bench.printing import _render_in_this_process as r; "
            f"print(json.dumps(r({kind!r}, {n}, {repeats})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- archive verify over many files -----------------------------------------------------------------

def verify_files(count: int, runs: int = 3) -> dict:
    """`count` archived files (distinct bytes, the size of a printed form) with their records, then the
    same code as `flask archive verify` over them."""
    import hashlib

    from sqlalchemy import insert

    from app.domain import archive
    from app.extensions import db
    from app.models import ArchiveRecord
    from reports import base
    from reports.forms import opinion_sheet
    from tests.conftest import migrated_app

    workdir = Path(tempfile.mkdtemp(prefix="kefu-bench-archive-"))
    app = migrated_app(f"sqlite:///{workdir / 'archive.db'}", KEFU_ARCHIVE_DIR=str(workdir / "archive"))
    context = base.PrintContext(company="示范置业集团", archive_number="KF-2026-000000", verify_url="http://x/",
                                verify_code="0", printed_at=PRINTED_AT, printed_by="bench", retention="永久")
    template = base.build(opinion_sheet, opinion_sheet.blank(), context).pdf
    rows = []
    folder = workdir / "archive" / "2026"
    folder.mkdir(parents=True)
    for i in range(1, count + 1):
        number = f"KF-2026-{i:06d}"
        # the number in the XMP metadata as well (same length: the PDF's offsets stay right)
        data = template.replace(b"KF-2026-000000", number.encode()) + f"%kefu-bench {number}\n".encode()
        (folder / f"{number}.pdf").write_bytes(data)
        rows.append(dict(number=number, form="opinion_sheet", form_code="KF/QR-02", title="bench", file_path=f"2026/{number}.pdf",
                         sha256=hashlib.sha256(data).hexdigest(), sm3=hashlib.new("sm3", data).hexdigest(), size=len(data), pages=1, content_sha256="0" * 64,
                         verify_code="0", revision=1, printed_at=PRINTED_AT, printed_by_name="bench", version=1))
    rates, ok, problems = [], True, 0
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(insert(ArchiveRecord), rows)
        for _ in range(runs):
            with db.engine.connect() as conn:
                started = time.perf_counter()
                result = archive.verify(conn)
                elapsed = time.perf_counter() - started
            rates.append(result.count / elapsed)
            ok, problems = result.ok and result.count == count, len(result.problems)
        db.engine.dispose()
    size = len(template)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"files": count, "rates": rates, "ok": ok, "problems": problems, "file_kib": size / 1024}


@dataclass
class PrintingResults:
    ledgers: list[dict] = field(default_factory=list)  # (form, plain) per size
    verify: dict = field(default_factory=dict)
    seconds: float = 0.0
    load: tuple = (0.0, 0.0, 0.0)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def run(log=print) -> PrintingResults:
    sizes = [int(s) for s in os.environ.get("BENCH_LEDGER_SIZES", "5000,20000").split(",") if s.strip()]
    repeats = int(os.environ.get("BENCH_LEDGER_REPEATS", "5"))
    files = int(os.environ.get("BENCH_ARCHIVE_FILES", "10000"))
    results = PrintingResults(load=os.getloadavg())
    started = time.perf_counter()
    for n in sizes:
        log(f"[printing] ledger of {n:,} rows: the form, then a plain table ({repeats} renders each)")
        form, plain = render("form", n, repeats), render("plain", n, repeats)
        results.ledgers.append((form, plain))
        log(f"[printing]   form {statistics.median(form['seconds']):.2f} s ({form['pages']} pages, "
            f"peak {form['peak_rss_mib']:.0f} MiB); plain {statistics.median(plain['seconds']):.2f} s")
    log(f"[printing] archive verify over {files:,} files")
    results.verify = verify_files(files)
    log(f"[printing]   {statistics.median(results.verify['rates']):,.0f} files/s, ok={results.verify['ok']}")
    results.seconds = time.perf_counter() - started
    return results


SECTION = "## Printing and the archive (issue 5)"
LEDGER_TARGETS = {5000: (2.0, 300), 20000: (8.0, None)}  # seconds, MiB


def markdown(results: PrintingResults) -> str:
    lines = [SECTION, "",
             "The monthly ledger (投诉台帐, landscape A4, header row on every page, CJK font embedded as a "
             "subset) rendered by `reports.base.build`, against a plain ReportLab `Table` of the same rows "
             "(same font and grid, header repeated, no page template, no QR code, no page x of y). Each "
             "size runs in a fresh Python process; peak memory is that process's peak RSS (VmHWM), the "
             "baseline being the process after importing ReportLab and building the rows. The CPU seconds "
             "(the process's own, median) tell the work apart from a busy machine's waiting.", "",
             "| rows | pages | form median s | form p95 s | form CPU s | plain median s | plain CPU s | ratio form/plain "
             "| peak RSS MiB (baseline) | PDF KiB | target | met |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for form, plain in results.ledgers:
        median, plain_median = statistics.median(form["seconds"]), statistics.median(plain["seconds"])
        ratio = median / plain_median if plain_median else float("nan")
        target_s, target_mib = LEDGER_TARGETS.get(form["rows"], (None, None))
        met = (target_s is None or p95(form["seconds"]) <= target_s) and (
            target_mib is None or form["peak_rss_mib"] <= target_mib) and ratio <= 1.5
        target = " and ".join(t for t in (f"p95 ≤ {target_s:g} s" if target_s else "",
                                          f"≤ {target_mib} MiB" if target_mib else "", "≤ 1.5× plain") if t)
        lines.append(f"| {form['rows']:,} | {form['pages']:,} | {median:.2f} | {p95(form['seconds']):.2f} | "
                     f"{statistics.median(form['cpu']):.2f} | {plain_median:.2f} | {statistics.median(plain['cpu']):.2f} | "
                     f"{ratio:.2f}× | {form['peak_rss_mib']:.0f} ({form['baseline_rss_mib']:.0f}) | "
                     f"{form['bytes'] / 1024:,.0f} | {target} | {'yes' if met else 'NO'} |")
    verify = results.verify
    if verify:
        rates = verify["rates"]
        outcome = "all verified" if verify["ok"] else f"FAILED with {verify['problems']} problems"
        lines += ["", f"`archive verify` over {verify['files']:,} archived files of {verify['file_kib']:.0f} KiB "
                      f"(re-hash every file, list the folder for unregistered ones): "
                      f"{statistics.median(rates):,.0f} files/s median of {len(rates)} runs "
                      f"({', '.join(f'{r:,.0f}' for r in rates)}); "
                      f"{outcome}."]
    load = " / ".join(f"{x:.2f}" for x in results.load)
    lines += ["", f"Printing bench: {results.seconds / 60:.1f} min, load average at its start {load}. Part of "
                  "`make bench`; alone: `.venv/bin/python -m bench.printing` (`BENCH_LEDGER_SIZES`, "
                  "`BENCH_LEDGER_REPEATS`, `BENCH_ARCHIVE_FILES`).", ""]
    return "\n".join(lines)


def replace_section(report: Path, text: str) -> None:
    """Put `text` (this bench's section, the last of the report) in place of the report's printing section."""
    before = report.read_text(encoding="utf-8").split(SECTION, 1)[0] if report.exists() else ""
    report.write_text(before.rstrip("\n") + "\n\n" + text if before else text, encoding="utf-8")


def main() -> int:
    """Alone (`python -m bench.printing`): print the section and put it in place of the report's."""
    import tests.conftest  # noqa: F401  (a temporary KEFU_INSTANCE before config is read)

    results = run()
    text = markdown(results)
    print(text)
    replace_section(Path(os.environ.get("BENCH_OUTPUT", ROOT / "docs" / "benchmarks.md")), text)
    return 0 if results.verify.get("ok") else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
