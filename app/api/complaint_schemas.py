"""The request bodies, query parameters and answers of /api/v1/complaint/ and /api/v1/approval/'s own
endpoints, as marshmallow schemas: the OpenAPI document is generated from them (app.api.documented).
FAB's own endpoints (list, detail, create) are documented from the schemas FAB builds."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields as ma
from marshmallow.validate import OneOf

from app.domain import complaints

from .documented import Answer, ListAnswer, RecordAnswer, StepEntry, step_body_schema
from .step_fields import STEP_FIELD_TYPES

ComplaintTransitionSchema = step_body_schema("ComplaintTransitionSchema", complaints.STEPS, STEP_FIELD_TYPES)


class ComplaintStepEntrySchema(StepEntry):
    """One step of the complaint."""

    from_ = ma.String(data_key="from", allow_none=True)


class ComplaintStepsAnswerSchema(ListAnswer):
    """The steps, oldest first."""

    result = ma.List(ma.Nested(ComplaintStepEntrySchema), required=True)


class PrintFormSchema(Schema):
    """Which form to print (default the complaint record form)."""

    form = ma.String(validate=OneOf(["complaint_record", "return_visit"]), allow_none=True)
    full_data = ma.Boolean(metadata={"description": "A copy with personal data in full (a role that may "
                                                    "reveal it; audited as a reveal). Default: masked."})


class PrintCopySchema(Schema):
    """How to print a record's forms (default: personal data masked, as on screen)."""

    full_data = ma.Boolean(metadata={"description": "A copy with personal data in full (a role that may "
                                                    "reveal it; audited as a reveal)."})


class AttachmentSchema(Answer):
    """An evidence attachment."""

    id = ma.Integer(required=True)
    complaint_id = ma.Integer()
    filename = ma.String()
    content_type = ma.String()
    size = ma.Integer()
    sha256 = ma.String()
    created_at = ma.DateTime(allow_none=True)
    created_by_id = ma.Integer(allow_none=True)


class AttachmentsAnswerSchema(ListAnswer):
    """The complaint's attachments."""

    result = ma.List(ma.Nested(AttachmentSchema), required=True)


class AttachmentAddedAnswerSchema(Answer):
    """The attachment recorded."""

    id = ma.Integer(required=True)
    result = ma.Nested(AttachmentSchema, required=True)


class UploadSchema(Schema):
    """The file, as a multipart form field."""

    file = ma.Raw(required=True, metadata={"type": "string", "format": "binary"})


class StatsQuerySchema(Schema):
    """The month and the page of its ledger."""

    month = ma.String(metadata={"description": "YYYY-MM (default the current month)", "example": "2026-11"})
    ledger_offset = ma.Integer(load_default=0, metadata={"description": "rows of the ledger to skip"})
    ledger_limit = ma.Integer(load_default=1000,
                              metadata={"description": "rows of the ledger (default 1000, at most 10000; 0 for none)"})


def _counts():
    return ma.Dict(keys=ma.String(), values=ma.Integer())


class AnswersSchema(Answer):
    answers = ma.Integer()
    average = ma.Float(allow_none=True)


class TimeToCloseSchema(Answer):
    closed = ma.Integer()
    median_days = ma.Float(allow_none=True)
    p90_days = ma.Float(allow_none=True)


class OverdueCountsSchema(Answer):
    total = ma.Integer()
    by_department = _counts()
    by_state = _counts()


class RehandlingSchema(Answer):
    rehandled = ma.Integer()
    replied = ma.Integer()
    rate = ma.Float(allow_none=True)


class LedgerRowSchema(Answer):
    """One complaint of the ledger (台帐)."""

    id = ma.Integer(required=True)
    number = ma.String()
    received_at = ma.DateTime()
    channel = ma.String()
    customer = ma.String()
    unit = ma.String(allow_none=True)
    category = ma.String(allow_none=True)
    severity = ma.String(allow_none=True)
    summary = ma.String(allow_none=True)
    department = ma.String(allow_none=True)
    state = ma.String()
    closed_at = ma.DateTime(allow_none=True)
    working_days = ma.Float(allow_none=True)
    satisfaction = ma.Integer(allow_none=True)
    overdue = ma.Boolean()
    first_responsible = ma.String()


class StatsAnswerSchema(Answer):
    """Counts by channel, category, severity, department and state; median and 90th-percentile days to
    close; average satisfaction; overdue counts; re-handling rate; the ledger."""

    month = ma.String(required=True)
    from_ = ma.DateTime(data_key="from")
    to = ma.DateTime()
    as_of = ma.DateTime()
    total = ma.Integer(required=True)
    by_channel, by_category, by_severity = _counts(), _counts(), _counts()
    by_department, by_state = _counts(), _counts()
    time_to_close = ma.Nested(TimeToCloseSchema)
    satisfaction = ma.Nested(AnswersSchema)
    return_visit_satisfaction = ma.Nested(AnswersSchema)
    overdue = ma.Nested(OverdueCountsSchema)
    rehandling = ma.Nested(RehandlingSchema)
    ledger_total = ma.Integer()
    ledger = ma.List(ma.Nested(LedgerRowSchema))
    ledger_offset = ma.Integer()
    ledger_limit = ma.Integer()
    labels = ma.Dict(keys=ma.String(), values=ma.Dict(keys=ma.String(), values=ma.String()))


class DecisionSchema(Schema):
    """The general manager's decision (a comment is required to reject), optionally the version read."""

    decision = ma.String(required=True, validate=OneOf(["approve", "reject"]))
    comment = ma.String(allow_none=True)
    version = ma.Integer(allow_none=True)


class SubjectSchema(Answer):
    table = ma.String()
    id = ma.Integer()
    state = ma.String(allow_none=True)
    version = ma.Integer(allow_none=True)


class DecidedAnswerSchema(RecordAnswer):
    """The decided approval and the state of its subject."""

    result = ma.Dict(required=True)
    subject = ma.Nested(SubjectSchema, required=True)
