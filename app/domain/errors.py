"""Domain errors. Each carries an HTTP status and a translatable message; str(err) renders it in the
request's locale, so the same text reaches a flash, a JSON `message` and the command line."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    status = 400
    default_message = _l("The request was refused.")

    def __init__(self, message=None, **params):
        self.message = message if message is not None else self.default_message
        self.params = params
        super().__init__(str(self.message))

    def __str__(self) -> str:
        text = str(self.message)
        params = {k: str(v) for k, v in self.params.items()}
        return text % params if params else text


class NotFoundError(DomainError):
    status = 404
    default_message = _l("The record does not exist or is not visible to you.")


class ForbiddenError(DomainError):
    status = 403
    default_message = _l("You are not allowed to do this.")


class ConflictError(DomainError):
    status = 409


class StaleRecordError(ConflictError):
    default_message = _l("This record has been changed by someone else; please reload it and try again.")


class VersionRequiredError(DomainError):
    status = 422
    default_message = _l("The version you read is required to change a record.")


class PermanentRecordError(ConflictError):
    default_message = _l("This is a permanent record: it can never be changed or deleted.")


class ValidationError(DomainError):
    """Bad input. `errors` maps each field to its message; nothing is saved."""

    status = 422
    default_message = _l("The input is not valid.")

    def __init__(self, errors: dict[str, object], message=None):
        self.errors = errors
        super().__init__(message)

    def __str__(self) -> str:
        details = "；".join(str(msg) for msg in self.errors.values())
        return f"{super().__str__()} {details}".strip()


class TransitionNotAllowedError(ConflictError):
    default_message = _l("This action is not allowed in the record's current state.")
