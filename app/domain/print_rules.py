"""When a record's form may be printed as that record's form (SPEC §8, issue 13 item 4).

A printed copy is filed for good, so a form is printed only once the record holds what the form records:
a visit's two forms once the visit was made, a return-visit record once the return visit was done, a
complaint's return-visit form once the complaint was return-visited. The complaint record itself holds
the receipt from the start. Printing (app.printing), the API and the screens all ask this module; a
refusal is a 409 and nothing is filed. Blank forms for the customer to fill are printed as blanks
(app.printing.print_blank), never as a record's form.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from app.models.choices import ComplaintState, ReturnVisitState, VisitState

from .errors import ConflictError

_VISITED = frozenset(VisitState) - {VisitState.PLANNED}

# (source table, form) -> the states of the source from which the form may be printed.
PRINTABLE_FROM: dict[tuple[str, str], frozenset[str]] = {
    ("complaint", "complaint_record"): frozenset(ComplaintState),
    ("complaint", "return_visit"): frozenset({ComplaintState.RETURN_VISITED, ComplaintState.FED_BACK}),
    ("visit", "visit_record"): _VISITED,
    ("visit", "opinion_sheet"): _VISITED,
    ("return_visit", "return_visit"): frozenset({ReturnVisitState.DONE}),
}

_NOTHING_YET = {
    ("complaint", "return_visit"): _l("The complaint has not been return-visited yet: its return-visit record "
                                      "has nothing to print."),
    ("visit", "visit_record"): _l("The visit has not been made yet: its forms have nothing to print. "
                                  "Print a blank form to take along instead."),
    ("visit", "opinion_sheet"): _l("The visit has not been made yet: its forms have nothing to print. "
                                   "Print a blank form to take along instead."),
    ("return_visit", "return_visit"): _l("The return visit has not been done yet: its record has nothing to print."),
}


class NothingToPrintError(ConflictError):
    default_message = _l("This form has nothing to print yet.")


def may_print(form: str, record) -> bool:
    """Whether `form` may be printed now as the form of `record` (a Complaint, Visit or ReturnVisit)."""
    states = PRINTABLE_FROM.get((record.__table__.name, form))
    return states is not None and record.state in states


def check(form: str, record) -> None:
    """Refuse (409, nothing filed) to print `form` for `record` in its present state."""
    if not may_print(form, record):
        raise NothingToPrintError(_NOTHING_YET.get((record.__table__.name, form)))
