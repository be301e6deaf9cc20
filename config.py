"""Kefu configuration: everything that differs between machines comes from the environment."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask_appbuilder.const import AUTH_DB

BASE_DIR = Path(__file__).resolve().parent


def instance_dir() -> Path:
    """The folder for the SQLite file, uploads and archived PDFs (KEFU_INSTANCE, default ./instance)."""
    path = Path(os.environ.get("KEFU_INSTANCE") or BASE_DIR / "instance").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(folder: Path) -> str:
    """SECRET_KEY from the environment, else generated once into the instance folder (never committed)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = folder / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def audit_key(folder: Path) -> str:
    """The audit chain's HMAC key (KEFU_AUDIT_KEY), else generated once into the instance folder, mode
    0600. It is never stored in the database: whoever can write the database cannot re-hash the chain."""
    if os.environ.get("KEFU_AUDIT_KEY"):
        return os.environ["KEFU_AUDIT_KEY"]
    key_file = folder / "audit_key"
    if not key_file.exists():
        # Written whole under a temporary name, then linked: two processes starting at once agree on one key.
        tmp = folder / f".audit_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return key_file.read_text().strip()


def public_url(environ=os.environ) -> str:
    """What a printed QR code and verification URL open: KEFU_PUBLIC_URL, the one setting for it.
    Unset, the address the app is served on when started with `flask run` (or `make run PORT=...`,
    which passes the same FLASK_RUN_HOST and FLASK_RUN_PORT to `flask run`): http://<host>:<port>,
    127.0.0.1 for a wildcard host, port 5000 by default. Never the Host header of a request, which the
    client chooses: a permanent record must not carry an address a visitor typed."""
    configured = (environ.get("KEFU_PUBLIC_URL") or "").strip()
    if configured:
        return configured.rstrip("/")
    host = (environ.get("FLASK_RUN_HOST") or "").strip()
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = (environ.get("FLASK_RUN_PORT") or "").strip() or "5000"
    return f"http://{host}:{port}"


class Config:
    INSTANCE_DIR = instance_dir()
    SECRET_KEY = secret_key(INSTANCE_DIR)
    # The audit chain (app.audit): its key and the append-only anchor log, both outside the database.
    KEFU_AUDIT_KEY = audit_key(INSTANCE_DIR)
    KEFU_AUDIT_ANCHOR_LOG = os.environ.get("KEFU_AUDIT_ANCHOR_LOG") or str(INSTANCE_DIR / "audit-anchors.jsonl")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'kefu.db'}"
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    APP_NAME = "Kefu 客服管理系统"
    COMPANY_NAME = os.environ.get("KEFU_COMPANY", "示范置业集团 · 示范物业服务有限公司")
    APP_THEME = ""

    # Migrations own the schema; `roles sync` owns the permissions (see STACK.md).
    FAB_CREATE_DB = False
    FAB_UPDATE_PERMS = False
    FAB_ADD_SECURITY_API = True
    FAB_API_SWAGGER_UI = True
    FAB_SECURITY_MANAGER_CLASS = "app.security.KefuSecurityManager"
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False

    # Brute-force protection for the HTML form (FAB) and the API login (ours, failed attempts only),
    # per address. `memory://` is per process: with several workers or nodes use a shared storage
    # (e.g. redis://host:6379/0), or each worker allows the limit again.
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("KEFU_LOGIN_RATE_LIMIT", "10 per 20 second")
    KEFU_API_LOGIN_RATE_LIMIT = AUTH_RATE_LIMIT
    RATELIMIT_STORAGE_URI = os.environ.get("KEFU_RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = True
    # Per account, in the database (every worker and node): locked for N minutes after N failures in a row.
    KEFU_LOCKOUT_FAILURES = int(os.environ.get("KEFU_LOCKOUT_FAILURES", "5"))
    KEFU_LOCKOUT_MINUTES = int(os.environ.get("KEFU_LOCKOUT_MINUTES", "30"))

    # Session cookie: HttpOnly, SameSite=Lax, Secure whenever the request came over HTTPS (app.sessions).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=int(os.environ.get("KEFU_IDLE_MINUTES", "30")))
    SESSION_REFRESH_EACH_REQUEST = True
    # API tokens: a short access token, renewed with the refresh token (POST /api/v1/security/refresh).
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=int(os.environ.get("KEFU_ACCESS_TOKEN_MINUTES", "30")))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(hours=int(os.environ.get("KEFU_REFRESH_TOKEN_HOURS", "8")))

    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_FOLDER = str(BASE_DIR / "app" / "translations")
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "app" / "translations")
    LANGUAGES = {
        "zh": {"flag": "cn", "name": "简体中文"},
        "en": {"flag": "gb", "name": "English"},
    }

    # Lists: page size is capped, and counts past this are shown as "10,000+".
    KEFU_MAX_PAGE_SIZE = 100
    KEFU_COUNT_CAP = 10_000
    FAB_API_MAX_PAGE_SIZE = 100

    MAX_CONTENT_LENGTH = 11 * 1024 * 1024  # evidence files are at most 10 MB; refuse bigger bodies at once
    UPLOAD_FOLDER = str(INSTANCE_DIR / "uploads")
    IMG_UPLOAD_FOLDER = str(INSTANCE_DIR / "uploads")
    KEFU_ARCHIVE_DIR = str(INSTANCE_DIR / "archive")
    # The address printed in each form's QR code: scanning it opens /verify/<archive number>.
    KEFU_PUBLIC_URL = public_url()
