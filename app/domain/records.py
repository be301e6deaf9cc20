"""Creating, changing and deleting plain records: validation, the optimistic lock and the unit of work.

Workflow records (complaints, visits, ...) add their own rules on top; these apply to every record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from app import audit
from app.models import BOOKKEEPING_COLUMNS

from . import in_use
from .errors import (
    ConflictError,
    DomainError,
    PermanentRecordError,
    StaleRecordError,
    ValidationError,
    VersionRequiredError,
)
from .rules import field_errors


def check_version(obj, submitted) -> None:
    """Refuse a change based on a stale read. `submitted` is the version the client read.

    Copying the submitted value into the version attribute would NOT make SQLAlchemy check it (it
    would commit and move the version backwards), so compare with the loaded value explicitly, and
    keep the loaded value as the committed one so the UPDATE's WHERE version = ... guards the race.
    """
    if submitted is None or submitted == "":
        raise VersionRequiredError()
    try:
        submitted = int(submitted)
    except (TypeError, ValueError):
        raise ValidationError({"version": _l("The version must be a whole number.")}) from None
    hist = inspect(obj).attrs.version.history
    loaded = hist.deleted[0] if hist.deleted else obj.version
    if submitted != loaded:
        raise StaleRecordError()
    set_committed_value(obj, "version", loaded)


def editable_columns(model) -> list[str]:
    return [c.key for c in inspect(model).column_attrs if c.key not in BOOKKEEPING_COLUMNS]


def apply(obj, data: dict) -> None:
    """Copy the given fields onto the object; unknown or bookkeeping fields are refused."""
    allowed = set(editable_columns(type(obj)))
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError({k: _l("%(field)s cannot be set here.", field=k) for k in unknown})
    for key, value in data.items():
        setattr(obj, key, value)


def _fill_defaults_and_blanks(obj) -> None:
    """A blank optional text is no value (forms send "", the API sends null: both store NULL), and a
    column left out takes its declared default before the rules look at it."""
    for column in inspect(type(obj)).columns:
        key = column.key
        value = getattr(obj, key, None)
        if isinstance(value, str) and not value.strip() and column.nullable:
            setattr(obj, key, None)
        elif value is None and column.default is not None and column.default.is_scalar:
            setattr(obj, key, column.default.arg)


def validate(obj) -> None:
    _fill_defaults_and_blanks(obj)
    errors = field_errors(obj)
    if errors:
        raise ValidationError(errors)


def create(session: Session, obj, actor):
    with audit.acting_as(session, actor):
        validate(obj)
        session.add(obj)
        flush(session)
    return obj


def update(session: Session, obj, data: dict, actor, expected_version):
    check_version(obj, expected_version)
    apply(obj, data)
    return save_loaded(session, obj, actor, expected_version)


def save_loaded(session: Session, obj, actor, expected_version):
    """Save an object whose fields an adapter (a form) has already set from the request."""
    check_version(obj, expected_version)
    with audit.acting_as(session, actor):
        validate(obj)
        flush(session)
    return obj


def delete(session: Session, obj, actor, expected_version):
    check_version(obj, expected_version)
    in_use.check_deletable(session, obj)  # refused with the reason and the count, nothing deleted
    with audit.acting_as(session, actor):
        session.delete(obj)
        flush(session)


def flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleRecordError() from exc
    except IntegrityError as exc:
        raise ConflictError(_l("This would duplicate an existing record or break a link between "
                               "records; nothing was saved.")) from exc


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit what the block did, or roll all of it back; database errors become domain errors."""
    try:
        yield session
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise StaleRecordError() from exc
    except IntegrityError as exc:
        session.rollback()
        raise ConflictError(_l("This would duplicate an existing record or break a link between "
                               "records; nothing was saved.")) from exc
    except BaseException:
        session.rollback()
        raise


# --- enforced at flush, whatever the path ---------------------------------------------------

def _enforce_rules(session: Session, _ctx, _instances) -> None:
    for obj in list(session.new) + list(session.dirty):
        if audit.is_audited(obj) and (obj in session.new or session.is_modified(obj, include_collections=False)):
            validate(obj)
    for obj in list(session.dirty) + list(session.deleted):
        if getattr(type(obj), "__permanent__", False) and (
            obj in session.deleted or session.is_modified(obj, include_collections=False)
        ):
            raise PermanentRecordError()
        if getattr(type(obj), "__undeletable__", False) and obj in session.deleted:
            raise PermanentRecordError()


def install(session_class) -> None:
    if not event.contains(session_class, "before_flush", _enforce_rules):
        event.listen(session_class, "before_flush", _enforce_rules)


__all__ = ["DomainError", "check_version", "create", "update", "delete", "unit_of_work", "install", "apply"]
