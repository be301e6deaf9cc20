"""导入客户: upload an .xlsx sheet, see what it would create and update and every bad row, download the
sheet with its errors, then confirm. The page is a thin adapter over app.domain.imports.

Between the preview and the confirmation the uploaded file is kept on the server (the instance folder's
`imports/`, named by the user and a random token) rather than uploaded again: the user confirms exactly
the file that was checked, the error sheet can be downloaded from it, and a large sheet crosses the
network once. The confirmation checks the file again (the database may have changed meanwhile), and
removes it once imported; files older than a day are removed whenever someone uploads.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l

from app.api.imports import xlsx_response
from app.domain import imports
from app.domain.errors import ValidationError
from app.extensions import db
from app.outcome import attempt

TOKEN = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 24 * 3600


def _folder() -> Path:
    folder = Path(current_app.config["INSTANCE_DIR"]) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path:
    if not TOKEN.match(token or ""):
        abort(404)
    user = current_app.appbuilder.sm.current_user
    return _folder() / f"{user.id}-{token}.xlsx"


def _stored(token: str) -> bytes:
    path = _path(token)
    if not path.is_file():
        flash(_l("The uploaded file is no longer here (imported already, or older than a day); please upload "
                 "it again."), "warning")
        abort(redirect(url_for("CustomerImportView.index")))
    return path.read_bytes()


def _sweep() -> None:
    cutoff = time.time() - KEEP_SECONDS
    for old in _folder().glob("*.xlsx"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)


class CustomerImportView(BaseView):
    route_base = "/customerimport"
    default_view = "index"
    template = "kefu/import.html"

    def _page(self, **kwargs):
        return self.render_template(self.template, title=_l("Import customers"), columns=imports.headers(),
                                    **kwargs)

    @expose("/")
    @has_access
    def index(self):
        return self._page()

    @expose("/template")
    @has_access
    @permission_name("index")
    def template_file(self):
        return xlsx_response(imports.template(), "customer-import-template.xlsx")

    @expose("/check", methods=["POST"])
    @has_access
    @permission_name("index")
    def check(self):
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_l("Please choose an Excel file (.xlsx)."), "danger")
            return self._page(), 400
        data = upload.stream.read(imports.MAX_BYTES + 1)
        result, refusal = attempt(db.session, lambda: self._dry_run(data))
        if refusal is not None:
            refusal.flash()
            return self._page(), refusal.status
        _sweep()
        token = secrets.token_hex(16)
        _path(token).write_bytes(data)
        return self._page(result=result, token=token, filename=upload.filename), 422 if result.errors else 200

    def _dry_run(self, data: bytes):
        if len(data) > imports.MAX_BYTES:
            raise ValidationError({"file": imports.TOO_LARGE})
        return imports.run(db.session, data, current_app.appbuilder.sm.current_user, dry_run=True)

    @expose("/errors/<token>")
    @has_access
    @permission_name("index")
    def errors(self, token):
        data = _stored(token)
        result, refusal = attempt(db.session, lambda: self._dry_run(data))
        if refusal is not None:
            refusal.flash()
            return redirect(url_for(".index"))
        return xlsx_response(imports.error_sheet(data, result), "customer-import-errors.xlsx")

    @expose("/confirm/<token>", methods=["POST"])
    @has_access
    @permission_name("index")
    def confirm(self, token):
        data = _stored(token)
        actor = current_app.appbuilder.sm.current_user
        result, refusal = attempt(db.session, lambda: self._import(data, actor))
        if refusal is not None:
            refusal.flash()
            return self._page(), refusal.status
        if result.errors:  # the database changed since the preview: show the new errors
            return self._page(result=result, token=token), 422
        _path(token).unlink(missing_ok=True)
        flash(_l("Imported %(rows)s rows: %(created)s customers created, %(updated)s updated, %(linked)s units "
                 "linked.", rows=result.rows, created=result.created, updated=result.updated,
                 linked=result.linked), "success")
        return redirect(url_for("CustomerView.list"))

    @staticmethod
    def _import(data: bytes, actor):
        return imports.run(db.session, data, actor, dry_run=False)


def register(appbuilder) -> list[tuple]:
    appbuilder.add_view(CustomerImportView, "Import customers", label=_l("Import customers"), icon="fa-upload",
                        category="Customer service", category_label=_l("Customer service"))
    return [(CustomerImportView, "Import customers", "Customer service")]
