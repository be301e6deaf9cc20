"""`POST /api/v1/customer/import`: the customer import (app.domain.imports) as a JSON answer.

The endpoint itself is a method of CustomerApi (app.api.resources), so that it lives under the SPEC's
resource name and takes the customer API's `can_post`: only roles that may add customers may import.
"""

from __future__ import annotations

from flask import Response, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import fields as ma

from app.domain import imports
from app.domain.errors import ValidationError
from app.extensions import db

from .documented import Answer

NO_FILE = _l("Please choose an Excel file (.xlsx).")


class ImportBodySchema(Schema):
    """The sheet, as a multipart form field, and whether only to check it."""

    file = ma.Raw(required=True, metadata={"type": "string", "format": "binary",
                                           "description": "The .xlsx sheet (headers as in the template)"})
    dry_run = ma.Boolean(load_default=True, metadata={"description": "true (default): check and preview only"})


class RowErrorSchema(Schema):
    row = ma.Integer(required=True, metadata={"description": "The row number as Excel shows it"})
    column = ma.String(required=True)
    message = ma.String(required=True)


class ImportAnswerSchema(Answer):
    """What the file would do (dry run) or did: rows read, customers created and updated, unit links added.
    An invalid file answers 422 with `message`, the same counts and `errors` (every bad row, its column and
    the reason); nothing is written then."""

    dry_run = ma.Boolean(required=True)
    rows = ma.Integer(required=True)
    created = ma.Integer(required=True)
    updated = ma.Integer(required=True)
    linked = ma.Integer(required=True)
    error_count = ma.Integer(required=True)
    errors = ma.List(ma.Nested(RowErrorSchema), required=True)


def dry_run_flag() -> bool:
    text = str(request.form.get("dry_run", request.args.get("dry_run", "true"))).strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValidationError({"dry_run": _l("dry_run is true or false.")})
    return text in ("true", "1", "yes")


def uploaded_bytes() -> bytes:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError({"file": NO_FILE})
    data = upload.stream.read(imports.MAX_BYTES + 1)
    if len(data) > imports.MAX_BYTES:
        raise ValidationError({"file": imports.TOO_LARGE})
    return data


def import_customers(actor) -> tuple[bool, imports.Result]:
    """Read the request, run the import in the caller's unit of work; (dry run?, result)."""
    dry_run = dry_run_flag()
    data = uploaded_bytes()
    return dry_run, imports.run(db.session, data, actor, dry_run=dry_run)


def answer(api, outcome):
    dry_run, result = outcome
    body = {"dry_run": dry_run, **result.as_json()}
    if result.errors:
        return api.response(422, message=str(imports.INVALID % {"count": len(result.errors_by_row())}), **body)
    return api.response(200 if dry_run else 201, **body)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f"attachment; filename={filename}"})
