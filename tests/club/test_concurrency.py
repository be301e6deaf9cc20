"""Twenty redemptions at once against one balance (PostgreSQL: each locks the member's row, so they
queue; SQLite serialises its writers anyway): the balance never goes below zero, exactly as many succeed as the balance allows, and each
refused one says why."""

from __future__ import annotations

import threading

from sqlalchemy import text

from app.domain.club import points
from app.domain.errors import DomainError
from app.domain.records import unit_of_work
from app.extensions import db

from .conftest import active_member, key


def test_twenty_concurrent_redemptions_never_go_below_zero(app, ctx, users):
    staff = users["cs_staff"]
    member = active_member(ctx, staff, "并发会员")
    with unit_of_work(ctx):
        points.change(ctx, member.id, staff, "adjust", 100, "开户赠送", key())
    member_id, staff_id = member.id, staff.id
    ctx.remove()
    start, outcomes, lock = threading.Barrier(20), [], threading.Lock()

    def redeem(n):
        with app.app_context():
            session = db.session
            start.wait()  # before any read: on SQLite a read here would hold the write lock (BEGIN IMMEDIATE)
            actor = app.appbuilder.sm.get_user_by_id(staff_id)
            try:
                with unit_of_work(session):
                    points.change(session, member_id, actor, "redeem", 15, "并发兑换", f"conc-{n}-{member_id}")
                result = "ok"
            except DomainError as err:
                result = str(err)
            finally:
                session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if o != "ok"]
    assert outcomes.count("ok") == 6 and len(refused) == 14
    assert all("积分不足" in o and "余额 10" in o for o in refused), refused
    total = ctx.execute(text("SELECT SUM(points) FROM club_points WHERE member_id = :m"), {"m": member_id}).scalar()
    assert total == 10
