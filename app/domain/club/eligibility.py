"""Who may join the club: an owner, a future owner or a tenant of a unit in one of the company's
projects (seed 002: 会员资格). The one place this rule lives; the review step and the pages ask it."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models import Building, Customer, CustomerUnit, Project, Unit
from app.models.choices import CustomerStage

# A customer already shown as 会员 was eligible when they joined (their stage before is kept on the member).
ELIGIBLE_STAGES = frozenset({CustomerStage.OWNER, CustomerStage.FUTURE_OWNER, CustomerStage.TENANT,
                             CustomerStage.MEMBER})


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reason: str


def eligibility(session, customer: Customer) -> Eligibility:
    if customer.stage not in ELIGIBLE_STAGES:
        return Eligibility(False, str(_l("Only an owner, a future owner or a tenant may join the club; the "
                                         "customer is “%(stage)s”.", stage=CustomerStage.label_of(customer.stage))))
    projects = session.scalars(
        select(Project.name).join(Building, Building.project_id == Project.id).join(Unit, Unit.building_id == Building.id)
        .join(CustomerUnit, CustomerUnit.unit_id == Unit.id).where(CustomerUnit.customer_id == customer.id)
        .distinct().order_by(Project.name)).all()
    if not projects:
        return Eligibility(False, str(_l("The customer holds no unit in any of the company's projects.")))
    return Eligibility(True, str(_l("%(stage)s of %(projects)s", stage=CustomerStage.label_of(customer.stage),
                                    projects="、".join(projects))))
