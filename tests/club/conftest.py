"""Club tests run on the minimal seed (tests/seed.py), as the domain tests do: a migrated database with
one user per role, one project with three units and three customers — nothing of the demo load."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import PASSWORD, _prepared, make_config

_keys = itertools.count(1)


@pytest.fixture(scope="session")
def app(databases):
    from app import create_app
    from app.extensions import db
    from tests.conftest import _prepare_migrated
    from tests.seed import seed_minimal

    def build(app):
        _prepare_migrated(app, {})
        with app.app_context():
            seed_minimal(db.session, app.appbuilder, PASSWORD)
            db.session.remove()

    app = create_app(make_config(databases.new()))
    _prepared(app, ("seeded",), {}, build)
    yield app
    with app.app_context():
        db.engine.dispose()


def key(prefix="k") -> str:
    """A fresh idempotency key (keys are unique across the whole ledger, and the database is shared)."""
    return f"{prefix}-{next(_keys)}"


def new_customer(session, actor, name, stage="owner", with_unit=True):
    """A customer of the seeded project (a unit of its own when `with_unit`)."""
    from decimal import Decimal

    from sqlalchemy import select

    from app import audit
    from app.domain import records
    from app.models import Building, Customer, CustomerUnit, Unit

    with audit.acting_as(session, actor), records.unit_of_work(session):
        customer = Customer(kind="person", name=name, stage=stage)
        session.add(customer)
        if with_unit:
            building = session.scalars(select(Building)).first()
            unit = Unit(building=building, number=f"U{next(_keys)}", floor=1, area=Decimal(90))
            session.add_all([unit, CustomerUnit(customer=customer, unit=unit)])
    return customer


def active_member(session, actor, name, stage="owner"):
    """A customer taken through apply → review → issue_card → activate."""
    from app.domain.club import members
    from app.domain.records import unit_of_work

    customer = new_customer(session, actor, name, stage)
    with unit_of_work(session):
        member = members.apply(session, actor, customer.id)
    for action in ("review", "issue_card", "activate"):
        with unit_of_work(session):
            members.transition(session, member, action, actor, member.version)
    return member
