"""`flask --app run audit anchor | audit verify`: the anchor log outside the database, and every failure
a message with exit code 1 — through the CLI runner and as a real process."""

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

from app import audit
from app.extensions import db
from app.models import Department
from tests import audit_attacker as attacker

ROOT = Path(__file__).resolve().parents[2]


def _seed(app, n, prefix="C"):
    with app.app_context():
        with audit.acting_as(db.session, audit.SystemActor(None, "tester")):
            for i in range(n):
                db.session.add(Department(code=f"{prefix}{i}", name=f"命令部门{prefix}{i}"))
            db.session.commit()
        db.session.remove()


def _flask(app, *args):
    """The real command in a process of its own, on the app's database, key folder and anchor log."""
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
               KEFU_AUDIT_ANCHOR_LOG=app.config["KEFU_AUDIT_ANCHOR_LOG"])
    env.pop("KEFU_AUDIT_KEY", None)  # the key file in KEFU_INSTANCE, as in production
    return subprocess.run([sys.executable, "-m", "flask", "--app", "run", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_audit_anchor_appends_one_hmacd_line_per_call_and_verify_checks_them(fresh_app):
    runner = fresh_app.test_cli_runner()
    _seed(fresh_app, 3)
    first = runner.invoke(args=["audit", "anchor"])
    assert first.exit_code == 0, first.output
    assert "audit anchor: seq 3, hash " in first.output
    _seed(fresh_app, 2, prefix="D")
    assert runner.invoke(args=["audit", "anchor"]).exit_code == 0
    log = Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"])
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [3, 5]
    assert log.stat().st_mode & 0o777 == 0o600
    key = fresh_app.config["KEFU_AUDIT_KEY"].encode()
    for line, row in zip(lines, (attacker.rows(fresh_app)[2], attacker.rows(fresh_app)[4]), strict=True):
        assert line["hash"] == row.hash
        signed = "kefu-audit:anchor:" + json.dumps([line["seq"], line["hash"], line["at"]], separators=(",", ":"))
        assert line["mac"] == hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert f"audit verify: OK, 5 rows verified, 2 anchor(s) matched, the last at seq 5 ({lines[1]['at']})" \
        in ok.output


def test_the_real_commands_answer_every_failure_with_a_message_and_exit_1(fresh_app):
    _seed(fresh_app, 5)
    anchored = _flask(fresh_app, "audit", "anchor")
    assert anchored.returncode == 0, anchored.stderr
    assert "audit anchor: seq 5" in anchored.stdout
    ok = _flask(fresh_app, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "OK, 5 rows verified, 1 anchor(s) matched" in ok.stdout

    attacker.delete_from(fresh_app, 4)
    truncated = _flask(fresh_app, "audit", "verify")
    assert truncated.returncode == 1
    assert "rows after seq 3 were deleted: head 3 is below anchored 5" in truncated.stderr
    assert "Traceback" not in truncated.stderr

    attacker.tamper(fresh_app, ("DELETE FROM audit_chain_head", {}))
    for command in ("verify", "anchor"):
        headless = _flask(fresh_app, "audit", command)
        assert headless.returncode == 1, command
        assert "chain head row (audit_chain_head id=1) is missing" in headless.stderr, headless.stderr
        assert "Traceback" not in headless.stderr


def test_an_unwritable_anchor_log_is_a_message(fresh_app):
    log = Path(fresh_app.config["KEFU_AUDIT_ANCHOR_LOG"])
    log.mkdir(parents=True)  # a folder where the log should be
    try:
        result = fresh_app.test_cli_runner().invoke(args=["audit", "anchor"])
    finally:
        log.rmdir()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"cannot append to the anchor log {log}" in result.output
