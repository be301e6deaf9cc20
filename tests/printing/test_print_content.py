"""What the forms say (FORMS.md, issue 13 item 3): China time everywhere, people by their names, every
rectification round, the opinion sheet only with what the customer said, the complaint record with its
unit, who closed it, the attachments (name, SHA-256) and the case-library entry by number and title, and
«无» for an optional section with nothing in it. Read back from the PDFs with poppler where it matters."""

import json
from datetime import datetime, timedelta

from flask_appbuilder.security.sqla.models import User
from sqlalchemy import select

from app import audit, printing
from app.domain import records
from app.models import (
    Approval,
    CaseEntry,
    Complaint,
    ComplaintAttachment,
    ComplaintStep,
    Rectification,
    Visit,
    VisitItem,
)
from reports import base
from reports.forms import complaint_record

from . import pdf as read
from .test_archive import PRINTED_AT, stored


def _names(session) -> dict[str, str]:
    """login -> the name people read: family name (first_name) then given name (last_name)."""
    return {u.username: f"{u.first_name or ''}{u.last_name or ''}" for u in session.scalars(select(User))}


def _major(session) -> Complaint:
    return session.scalars(select(Complaint).where(Complaint.state == "fed_back", Complaint.severity == "major")
                           .order_by(Complaint.id)).first()


def test_the_complaint_record_prints_china_time_and_names_not_logins(ctx, users):
    complaint = _major(ctx)
    approvals = ctx.scalars(select(Approval).where(Approval.subject_table == "complaint",
                                                   Approval.subject_id == complaint.id)).all()
    assert approvals, "the demo's major complaint went to the general manager"
    data = printing.complaint_record_data(ctx, complaint, users["cs_staff"])
    printed = {(row[2], row[5]) for row in data["approvals"]}
    for approval in approvals:  # stored in UTC, printed in China time (UTC+8, no summer time)
        china = (approval.requested_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
        decided = (approval.decided_at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") if approval.decided_at else ""
        assert (china, decided) in printed, (china, decided, printed)
    names = _names(ctx)
    everything = json.dumps(data, ensure_ascii=False)
    actors = {s.actor_name for s in ctx.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id))}
    for login in actors | {a.requested_by_name for a in approvals}:
        assert names[login] and names[login] != login
        assert names[login] in everything, login
        assert f'"{login}"' not in everything, f"the login {login} is printed"
    assert [row[3] for row in data["timeline"]] and all(row[3] in names.values() for row in data["timeline"])
    assert "。；" not in everything  # a field's full stop is not followed by the separator


def test_the_complaint_record_shows_unit_closer_attachments_and_case_entry(ctx, users):
    complaint = _major(ctx)
    digest = "ab" * 32
    with audit.acting_as(ctx, users["cs_manager"]):  # rolled back with the test's session
        entry = CaseEntry(title="雨天大堂防滑的教训", stage="move_in", category="living", description="案例描述")
        ctx.add(entry)
        ctx.flush()
        complaint.case_entry_id = entry.id
        ctx.add(ComplaintAttachment(complaint_id=complaint.id, filename="现场照片.jpg", content_type="image/jpeg",
                                    size=2048, sha256=digest, stored_path="x/y.jpg"))
        ctx.flush()
    data = printing.complaint_record_data(ctx, complaint, users["cs_staff"])
    receipt = dict(data["receipt"])
    assert receipt["房号"], "the unit (房号) is printed"
    pairs = dict(pair for _title, section in data["sections"] for pair in section)
    closer = ctx.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id,
                                                     ComplaintStep.to_state == "closed")).first()
    assert pairs["关闭人"] == _names(ctx)[closer.actor_name]
    assert pairs["案例库条目"] == f"第 {entry.id} 号　雨天大堂防滑的教训"
    assert [row[1] for row in data["attachments"]] == ["现场照片.jpg"] and data["attachments"][0][3] == digest
    # printed without filing: the entry and the attachment above are never committed
    pdf = base.build(complaint_record, data, base.PrintContext("测试物业", "KF-2026-000001", "http://x/verify",
                                                              "0000-0000-0000-0000", PRINTED_AT, "测试"))
    flat = read.text(pdf.pdf).replace(" ", "").replace("\n", "")
    for expected in ("现场照片.jpg", "雨天大堂防滑的教训", "关闭人", receipt["房号"].replace(" ", "")):
        assert expected in flat, expected
    assert digest[:32] in flat  # the whole hash is printed (it may wrap inside its cell)


def test_empty_optional_sections_say_none(app, ctx, users):
    complaint = ctx.scalars(select(Complaint).where(Complaint.state == "confirmed").order_by(Complaint.id)).first()
    data = printing.complaint_record_data(ctx, complaint, users["cs_staff"])
    assert data["progress"] == [] and data["attachments"] == []
    with records.unit_of_work(ctx):
        record = printing.print_complaint_record(ctx, complaint, users["cs_staff"], printed_at=PRINTED_AT)
    lines = [line.strip() for line in read.text(stored(app, record).read_bytes()).splitlines()]
    for section in ("■处理进展（每次均告知客户）", "■证据附件"):
        at = next(i for i, line in enumerate(lines) if line.replace(" ", "") == section)
        assert next(line for line in lines[at + 1:] if line) == "无", section
    assert "。；" not in "".join(lines)


def _visit_with_second_round(session) -> tuple[Visit, Rectification]:
    item = session.scalars(select(Rectification).join(Visit).where(Rectification.round == 2,
                                                                   Visit.state == "return_visited")
                           .order_by(Rectification.id)).first()
    assert item is not None, "the demo has a return-visited visit with a second rectification round"
    return session.get(Visit, item.visit_id), item


def test_the_visit_record_shows_every_rectification_round(app, ctx, users, artifacts):
    visit, item = _visit_with_second_round(ctx)
    data = printing.visit_record_data(ctx, visit, users["cs_staff"])
    seq = ctx.get(VisitItem, item.item_id).seq
    rounds = [row for row in data["rectifications"] if row[0] == seq]
    assert [row[6] for row in rounds] == [1, 2]
    first, second = rounds
    assert second[2] == item.measure and first[2] != item.measure and second[2].startswith(first[2])
    assert "客户不满意" in first[7] and "转第 2 轮" in first[7] and "客户满意" in second[7]
    assert first[4] != second[4]  # each round its own deadline
    assert data["return_visit"] and dict(data["return_visit"])["回访人"] in _names(ctx).values()
    with records.unit_of_work(ctx):
        filed = printing.print_visit_forms(ctx, visit, users["cs_staff"], printed_at=PRINTED_AT)
    flat = read.text(stored(app, filed[0]).read_bytes()).replace(" ", "").replace("\n", "")
    assert "客户不满意" in flat and "（加强版）" in flat
    read.first_page_png(stored(app, filed[0]), artifacts / "visit_record_rounds")


def test_the_opinion_sheet_ticks_nothing_the_customer_did_not_say(ctx, users):
    visit, _item = _visit_with_second_round(ctx)
    items = ctx.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id)).all()
    assert {i.result for i in items} >= {"qualified", "non_conforming"}
    data = printing.opinion_sheet_data(ctx, visit, users["cs_staff"])
    assert all(row[1:4] == ["□", "□", "□"] for row in data["ratings"]), "an inspection result is not a rating"
    remarks = {row[0]: row[4] for row in data["ratings"]}
    assert any(i.opinion and i.opinion in remarks.values() for i in items)
    assert not any(i.explanation and i.explanation in remarks.values() for i in items)


def test_a_planned_visit_is_not_printed_as_its_forms(ctx, users):
    from sqlalchemy import func

    from app.domain.print_rules import NothingToPrintError
    from app.models import ArchiveRecord

    visit = ctx.scalars(select(Visit).where(Visit.state == "planned")).first()
    before = ctx.scalar(select(func.count(ArchiveRecord.id)))
    try:
        printing.print_visit_forms(ctx, visit, users["cs_staff"], printed_at=datetime(2026, 11, 24))
    except NothingToPrintError as err:
        assert err.status == 409
    else:
        raise AssertionError("a planned visit's forms were printed")
    assert ctx.scalar(select(func.count(ArchiveRecord.id))) == before
