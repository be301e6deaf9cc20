"""The club through the REST API with a JWT, as an integration would use it: enrol, review, issue the
card, activate; a plan approved by the GM; an activity scheduled from it, attendance by card number,
award (a second refused); redeem beyond the balance (refused, nothing changed); a retry with the same
key; a reversal; the refusals in Chinese with nothing written."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Approval
from tests.conftest import audit_count

from .conftest import new_customer


def _step(client, url, version, action, **fields):
    response = client.post(f"{url}/transition", json={"action": action, "version": version, **fields})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_club_scenario_through_the_api(app, api, ctx, users):
    staff, manager, gm = api("cs_staff"), api("cs_manager"), api("gm")
    customer = new_customer(ctx, users["cs_staff"], "API会员")
    ctx.commit()

    applied = staff.post("/api/v1/member/", json={"customer_id": customer.id, "hobbies": "摄影"})
    assert applied.status_code == 201, applied.get_json()
    member_id, version = applied.get_json()["id"], applied.get_json()["version"]
    url = f"/api/v1/member/{member_id}"
    assert staff.post("/api/v1/member/", json={"customer_id": customer.id}).status_code == 409
    for action in ("review", "issue_card", "activate"):
        version = _step(staff, url, version, action)["version"]
    member = staff.get(url).get_json()["result"]
    assert member["state"] == "active" and member["card_number"] and member["balance"] == 0
    assert staff.get(f"/api/v1/customer/{customer.id}").get_json()["result"]["stage"] == "member"
    stale = staff.post(f"{url}/transition", json={"action": "lapse", "version": version - 1, "reason": "x"})
    assert stale.status_code == 409

    plan = manager.post("/api/v1/club_plan/", json={"year": 2026, "title": "2026 年客户会计划", "items": [
        {"theme": "重阳登高", "month": 10, "customer_group": "老年业主", "activity_type": "户外"}]}).get_json()
    assert "id" in plan, plan
    _step(manager, f"/api/v1/club_plan/{plan['id']}", plan["version"], "submit")
    approval = ctx.scalars(select(Approval).where(Approval.subject_table == "club_plan",
                                                  Approval.subject_id == plan["id"])).one()
    ctx.rollback()
    decided = gm.post(f"/api/v1/approval/{approval.id}/decide", json={"decision": "approve", "comment": "同意"})
    assert decided.status_code == 200, decided.get_json()

    created = staff.post("/api/v1/club_activity/", json={"plan_id": plan["id"], "title": "重阳登高",
                                                          "starts_at": "2026-10-25 08:00", "points": 30})
    assert created.status_code == 201, created.get_json()
    activity_id, a_version = created.get_json()["id"], created.get_json()["version"]
    a_url = f"/api/v1/club_activity/{activity_id}"
    signed = staff.post(f"{a_url}/attendance", json={"card_number": member["card_number"]})
    assert signed.status_code == 201, signed.get_json()
    assert staff.post(f"{a_url}/attendance", json={"card_number": "NO-SUCH"}).status_code == 422
    a_version = _step(staff, a_url, a_version, "hold")["version"]
    a_version = _step(staff, a_url, a_version, "award")["version"]
    again = staff.post(f"{a_url}/transition", json={"action": "award", "version": a_version})
    assert again.status_code == 409 and "积分已发放" in again.get_json()["message"]
    no_summary = staff.post(f"{a_url}/transition", json={"action": "close", "version": a_version, "evaluation": "好"})
    assert no_summary.status_code == 422 and "summary" in no_summary.get_json()["errors"]

    ledger = staff.get(f"{url}/points").get_json()
    assert ledger["balance"] == 30 and [r["points"] for r in ledger["result"]] == [30]

    before = audit_count(ctx)
    ctx.rollback()
    too_much = staff.post(f"{url}/points", json={"kind": "redeem", "points": 31, "reason": "兑换", "idempotency_key": "api-1"})
    assert too_much.status_code == 409 and "积分不足" in too_much.get_json()["message"]
    assert audit_count(ctx) == before
    ctx.rollback()
    body = {"kind": "redeem", "points": 12, "reason": "兑换保温杯", "idempotency_key": "api-2"}
    first = staff.post(f"{url}/points", json=body)
    assert first.status_code == 201 and first.get_json()["balance"] == 18
    retry = staff.post(f"{url}/points", json=body)
    assert retry.status_code == 200 and retry.get_json()["replayed"] and retry.get_json()["id"] == first.get_json()["id"]
    assert staff.get(f"{url}/points").get_json()["balance"] == 18

    reversed_ = staff.post(f"{url}/points/reverse", json={"entry_id": first.get_json()["id"], "reason": "误兑换"})
    assert reversed_.status_code == 201 and reversed_.get_json()["balance"] == 30
    assert reversed_.get_json()["result"]["reverses_id"] == first.get_json()["id"]
    assert staff.post(f"{url}/points/reverse", json={"entry_id": first.get_json()["id"], "reason": "x"}).status_code == 409
    rows = staff.get(f"{url}/points").get_json()["result"]
    assert [r["points"] for r in rows] == [12, -12, 30] and rows[0]["balance_after"] == 30

    auditor = api("auditor")
    assert auditor.get(f"{url}/points").status_code == 200
    assert auditor.post(f"{url}/points", json=body).status_code in (401, 403)
    bad = staff.post(f"{url}/points", json={"kind": "steal", "points": "x", "reason": "", "idempotency_key": ""})
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]


def test_club_verify_passes_and_names_a_broken_ledger(app, ctx, users):
    from datetime import datetime

    from sqlalchemy import insert

    from app.domain.club import points
    from app.models import PointsEntry

    from .conftest import active_member

    result = app.test_cli_runner().invoke(args=["club", "verify"])
    assert result.exit_code == 0, result.output
    assert "club verify" in result.output and "通过" in result.output
    member = active_member(ctx, users["cs_staff"], "校验会员")
    # A row written past the domain (then rolled back): a reversal of nothing that takes the balance below zero.
    ctx.execute(insert(PointsEntry.__table__).values(
        member_id=member.id, kind="reversal", points=-5, reason="x", actor_name="x", at=datetime(2026, 1, 1),
        version=1))
    problems = points.verify(ctx.connection())
    ctx.rollback()
    assert len(problems) == 2 and all(str(member.id) in p or "冲正" in p for p in problems)
    assert any("低于零" in p for p in problems) and any("冲正记录" in p for p in problems)


def test_the_card_prints_at_card_size_and_is_filed(app, api, ctx, users):
    import hashlib
    import re

    from app.domain import archive
    from app.models import ArchiveRecord

    from .conftest import active_member

    member = active_member(ctx, users["cs_staff"], "印卡会员")
    old_card, member_id = member.card_number, member.id
    ctx.commit()
    staff = api("cs_staff")
    printed = staff.post(f"/api/v1/member/{member_id}/card")
    assert printed.status_code == 201, printed.get_json()
    record = ctx.get(ArchiveRecord, printed.get_json()["id"])
    pdf = archive.read_file(record)
    assert hashlib.sha256(pdf).hexdigest() == record.sha256 and record.form == "member_card"
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert box and abs(float(box.group(1)) - 242.65) < 0.1 and abs(float(box.group(2)) - 153.07) < 0.1
    version = staff.get(f"/api/v1/member/{member_id}").get_json()["result"]["version"]
    replaced = staff.post(f"/api/v1/member/{member_id}/transition",
                          json={"action": "replace_card", "version": version, "reason": "遗失"})
    assert replaced.status_code == 200 and replaced.get_json()["result"]["card_number"] != old_card
    reprint = staff.post(f"/api/v1/member/{member_id}/card").get_json()
    ctx.rollback()
    assert ctx.get(ArchiveRecord, reprint["id"]).previous_id == record.id
    ctx.rollback()  # SQLite: no write lock held while the command reads
    result = app.test_cli_runner().invoke(args=["archive", "verify"])
    assert result.exit_code == 0, result.output


def test_the_monthly_figures_through_the_api(api):
    staff = api("cs_staff")
    answer = staff.get("/api/v1/member/figures?year=2026")
    assert answer.status_code == 200 and answer.get_json()["year"] == 2026
    assert answer.get_json()["result"][0]["month"] == "2026-01"
    assert staff.get("/api/v1/member/figures?year=abc").status_code == 422
