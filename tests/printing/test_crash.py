"""A crash while printing never blocks printing (issue 11, item 3).

A REAL printing process (tests/printing/crash_print.py, the production app configured from the
environment) is stopped at each point of a print and killed with SIGKILL: before the file is linked
into the archive, after it is linked, before the record commits, after it commits. Then a new process
prints again — it must succeed — and `archive verify` must pass (exit 0) and name every file it finds
in the quarantine folder; `archive verify` run as its own process while a print is in flight waits for
it instead of taking its file. Run on SQLite and PostgreSQL (KEFU_TEST_DB).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import migrated_app

ROOT = Path(__file__).resolve().parents[2]
POINTS = ("before_link", "after_link", "before_commit", "after_commit")


@pytest.fixture
def site(databases, tmp_path):
    """An empty, migrated database and an instance folder shared by the processes of one test."""
    from app.extensions import db

    url = databases.new()
    instance = tmp_path / "instance"
    instance.mkdir()
    app = migrated_app(url, KEFU_ARCHIVE_DIR=str(instance / "archive"))
    with app.app_context():
        db.session.remove()
    env = {**os.environ, "DATABASE_URL": url, "KEFU_INSTANCE": str(instance), "SECRET_KEY": "crash-test",
           "PYTHONPATH": str(ROOT)}
    yield {"url": url, "archive": instance / "archive", "env": env, "app": app}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def start_print(site, point: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.printing.crash_print", point], cwd=ROOT, env=site["env"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def print_and_kill(site, point: str) -> None:
    """Start a print, wait until it stands at `point`, and kill -9 it there."""
    process = start_print(site, point)
    line = process.stdout.readline()
    if line.strip() != f"AT {point}":
        process.kill()
        pytest.fail(f"the printing process did not reach {point}: {line!r} {process.communicate()[1][-2000:]}")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


def print_once(site) -> str:
    """A print in a new process; it must succeed. Returns the archive number it filed."""
    done = subprocess.run([sys.executable, "-m", "tests.printing.crash_print", "none"], cwd=ROOT, env=site["env"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return re.search(r"PRINTED (KF-\d{4}-\d{6})", done.stdout).group(1)


def archive_verify(site):
    """`flask --app run archive verify` on the same database and archive (in this process: starting the
    app costs seconds; the in-flight test below runs it as a process of its own)."""
    return site["app"].test_cli_runner().invoke(args=["archive", "verify"])


def records_in(site) -> list[tuple[str, str]]:
    engine = create_engine(site["url"])
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text("SELECT number, file_path FROM archive_record ORDER BY id"))]
    finally:
        engine.dispose()


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


@pytest.mark.parametrize(("point", "cleared_by"), [(point, "print") for point in POINTS]
                         + [("before_commit", "verify")])
def test_a_print_killed_at_any_point_never_blocks_the_next_print(site, point, cleared_by):
    print_and_kill(site, point)
    committed = point == "after_commit"
    assert len(records_in(site)) == (1 if committed else 0)
    archived = files_in(site["archive"])
    year = re.search(r"KF-(\d{4})-", " ".join(archived)).group(1)  # the print's year (China time)
    number = f"KF-{year}-000001"
    leftovers = {  # what the killed process left on disk, besides the archive's own folders
        "before_link": {f".incoming/{number}."}, "after_link": {f"{year}/{number}.pdf", f".incoming/{number}."},
        "before_commit": {f"{year}/{number}.pdf"}, "after_commit": {f"{year}/{number}.pdf"}}[point]
    assert {p if not p.startswith(".incoming/") else p[:len(f".incoming/{number}.")] for p in archived} == leftovers

    if cleared_by == "verify":  # `archive verify` straight after the crash sets the leftovers aside itself
        checked = archive_verify(site)
        assert checked.exit_code == 0, checked.output
        assert f"已移入隔离区（已打印但未登记）：.quarantine/{year}/{number}.pdf" in checked.output
    # the crashed print never committed: its number is given again; else the next one
    assert print_once(site) == f"KF-{year}-{2 if committed else 1:06d}"

    checked = archive_verify(site)
    assert checked.exit_code == 0, checked.output
    assert f"通过，已检测 {2 if committed else 1} 个文件" in checked.output
    quarantined = files_in(site["archive"] / ".quarantine")
    expected = leftovers if not committed else set()
    assert {p if not p.startswith(".incoming/") else p[:len(f".incoming/{number}.")] for p in quarantined} == expected
    for path in quarantined:  # verify names each one
        assert f"隔离区中的文件（不属于档案）：.quarantine/{path}" in checked.output
    assert [n for n, _ in records_in(site)] == [f"KF-{year}-{i:06d}" for i in range(1, 3 if committed else 2)]


def test_verify_does_not_touch_a_print_in_flight(site):
    """`archive verify` while a print stands between linking its file and committing waits for that
    print (the year's counter lock) instead of taking its file for a leftover."""
    printing = start_print(site, "before_commit")
    assert printing.stdout.readline().strip() == "AT before_commit"
    verifying = subprocess.Popen([sys.executable, "-m", "flask", "--app", "run", "archive", "verify"], cwd=ROOT,
                                 env=site["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with pytest.raises(subprocess.TimeoutExpired):
        verifying.wait(timeout=3)  # blocked on the lock, nothing moved
    year = next(p for p in os.listdir(site["archive"]) if not p.startswith("."))
    assert (site["archive"] / year / f"KF-{year}-000001.pdf").is_file()
    os.kill(printing.pid, signal.SIGKILL)
    printing.wait(timeout=30)
    out, err = verifying.communicate(timeout=60)
    assert verifying.returncode == 0, out + err
    assert f"已移入隔离区（已打印但未登记）：.quarantine/{year}/KF-{year}-000001.pdf" in out
    assert print_once(site) == f"KF-{year}-000001"
