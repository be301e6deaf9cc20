"""Run one write in a unit of work and turn the domain's refusal into what a face answers: a flash and
the messages beside the form's fields (app/views), or a JSON body (app/api). One place, so that a page
and the API refuse with the same words and the same HTTP status, and a refusal writes nothing.

    result, refusal = attempt(db.session, lambda: visits.transition(...))
    if refusal:  # HTML
        status = refusal.flash(form)
    if refusal:  # API
        return self.response(refusal.status, **refusal.body())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import flash

from app.domain.errors import DomainError, ValidationError
from app.domain.records import unit_of_work


@dataclass
class Refusal:
    status: int
    message: str  # the whole refusal, per-field messages included
    summary: str  # the message without them (a page shows those beside their fields)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, err: DomainError) -> Refusal:
        if isinstance(err, ValidationError):
            return cls(err.status, str(err), str(err.message), {k: str(v) for k, v in err.errors.items()})
        return cls(err.status, str(err), str(err))

    def body(self) -> dict:
        """The JSON answer: `message` in the caller's language, `errors` per field for invalid input."""
        errors = {"errors": self.errors} if self.errors else {}
        return {"message": self.message, **errors}

    def flash(self, form=None, rename: dict | None = None, name_rows: dict | None = None) -> int:
        """Each field's message beside its field (`rename`: the form's name of a domain field); the others
        and the summary flashed. `name_rows` {field: callable} rewrites the message of a table-like field
        ("2: ..." names its row). Returns the HTTP status to answer with."""
        rename, name_rows = rename or {}, name_rows or {}
        for name, message in self.errors.items():
            shown = rename.get(name, name)
            if name in name_rows:
                flash(name_rows[name](message), "danger")
            elif form is not None and shown in form and shown != "csrf_token":
                form[shown].errors = [*form[shown].errors, message]
            else:
                flash(message, "danger")
        flash(self.summary, "danger")
        return self.status


def attempt(session, work: Callable[[], object]) -> tuple[object, Refusal | None]:
    """`work()` in one unit of work: (its result, None), or (None, the refusal) with everything rolled back."""
    try:
        with unit_of_work(session):
            result = work()
    except DomainError as err:
        session.rollback()
        return None, Refusal.of(err)
    return result, None
