from sqlalchemy import func, select

from app.models import Customer


def test_demo_data_loaded(ctx, users):
    assert ctx.scalar(select(func.count(Customer.id))) >= 200
    assert all(users.values())
