"""REST: /api/v1/archive/ (archived copies, read only, and their PDF) and /api/v1/archive_loan/ (the
consultation and lending register). Printing a complaint is `POST /api/v1/complaint/<id>/print`
(app.api.complaints), which calls `print_response` below.

Archive records are never changed or deleted: there is no PUT or DELETE here, and the domain and the
database refuse them on every other path too.
"""

from __future__ import annotations

from flask import Response, request
from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l

from app import labels
from app.domain import archive, archive_loans, records
from app.domain.errors import DomainError, ValidationError
from app.extensions import db
from app.models import ArchiveLoan, ArchiveRecord
from app.views.base import KefuInterface

from .base import DomainModelRestApi, json_object

ARCHIVE_LABELS = labels.ARCHIVE
ARCHIVE_COLUMNS = ["number", "form", "form_code", "title", "source_table", "source_id", "source_label", "sha256",
                   "size", "pages", "content_sha256", "verify_code", "retention_years", "previous_id", "revision",
                   "printed_at", "printed_by_name"]


def archive_result(record: ArchiveRecord) -> dict:
    """An archive record as the API shows it (the same for the archive resource and a print)."""
    data = {name: getattr(record, name) for name in ARCHIVE_COLUMNS}
    data["printed_at"] = record.printed_at.isoformat(timespec="seconds")
    data.update(id=record.id, version=record.version, retention="永久" if record.retention_years is None else
                f"{record.retention_years} 年", file_state=archive.file_state(record))
    return data


class ArchiveApi(DomainModelRestApi):
    resource_name = "archive"
    datamodel = KefuInterface(ArchiveRecord)
    include_route_methods = {"get", "get_list", "info", "file"}
    label_columns = ARCHIVE_LABELS
    list_columns = ARCHIVE_COLUMNS
    show_columns = ARCHIVE_COLUMNS
    search_columns = ["number", "form", "form_code", "source_table", "source_id", "source_label", "printed_by_name",
                      "printed_at", "previous_id"]
    order_columns = ["id", "number", "printed_at"]
    openapi_spec_methods = {"file": {"get": {"summary": "The archived PDF, exactly as it was printed"}}}

    def computed(self, record) -> dict:
        return {"file_state": archive.file_state(record)}

    @expose("/<int:pk>/file", methods=["GET"])
    @protect()
    @safe
    @permission_name("file")
    def file(self, pk):
        """The archived PDF.
        ---
        get:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          responses:
            200:
              description: The PDF bytes; the header X-Kefu-SHA256 carries the hash recorded when it was filed
              content:
                application/pdf: {}
            403: {$ref: '#/components/responses/403'}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            record = self._get_visible(pk)
        except DomainError as err:
            return self.domain_error(err)
        # A file carrying full personal data is an audited reveal: written in a unit of work.
        return self.write(lambda: archive.open_file(db.session, record, self.actor()), lambda data: Response(
            data, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{record.number}.pdf"',
                                                       "X-Kefu-SHA256": record.sha256}))


def full_data_asked() -> bool:
    """The print body's `full_data`: true asks for a copy with personal data in full (honoured only for a
    role that may reveal it, and audited as a reveal; app.printing). Anything but a boolean is refused."""
    body = request.get_json(silent=True) if request.data else {}
    value = body.get("full_data", False) if isinstance(body, dict) else False
    if not isinstance(value, bool):
        raise ValidationError({"full_data": _l("Give true or false.")})
    return value


def print_response(api, action):
    """Print and file in one unit of work; 201 with the archive record (or the records, when `action`
    prints several forms), or the refusal with nothing filed."""
    def answer(filed):
        if isinstance(filed, list):
            return api.response(201, ids=[record.id for record in filed], count=len(filed),
                                result=[archive_result(record) for record in filed])
        return api.response(201, id=filed.id, result=archive_result(filed))

    return api.write(action, answer)


# --- the consultation and lending register --------------------------------------------------------------

LOAN_LABELS = labels.LOAN
LOAN_COLUMNS = ["archive_record_id", "archive_record.number", "kind", "borrower", "borrower_department", "purpose",
                "state", "due_on", "out_at", "returned_at", "registered_by_name", "note"]


class ArchiveLoanApi(DomainModelRestApi):
    resource_name = "archive_loan"
    datamodel = KefuInterface(ArchiveLoan)
    include_route_methods = {"get", "get_list", "info", "post", "lend", "register_return"}
    label_columns = LOAN_LABELS
    list_columns = LOAN_COLUMNS
    show_columns = LOAN_COLUMNS
    add_columns = ["archive_record_id", "kind", "borrower", "borrower_department", "purpose", "due_on", "note"]
    search_columns = ["archive_record_id", "kind", "state", "borrower", "borrower_department", "due_on"]
    order_columns = ["id", "due_on", "out_at", "state"]
    openapi_spec_methods = {
        "lend": {"post": {"summary": "An approved loan goes out (archivist)"}},
        "register_return": {"post": {"summary": "A consulted or lent file comes back (archivist)"}},
    }

    def computed(self, loan) -> dict:
        return {"overdue": archive_loans.is_overdue(loan)}

    def pre_get_list(self, data):
        super().pre_get_list(data)
        loans = {loan.id: loan for loan in db.session.query(ArchiveLoan).filter(
            ArchiveLoan.id.in_(data.get("ids", [])))}
        for row_id, row in zip(data.get("ids", []), data.get("result", []), strict=False):
            row["overdue"] = archive_loans.is_overdue(loans[row_id]) if row_id in loans else False

    def post_headless(self):
        """A consultation (out at once) or a loan outside (waits for the general manager)."""
        try:
            body = json_object()
        except DomainError as err:
            return self.domain_error(err)
        return self.write(lambda: archive_loans.register(db.session, body.get("kind"), body.get("archive_record_id"),
                                                         body, self.actor()),
                          lambda loan: self.response(201, id=loan.id, result=self.body(loan)))

    def _move(self, pk, move):
        try:
            body = json_object()
            loan = archive_loans.get(db.session, pk)
            if body.get("version") not in (None, ""):
                records.check_version(loan, body["version"])
        except DomainError as err:
            return self.domain_error(err)
        return self.write(lambda: move(db.session, loan, self.actor()),
                          lambda _: self.response(200, id=loan.id, version=loan.version, result=self.body(loan)))

    @expose("/<int:pk>/lend", methods=["POST"])
    @protect()
    @safe
    @permission_name("lend")
    def lend(self, pk):
        """An approved loan goes out. Refused (409) unless the general manager approved it.
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {version: {type: integer}}}
          responses:
            200: {description: The loan, now out}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: Not approved by the general manager, or changed meanwhile}
        """
        return self._move(pk, archive_loans.lend)

    @expose("/<int:pk>/return", methods=["POST"])
    @protect()
    @safe
    @permission_name("return")
    def register_return(self, pk):
        """A consulted or lent file is back.
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            content:
              application/json:
                schema: {type: object, properties: {version: {type: integer}}}
          responses:
            200: {description: The entry, now returned}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
            409: {description: The file is not out}
        """
        return self._move(pk, archive_loans.register_return)


def register(appbuilder) -> list[tuple]:
    appbuilder.add_api(ArchiveApi)
    appbuilder.add_api(ArchiveLoanApi)
    return []
