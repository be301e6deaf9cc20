"""Planning a visit (SPEC §4 预约): the customer, who receives it, when, and who visits.

The planning rules live here, so that they hold whichever way a plan comes (the HTML form, the REST
API, the demo load): the visiting person must be an active member of customer service (CS Staff or CS
Manager, account active), and the unit, when one is given, must be one the customer holds. A refused
plan raises a ValidationError naming each wrong field before anything is written.
"""

from __future__ import annotations

from flask_appbuilder.security.sqla.models import Role, User
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit
from app.models import Customer, CustomerUnit, Unit, Visit, VisitStep
from app.models.choices import ContactRole, VisitState

from . import calendar, fields
from .errors import ForbiddenError, ValidationError
from .records import flush
from .roles import CS_MANAGER, CS_STAFF, role_names

# Who plans visits, and who may be sent on one.
CUSTOMER_SERVICE = frozenset({CS_STAFF, CS_MANAGER})


def visiting_staff(session) -> list[User]:
    """The users a visit may be given to: active, with a customer-service role (by username)."""
    return session.scalars(select(User).join(User.roles)
                           .where(Role.name.in_(CUSTOMER_SERVICE), User.active.is_(True))
                           .distinct().order_by(User.username)).all()


def _visitor_problem(session, staff_id):
    """Why this user cannot visit (a message), or None when they can."""
    try:
        user = session.get(User, fields.record_id(staff_id))
    except ValueError as exc:
        return exc.args[0]
    if user is None:
        return _l("This user does not exist.")
    if not role_names(user) & CUSTOMER_SERVICE:
        return _l("Only customer-service staff or managers visit customers: choose a member of customer service.")
    if not user.active:
        return _l("This user's account is deactivated: choose an active member of customer service.")
    return None


def _unit_problem(session, customer, unit_id):
    """Why this unit cannot be the visit's (a message), or None when it can."""
    if session.get(Unit, unit_id) is None:
        return _l("This unit does not exist.")
    if customer is not None and session.scalar(select(CustomerUnit.id).where(
            CustomerUnit.customer_id == customer.id, CustomerUnit.unit_id == unit_id).limit(1)) is None:
        return _l("The customer does not hold this unit.")
    return None


def plan_visit(session, actor, *, customer_id, planned_at, contact_role=None, contact_name=None,
               contact_post=None, contact_phone=None, unit_id=None, staff_id=None, companions=None) -> Visit:
    """A visit in `planned`: the customer, who receives it, when, and who visits (the planner when no
    one else is named)."""
    if not role_names(actor) & CUSTOMER_SERVICE:
        raise ForbiddenError(_l("Only customer service plans visits."))
    errors = {}
    customer = None
    try:
        customer = session.get(Customer, fields.record_id(customer_id))
        if customer is None:
            errors["customer_id"] = _l("This customer does not exist.")
    except ValueError as exc:
        errors["customer_id"] = exc.args[0]
    try:
        planned_at = fields.a_moment(planned_at) if planned_at not in (None, "") else None
        if planned_at is None:
            errors["planned_at"] = _l("This field is required.")
    except ValueError as exc:
        errors["planned_at"] = exc.args[0]
    if contact_role in (None, ""):
        person = customer is None or customer.kind == "person"
        contact_role = ContactRole.HOUSEHOLD if person else ContactRole.MAIN_CONTACT
    try:
        contact_role = fields.choice(ContactRole)(contact_role)
    except ValueError as exc:
        errors["contact_role"] = exc.args[0]
    contact_name = fields.text(contact_name)
    if contact_name is None and customer is not None:
        contact_name = {ContactRole.MAIN_CONTACT: customer.main_contact,
                        ContactRole.PROPERTY_CONTACT: customer.property_contact}.get(contact_role) or customer.name
    if unit_id in (None, ""):
        unit_id = None
    else:
        try:
            unit_id = fields.record_id(unit_id)
        except ValueError as exc:
            errors["unit_id"] = exc.args[0]
        else:
            problem = _unit_problem(session, customer, unit_id)
            if problem:
                errors["unit_id"] = problem
    staff_id = actor.id if staff_id in (None, "") else staff_id
    problem = _visitor_problem(session, staff_id)
    if problem:
        errors["staff_id"] = problem
    if errors:
        raise ValidationError(errors)
    now = calendar.local_now()
    visit = Visit(customer_id=customer.id, unit_id=unit_id, contact_role=contact_role, contact_name=contact_name,
                  contact_post=fields.text(contact_post), contact_phone=fields.text(contact_phone),
                  planned_at=planned_at, staff_id=fields.record_id(staff_id), companions=fields.text(companions),
                  state=VisitState.PLANNED, state_changed_at=now)
    with audit.acting_as(session, actor):
        session.add(visit)
        flush(session)
        # The timeline's first entry (the steps that follow are the visit workflow's).
        session.add(VisitStep(visit_id=visit.id, action="plan", from_state="", to_state=VisitState.PLANNED,
                              actor_id=actor.id, actor_name=actor.username, at=now))
        flush(session)
    return visit
