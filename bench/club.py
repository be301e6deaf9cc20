"""The club's points ledger at scale (issue 15, item 10): a member's balance and first ledger page through the
API (`GET /api/v1/member/<id>/points`: the SUM and the row count in one index-only read, and a page of 50 rows
each with the balance after it) with BENCH_CLUB_ROWS (default 1,000,000) ledger rows in the table, BENCH_CLUB_MEMBER_ROWS (5,000) of
them on the member read, on a throwaway PostgreSQL; against the same two reads in raw SQL on the same
engine. Target: p95 ≤ 50 ms. Ledger rows are inserted in bulk (INSERT … SELECT generate_series), past the
domain: the figure is the read's.

`.venv/bin/python -m bench.club` (part of `make bench`); BENCH_REPEATS (20), BENCH_WARMUPS (2),
BENCH_OUTPUT (docs/benchmarks.md): it puts its section in place of the report's own.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## The club's points ledger (issue 15)"
TARGET_P95_MS = 50.0
OTHER_MEMBERS = 1_000
RAW = (
    "SELECT COALESCE(SUM(points), 0), COUNT(*) FROM club_points WHERE member_id = :m",
    "SELECT id, kind, points, reason, actor_name, at, activity_id, redemption_ref, reverses_id, idempotency_key "
    "FROM club_points WHERE member_id = :m ORDER BY id DESC LIMIT 50",
)


def seed(app, rows: int, member_rows: int) -> int:
    """One member made through the domain, OTHER_MEMBERS more and the ledger rows in bulk; the member's id."""
    from app.domain.club import members
    from app.domain.records import unit_of_work
    from app.extensions import db
    from tests.club.conftest import new_customer
    from tests.conftest import PASSWORD
    from tests.seed import seed_minimal

    with app.app_context():
        seed_minimal(db.session, app.appbuilder, PASSWORD)
        staff = app.appbuilder.sm.find_user(username="cs_staff")
        customer = new_customer(db.session, staff, "基准会员")
        with unit_of_work(db.session):
            member = members.apply(db.session, staff, customer.id)
        for action in ("review", "issue_card", "activate"):
            with unit_of_work(db.session):
                members.transition(db.session, member, action, staff, member.version)
        member_id, customer_id = member.id, customer.id
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO club_member (customer_id, member_number, state, version) SELECT :c, 'B' || g, "
                "'active', 1 FROM generate_series(1, :n) g"), {"c": customer_id, "n": OTHER_MEMBERS})
            first = conn.execute(text("SELECT MIN(id) FROM club_member WHERE member_number LIKE 'B%'")).scalar()
            conn.execute(text(
                "INSERT INTO club_points (member_id, kind, points, reason, actor_name, at, version) "
                "SELECT CASE WHEN g <= :mine THEN :m ELSE :first + (g % :others) END, "
                "CASE WHEN g % 5 = 0 THEN 'redeem' ELSE 'award' END, CASE WHEN g % 5 = 0 THEN -3 ELSE 10 END, "
                "'基准', 'bench', TIMESTAMP '2026-01-01' + g * INTERVAL '1 minute', 1 FROM generate_series(1, :n) g"),
                {"mine": member_rows, "m": member_id, "first": first, "others": OTHER_MEMBERS, "n": rows})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE club_points"))  # what autovacuum does: index-only scans possible
    return member_id


def run(rows: int, member_rows: int, repeats: int, warmups: int, log) -> dict:
    from app.extensions import db
    from tests.conftest import PASSWORD, migrated_app
    from tests.pg import Cluster

    from .measure import time_it

    cluster = Cluster()
    try:
        app = migrated_app(cluster.create_database())
        started = time.perf_counter()
        member_id = seed(app, rows, member_rows)
        log(f"club bench: {rows:,} ledger rows seeded in {time.perf_counter() - started:.0f} s")
        client = app.test_client()
        token = client.post("/api/v1/security/login", json={"username": "cs_staff", "password": PASSWORD,
                                                            "provider": "db"}).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/member/{member_id}/points"

        def api():
            response = client.get(url, headers=headers)
            assert response.status_code == 200 and len(response.get_json()["result"]) == 50, response.status_code

        with app.app_context():
            engine = db.engine

            def raw():
                with engine.connect() as conn:
                    for statement in RAW:
                        conn.execute(text(statement), {"m": member_id}).all()

            answer = client.get(url, headers=headers).get_json()
            with engine.connect() as conn:
                expected = conn.execute(text(RAW[0]), {"m": member_id}).scalar()
                version = conn.execute(text("SELECT version()")).scalar().split(",")[0]
            assert answer["balance"] == expected and answer["count"] == member_rows
            timings = {"api": time_it(api, repeats, warmups), "raw": time_it(raw, repeats, warmups)}
            engine.dispose()
        return {"timings": timings, "version": version, "balance": expected}
    finally:
        cluster.stop()


def markdown(result: dict, rows: int, member_rows: int, repeats: int, warmups: int, command: str) -> str:
    api, raw = result["timings"]["api"], result["timings"]["raw"]
    ok = api.p95 <= TARGET_P95_MS
    return (f"{SECTION}\n\n`{command}` — {result['version']}, {rows:,} ledger rows in the table, {member_rows:,} on "
            f"the member read (balance {result['balance']:,}); {repeats} timed runs after {warmups} warm-ups.\n\n"
            "| read | median | p95 | target | |\n|---|---|---|---|---|\n"
            f"| `GET /api/v1/member/<id>/points` (balance and count, page of 50 with the balance after each row; JWT) | "
            f"{api.median:.1f} ms | {api.p95:.1f} ms | p95 ≤ {TARGET_P95_MS:.0f} ms | {'met' if ok else 'MISSED'} |\n"
            f"| the same two reads in raw SQL | {raw.median:.1f} ms | {raw.p95:.1f} ms | | |\n\n"
            f"Ratio API / raw SQL (median): {api.median / raw.median:.1f}×. The balance is never stored: it is the "
            "SUM over the index (member_id, id, points), an index-only scan; each row's balance after it is the balance "
            "less the newer rows of the page.\n")


def main() -> int:
    import tests.conftest as conftest  # a temporary KEFU_INSTANCE before config is read

    from .run import env_int, log
    from .worklist import replace_section

    rows, member_rows = env_int("BENCH_CLUB_ROWS", 1_000_000), env_int("BENCH_CLUB_MEMBER_ROWS", 5_000)
    repeats, warmups = env_int("BENCH_REPEATS", 20), env_int("BENCH_WARMUPS", 2)
    output = Path(os.environ.get("BENCH_OUTPUT") or ROOT / "docs" / "benchmarks.md")
    workdir = tempfile.mkdtemp(prefix="kefu-club-")
    try:
        result = run(rows, member_rows, repeats, warmups, log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(conftest._TMP, ignore_errors=True)
    command = f"BENCH_CLUB_ROWS={rows} BENCH_CLUB_MEMBER_ROWS={member_rows} .venv/bin/python -m bench.club"
    section = markdown(result, rows, member_rows, repeats, warmups, command)
    print(section)
    replace_section(output, section)
    return 0 if result["timings"]["api"].p95 <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
