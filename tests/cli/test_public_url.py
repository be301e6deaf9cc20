"""The address on paper (issue 13, item 8): KEFU_PUBLIC_URL is the one setting for what a printed QR
code opens; unset, it follows the address `flask run` / `make run PORT=...` serves on."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from app import printing
from app.domain import records
from tests.conftest import demo_app
from tests.printing import pdf as read

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("KEFU_PUBLIC_URL", "FLASK_RUN_HOST", "FLASK_RUN_PORT", "PORT", "HOST", "MAKEFLAGS")}
    env.update(KEFU_INSTANCE=str(tmp_path / "instance"), **extra)
    return env


def configured_url(tmp_path, **env) -> str:
    """Config.KEFU_PUBLIC_URL as a fresh process started with this environment sees it."""
    out = subprocess.run([sys.executable, "-c", "import config; print(config.Config.KEFU_PUBLIC_URL)"],
                         cwd=ROOT, env=clean_env(tmp_path, **env), capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("env, expected", [
    ({}, "http://127.0.0.1:5000"),
    ({"FLASK_RUN_PORT": "5077"}, "http://127.0.0.1:5077"),
    ({"FLASK_RUN_PORT": "5077", "FLASK_RUN_HOST": "0.0.0.0"}, "http://127.0.0.1:5077"),
    ({"FLASK_RUN_PORT": "8080", "FLASK_RUN_HOST": "kefu.lan"}, "http://kefu.lan:8080"),
    ({"FLASK_RUN_PORT": "5077", "KEFU_PUBLIC_URL": "https://kefu.example.com/"}, "https://kefu.example.com"),
])
def test_the_public_url_is_the_setting_else_the_address_served(tmp_path, env, expected):
    assert configured_url(tmp_path, **env) == expected


def test_the_qr_code_opens_the_configured_address(databases, tmp_path, artifacts):
    app = demo_app(databases.new(), complaint_count=0, KEFU_PUBLIC_URL="http://kefu.lan:5077")
    with app.app_context():
        from app.extensions import db

        actor = app.appbuilder.sm.find_user(username="cs_staff")
        with records.unit_of_work(db.session):
            record = printing.print_blank(db.session, "visit_record", actor, printed_at=datetime(2026, 11, 24, 10))
        path = Path(app.config["KEFU_ARCHIVE_DIR"]) / record.file_path
        expected = f"http://kefu.lan:5077/verify/{record.number}?c={record.verify_code}"
        db.session.remove()
        db.engine.dispose()
    assert expected in read.text(path.read_bytes()).replace(" ", "").replace("\n", "")
    assert read.qr_codes(read.first_page_png(path, artifacts / "public_url")) == [expected]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAKE_FLASK = """
import os, sys
# `make run` with FLASK replaced: only `run` is real (on an empty instance), the set-up steps are shown.
print("flask", *sys.argv[1:], "FLASK_RUN_PORT=" + os.environ.get("FLASK_RUN_PORT", ""), flush=True)
if sys.argv[1:] == ["run"]:
    os.execv(sys.executable, [sys.executable, "-m", "flask", "--app", "run", "run"])
"""


def test_make_run_port_serves_there_and_prints_it(tmp_path):
    port = free_port()
    fake = tmp_path / "fake_flask.py"
    fake.write_text(FAKE_FLASK)
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "-o", "translations", "run",
               f"PORT={port}", f"FLASK={sys.executable} {fake}"]
    process = subprocess.Popen(command, cwd=ROOT, env=clean_env(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        status = None
        for _ in range(120):
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).status
            except urllib.error.HTTPError as exc:
                status = exc.code  # served (the empty instance has no tables)
            except OSError:
                time.sleep(0.5)
                continue
            break
        assert status is not None, f"nothing served on port {port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert f"Kefu is served at http://127.0.0.1:{port}" in output, output
    assert f"Printed forms' QR codes open http://127.0.0.1:{port}" in output, output
    assert f"flask run FLASK_RUN_PORT={port}" in output, output
    assert not re.search(r":5000\b", output), output  # not the default port anywhere
