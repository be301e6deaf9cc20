"""Every record: validation refuses bad input with nothing written; the optimistic lock refuses stale saves."""

import pytest
from sqlalchemy import func, select

from app.domain import records
from app.domain.errors import StaleRecordError, ValidationError, VersionRequiredError
from app.domain.validation import id_number_check_digit
from app.models import Customer
from tests.conftest import audit_count


def new_customer(**fields):
    first17 = "33010619850615123"
    data = dict(name="测试客户", kind="person", stage="potential", mobile="13900001234",
                id_number=first17 + id_number_check_digit(first17))
    data.update(fields)
    return Customer(**data)


def wrong_check_digit(first17):
    right = id_number_check_digit(first17)
    return first17 + ("1" if right != "1" else "2")


def count(session):
    return session.scalar(select(func.count(Customer.id)))


def test_create_writes_the_record_and_one_audit_row(ctx, users):
    before_rows, before_audit = count(ctx), audit_count(ctx)
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
    assert count(ctx) == before_rows + 1
    assert audit_count(ctx) == before_audit + 1
    assert customer.version == 1
    assert customer.created_by_id == users["cs_staff"].id


def test_invalid_id_number_is_refused_and_nothing_is_written(ctx, users):
    before_rows, before_audit = count(ctx), audit_count(ctx)
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx):
            records.create(ctx, new_customer(id_number=wrong_check_digit("33010619850615123")),
                           users["cs_staff"])
    assert "id_number" in refused.value.errors
    assert count(ctx) == before_rows
    assert audit_count(ctx) == before_audit


@pytest.mark.parametrize("field,value", [("mobile", "1234"), ("phone", "abc"), ("stage", "vip"),
                                         ("kind", "robot"), ("name", "  ")])
def test_each_bad_field_is_named(ctx, users, field, value):
    with pytest.raises(ValidationError) as refused:
        with records.unit_of_work(ctx):
            records.create(ctx, new_customer(**{field: value}), users["cs_staff"])
    assert field in refused.value.errors


def test_rules_hold_even_for_a_direct_orm_write(ctx, users):
    """The flush enforces the rules, so a path that forgets to call the domain cannot save bad data."""
    from app import audit

    with pytest.raises(ValidationError):
        with audit.acting_as(ctx, users["cs_staff"]), records.unit_of_work(ctx):
            ctx.add(new_customer(mobile="999"))


def test_update_with_the_version_read_succeeds_and_bumps_it(ctx, users):
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
    before_audit = audit_count(ctx)
    with records.unit_of_work(ctx):
        records.update(ctx, customer, {"name": "改名客户"}, users["cs_manager"], expected_version=1)
    assert customer.version == 2
    assert customer.updated_by_id == users["cs_manager"].id
    assert audit_count(ctx) == before_audit + 1


def test_stale_version_is_refused_and_nothing_changes(ctx, users):
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
        records.update(ctx, customer, {"name": "第二版"}, users["cs_staff"], expected_version=1)
    before_audit = audit_count(ctx)
    with pytest.raises(StaleRecordError):
        with records.unit_of_work(ctx):
            records.update(ctx, customer, {"name": "过期的修改"}, users["cs_staff"], expected_version=1)
    ctx.expire_all()
    fresh = ctx.get(Customer, customer.id)
    assert fresh.name == "第二版"
    assert fresh.version == 2
    assert audit_count(ctx) == before_audit


def test_copying_a_stale_version_into_the_attribute_is_still_refused(ctx, users):
    """The trap of STACK.md: a form that writes the submitted version into the attribute."""
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
        records.update(ctx, customer, {"name": "第二版"}, users["cs_staff"], expected_version=1)
    customer.version = 1  # what FAB's populate_obj does with a hidden version field
    customer.name = "过期的修改"
    with pytest.raises(StaleRecordError):
        with records.unit_of_work(ctx):
            records.save_loaded(ctx, customer, users["cs_staff"], 1)
    ctx.expire_all()
    assert ctx.get(Customer, customer.id).version == 2


def test_a_concurrent_change_between_read_and_write_is_caught_by_the_update(app, ctx, users):
    """Both read version 1; the later writer's UPDATE ... WHERE version = 1 matches nothing."""
    from sqlalchemy.orm import Session

    from app.audit import SystemActor
    from app.extensions import db

    staff = SystemActor(users["cs_staff"].id, "cs_staff")  # plain actors: no lazy load through ctx
    manager = SystemActor(users["cs_manager"].id, "cs_manager")
    with records.unit_of_work(ctx):
        customer_id = records.create(ctx, new_customer(), staff).id
    mine_session = Session(db.engine, expire_on_commit=False)
    theirs_session = Session(db.engine, expire_on_commit=False)
    try:
        mine = mine_session.get(Customer, customer_id)
        mine_session.commit()  # I read version 1 and go on editing; my read transaction is over
        theirs = theirs_session.get(Customer, customer_id)
        with records.unit_of_work(theirs_session):
            records.update(theirs_session, theirs, {"name": "他人先改"}, manager, 1)
        with pytest.raises(StaleRecordError):
            with records.unit_of_work(mine_session):
                records.update(mine_session, mine, {"name": "我后改"}, staff, 1)
    finally:
        mine_session.close()
        theirs_session.close()
    ctx.expire_all()
    assert ctx.get(Customer, customer_id).name == "他人先改"


def test_a_change_needs_the_version(ctx, users):
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
    with pytest.raises(VersionRequiredError):
        records.update(ctx, customer, {"name": "x"}, users["cs_staff"], expected_version=None)


def test_bookkeeping_fields_cannot_be_set(ctx, users):
    with records.unit_of_work(ctx):
        customer = records.create(ctx, new_customer(), users["cs_staff"])
    with pytest.raises(ValidationError) as refused:
        records.update(ctx, customer, {"version": 99, "created_by_id": 1}, users["cs_staff"], 1)
    assert set(refused.value.errors) == {"version", "created_by_id"}


def test_blank_optional_text_is_stored_as_null_and_defaults_apply(ctx, users):
    customer = Customer(name="默认值客户", email="  ", address="", mobile="13900004321")
    with records.unit_of_work(ctx):
        records.create(ctx, customer, users["cs_staff"])
    assert (customer.email, customer.address) == (None, None)
    assert (customer.kind, customer.stage) == ("person", "potential")
