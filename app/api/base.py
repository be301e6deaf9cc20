"""The base of every REST resource: FAB's ModelRestApi made to go through the domain layer.

FAB turns an exception in pre_add/pre_update into a 500 (@safe) and commits inside its datamodel;
here every write runs `records.*` in a unit of work, a DomainError becomes `err.status` with a JSON
`message` in the caller's language, and responses carry `id` and `version` with personal data masked.
An endpoint of our own is documented from its marshmallow schemas (app.api.documented).
"""

from __future__ import annotations

from flask import current_app, request
from flask_appbuilder.api import ModelRestApi
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError as SchemaValidationError
from marshmallow import fields as ma_fields
from marshmallow_sqlalchemy.fields import Related

from app.domain import fields, privacy, records
from app.domain.errors import DomainError, NotFoundError, ValidationError
from app.domain.privacy import mask, masked_copy
from app.extensions import db
from app.outcome import Refusal, attempt

from .documented import DocumentedApi


def json_object() -> dict:
    """The request's JSON body, which must be an object (otherwise a 422 naming `body`)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError({"body": _l("Please send the fields as a JSON object.")})
    return body


def install() -> None:
    """FAB's `_info` passes each column's label and description through gettext, also when the API
    gives none: gettext("") is the catalogue's header (`Project-Id-Version: ...`), which then showed
    as the description of every column of every API. An absent label or description stays empty."""
    fab_field_info = ModelRestApi._get_field_info

    def field_info(self, field, *args, **kwargs):
        info = fab_field_info(self, field, *args, **kwargs)
        for key, given in (("label", self.label_columns), ("description", self.description_columns)):
            if not given.get(field.name):
                info[key] = ""
        return info

    ModelRestApi._get_field_info = field_info


def schema_refusal(err: SchemaValidationError) -> ValidationError:
    """Malformed input (bad date, unknown field) as a domain refusal: `message` a string in the user's
    language, `errors` per field."""
    errors = {field: "; ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
              for field, msgs in err.normalized_messages().items()}
    return ValidationError(errors)


def scalar_fields(schema, data: dict) -> dict:
    """`data` if every field that takes one value has one; a JSON list or object in its place (which
    marshmallow-sqlalchemy would try to build a related record from) is a 422 naming the field."""
    wrong = {name: _l("Please give a single value, not a list or an object.")
             for name, value in data.items()
             if isinstance(value, (dict, list))
             and not isinstance(schema.fields.get(name), (ma_fields.List, ma_fields.Nested, ma_fields.Dict))}
    for name, value in data.items():  # a related record by its id: "" or "x" failed in PostgreSQL
        if isinstance(schema.fields.get(name), Related) and value is not None and name not in wrong:
            try:
                fields.record_id(value)
            except ValueError as err:
                wrong[name] = err.args[0]
    if wrong:
        raise ValidationError(wrong)
    return data


class DomainModelRestApi(DocumentedApi, ModelRestApi):
    page_size = 25
    max_page_size = 100
    base_order = ("id", "desc")  # stable pages (without it PostgreSQL returned pages in scan order)

    def __init__(self):
        for attr in ("list_columns", "show_columns"):
            columns = list(getattr(self, attr) or [])
            for required in ("version", "id"):
                if columns and required not in columns:
                    columns.insert(0, required)
            setattr(self, attr, columns or None)
        self.label_columns = dict(self.label_columns or {})  # a copy: FAB adds to it (see CappedListMixin)
        super().__init__()
        model = self.datamodel.obj
        self.order_columns = [c for c in self.order_columns if not privacy.is_personal_column(model, c)]

    # --- lists: masked columns searched by the full value only, never sorted by -----------
    def get_list_headless(self, **kwargs):
        try:
            return super().get_list_headless(**kwargs)
        except (privacy.PersonalDataSearchError, privacy.PersonalDataOrderError) as err:
            return self.domain_error(err)  # raised by KefuFilters / KefuInterface (app.views.base)

    def _handle_order_args(self, rison_args):
        # Before FAB's own check, which would answer a masked column with an English "Invalid order by column".
        privacy.check_order(self.datamodel.obj, rison_args.get("order_column"))
        return super()._handle_order_args(rison_args)

    # --- reading: personal data masked --------------------------------------------------
    def pre_get(self, data):
        masked_copy(self.datamodel.obj, data.get("result", {}))
        item = db.session.get(self.datamodel.obj, data["id"]) if data.get("id") is not None else None
        if item is not None:  # already in the session: FAB loaded it for this answer
            data["result"].update(self.computed(item))

    def pre_get_list(self, data):
        for row in data.get("result", []):
            masked_copy(self.datamodel.obj, row)

    # --- writing through the domain -----------------------------------------------------
    def domain_error(self, err: DomainError):
        return self.refused(Refusal.of(err))

    def refused(self, refusal: Refusal):
        """A refusal as JSON: its status, `message` in the caller's language, `errors` per field."""
        return self.response(refusal.status, **refusal.body())

    def write(self, work, answer):
        """Every write of the API: `work()` in one unit of work (app.outcome.attempt), then `answer(result)`;
        a refusal answers with nothing written."""
        result, refusal = attempt(db.session, work)
        return self.refused(refusal) if refusal is not None else answer(result)

    def schema_error(self, err: SchemaValidationError):
        """Malformed input (bad date, unknown field) answers like a domain refusal."""
        return self.domain_error(schema_refusal(err))

    def actor(self):
        return current_app.appbuilder.sm.current_user

    def computed(self, item) -> dict:
        """What a resource adds to one record it answers with (number, labels, overdue flags, the
        actions the caller may take now ...): on GET /<id> and in every `body`."""
        return {}

    def dump(self, item) -> dict:
        data = self.show_model_schema.dump(item, many=False)
        data.update(id=item.id, version=item.version)
        return masked_copy(self.datamodel.obj, data)

    def body(self, item) -> dict:
        """One record as a write answers it: as GET /<id> would."""
        data = self.dump(item)
        data.update(self.computed(item))
        return data

    def take_step(self, load, move, answer=None, **extra):
        """POST /<id>/transition with {"action", "version", "comment", ...fields}: `load()` finds the
        record the caller may see, `move(session, record, action, actor, version, fields, comment)` is
        the domain's transition. Answers the record in its new state with the actions now allowed, or
        the refusal with nothing written. `extra` names further record attributes to answer with."""
        def move_it():
            data = dict(json_object())
            action, version, comment = (data.pop(key, None) for key in ("action", "version", "comment"))
            record = load()
            move(db.session, record, action, self.actor(), version, data, comment)
            return record

        def answered(record):
            result = (answer or self.body)(record)
            return self.response(200, id=record.id, version=record.version, state=record.state,
                                 allowed_actions=result["allowed_actions"], result=result,
                                 **{name: getattr(record, attribute) for name, attribute in extra.items()})

        return self.write(move_it, answered)

    def post_headless(self):
        def create():
            data = scalar_fields(self.add_model_schema, json_object())
            try:
                item = self.add_model_schema.load(data)
            except SchemaValidationError as err:
                raise schema_refusal(err) from err
            return records.create(db.session, item, self.actor()) or item

        return self.write(create, lambda item: self.response(201, id=item.id, result=self.dump(item)))

    def put_headless(self, pk):
        def change():
            data = scalar_fields(self.edit_model_schema, dict(json_object()))
            version = data.pop("version", None)
            item = self._get_visible(pk)
            records.check_version(item, version)
            self._keep_unchanged_masks(item, data)
            try:
                item = self.edit_model_schema.load(self._merge_update_item(item, data), instance=item)
            except SchemaValidationError as err:
                raise schema_refusal(err) from err
            records.save_loaded(db.session, item, self.actor(), version)
            return item

        return self.write(change, lambda item: self.response(200, id=item.id, result=self.dump(item)))

    def delete_headless(self, pk):
        version = request.args.get("version") or (request.get_json(silent=True) or {}).get("version")
        return self.write(lambda: records.delete(db.session, self._get_visible(pk), self.actor(), version),
                          lambda _done: self.response(200, message="OK"))

    def _get_visible(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            raise NotFoundError()
        return item

    def _keep_unchanged_masks(self, item, data: dict) -> None:
        """A client that read a masked value and sends it back unchanged keeps the stored value."""
        for field in getattr(type(item), "__personal_fields__", ()):
            if field in data and data[field] == mask(field, getattr(item, field)):
                del data[field]
