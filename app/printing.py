"""What each printed form shows, gathered from the records, and the one call that prints and files it.

The forms themselves (reports/forms/) know nothing of the database: they receive plain data — text
already labelled in Chinese — built here, with the labels the pages use (app.labels), so that paper
and screen agree. `app.domain.archive.file_form` then prints, hashes and files the copy. Personal data
is printed as the printing user may see it: masked, unless their role may reveal it
(app.domain.privacy.may_reveal, the domain's decision), in which case the reveal is written to the audit
trail like any other.

The `may_reveal` argument of the print functions can only narrow that: False prints personal data masked
whatever the role (the demo's copies); True or None leaves it to the role. (It stays positional for the
callers that still pass the page's answer; they can drop it.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.domain import approvals as approvals_domain
from app.domain import archive, archive_loans, complaint_stats, privacy
from app.domain.calendar import LOCAL_ZONE, local_now
from app.domain.errors import ConflictError
from app.domain.people import user_names
from app.models import Approval, ArchiveLoan, Complaint, ComplaintAttachment, ComplaintStep, Department, Unit
from app.models.choices import Channel, ComplaintCategory, ComplaintState, Severity, VisitMethod
from reports.forms import (
    complaint_ledger,
    complaint_record,
    lending_register,
    opinion_sheet,
    return_visit,
    visit_record,
)

# How long each kind of copy is kept (None: permanently, 永久). SPEC §6 and the seeds 000/003.
RETENTION_YEARS = {
    "complaint_record": None, "return_visit": None, "visit_record": None, "opinion_sheet": None,
    "complaint_ledger": 10, "lending_register": 10,
}
BLANK_FORMS = {"visit_record": visit_record, "opinion_sheet": opinion_sheet}


def _minute(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _personal(session, record, field: str, actor, may_reveal: bool | None) -> str:
    """A personal field as the actor may see it: in full (an audited reveal) if their role may reveal it
    and the caller did not ask for it masked, else masked."""
    value = getattr(record, field)
    if not value:
        return ""
    if may_reveal is not False and privacy.may_reveal(session, actor):
        return privacy.reveal(session, record, field, actor)
    return privacy.mask(field, value)


def _customer_phone(session, customer, actor, may_reveal: bool | None) -> str:
    return _personal(session, customer, "mobile", actor, may_reveal)


# --- 客户投诉处理记录表 ------------------------------------------------------------------------------

def complaint_record_data(session, complaint: Complaint, actor, may_reveal: bool | None = None) -> dict:
    departments = {d.id: d.name for d in session.scalars(select(Department))}
    names = user_names(session, {complaint.first_responsible_id})
    unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
    steps = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                            .order_by(ComplaintStep.id)).all()
    receipt = [("投诉编号", complaint.number), ("受理时间", _minute(complaint.received_at)),
               ("投诉渠道", Channel.label_of(complaint.channel)),
               ("首问责任人", names.get(complaint.first_responsible_id, "")),
               ("客户", complaint.customer.name), ("房号", getattr(unit, "label", "") if unit else ""),
               ("联系电话", _customer_phone(session, complaint.customer, actor, may_reveal)),
               ("当前状态", ComplaintState.label_of(complaint.state))]
    sections = labels.complaint_sections(complaint, departments, names, unit)[1:]  # the receipt is printed above
    timeline, progress = [], []
    for step in steps:
        data = json.loads(step.data) if step.data else {}
        details = "；".join(f"{labels.label(labels.COMPLAINT_STEP_FIELDS, k)}：{labels.readable(k, v, departments)}"
                           for k, v in sorted(data.items()) if labels.readable(k, v, departments))
        text = "；".join(part for part in (details, step.comment or "") if part)
        moved = (f"{ComplaintState.label_of(step.from_state)} → {ComplaintState.label_of(step.to_state)}"
                 if step.from_state and step.from_state != step.to_state else ComplaintState.label_of(step.to_state))
        timeline.append([_minute(step.at), labels.label(labels.COMPLAINT_ACTIONS, step.action), moved, step.actor_name,
                         text])
        if step.action == "add_progress":
            progress.append([_minute(step.at), step.actor_name, data.get("progress_note", ""),
                             data.get("customer_told_how", "")])
    approvals = [[str(approvals_domain.KINDS[a.kind].label) if a.kind in approvals_domain.KINDS
                  else a.kind, a.requested_by_name, _minute(a.requested_at),
                  {"approved": "同意", "rejected": "不同意"}.get(a.state, "待审批"), a.decided_by_name or "",
                  _minute(a.decided_at), a.comment or ""]
                 for a in session.scalars(select(Approval).where(
                     Approval.subject_table == Complaint.__table__.name, Approval.subject_id == complaint.id)
                     .order_by(Approval.id))]
    attachments = [[i, a.filename, a.content_type, f"{a.size / 1024:.0f} KB", a.sha256[:16]]
                   for i, a in enumerate(session.scalars(select(ComplaintAttachment).where(
                       ComplaintAttachment.complaint_id == complaint.id).order_by(ComplaintAttachment.id)), start=1)]
    return {"receipt": receipt, "content": complaint.content, "sections": sections, "timeline": timeline,
            "progress": progress, "approvals": approvals, "attachments": attachments,
            "serious": complaint.severity in ("major", "crisis")}


def print_complaint_record(session, complaint: Complaint, actor, may_reveal: bool | None = None,
                           printed_at: datetime | None = None):
    with force_locale("zh"):  # the archive copy is Chinese whatever the screen's language
        data = complaint_record_data(session, complaint, actor, may_reveal)
    return archive.file_form(session, complaint_record, data, actor, source=complaint, source_label=complaint.number,
                             title=f"客户投诉处理记录表 {complaint.number}",
                             retention_years=RETENTION_YEARS["complaint_record"], printed_at=printed_at)


# --- 回访记录表 (a complaint's return visit) ---------------------------------------------------------

def complaint_return_visit_data(session, complaint: Complaint, actor, may_reveal: bool | None = None) -> dict:
    unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
    visited = complaint.return_visited_at
    step = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id,
                                                       ComplaintStep.action == "return_visit")
                           .order_by(ComplaintStep.id.desc()).limit(1)).first()
    return {
        "kind": "投诉回访", "source_number": complaint.number, "customer": complaint.customer.name,
        "unit": getattr(unit, "label", "") if unit else "",
        "phone": _customer_phone(session, complaint.customer, actor, may_reveal),
        "method": VisitMethod.label_of(complaint.return_visit_method) if complaint.return_visit_method else "",
        "date": _minute(visited), "by": step.actor_name if step else "",
        "due": _minute(complaint.return_visit_due_at),
        "satisfaction": complaint.return_visit_satisfaction or "",
        "subject": f"{complaint.number}：{(complaint.content or '')[:120]}",
        "record": complaint.return_visit_record or "", "follow_up": complaint.improvement or "",
    }


def print_complaint_return_visit(session, complaint: Complaint, actor, may_reveal: bool | None = None,
                                 printed_at: datetime | None = None):
    with force_locale("zh"):
        data = complaint_return_visit_data(session, complaint, actor, may_reveal)
    return archive.file_form(session, return_visit, data, actor, source=complaint, source_label=complaint.number,
                             title=f"回访记录表 {complaint.number}", retention_years=RETENTION_YEARS["return_visit"],
                             printed_at=printed_at)


# --- 投诉台帐 -----------------------------------------------------------------------------------------

def _label(enum):
    return lambda code: "未定" if code in (None, complaint_stats.UNSET) else enum.label_of(code)


def ledger_data(session, month: str) -> dict:
    stats = complaint_stats.monthly(session, month)
    rows = []
    for i, row in enumerate(stats["ledger"], start=1):
        rows.append([
            i, row["number"], f"{row['received_at']:%Y-%m-%d}", Channel.label_of(row["channel"]), row["customer"],
            row["unit"] or "", ComplaintCategory.label_of(row["category"]) if row["category"] else "",
            Severity.label_of(row["severity"]) if row["severity"] else "",
            (row["summary"] or "").replace("\n", " ")[:complaint_ledger.SUMMARY_CHARS], row["department"] or "",
            ComplaintState.label_of(row["state"]), f"{row['closed_at']:%Y-%m-%d}" if row["closed_at"] else "",
            "" if row["working_days"] is None else row["working_days"], row["satisfaction"] or "",
            "是" if row["overdue"] else "否", row["first_responsible"],
        ])
    totals = [
        ("状态", [(_label(ComplaintState)(k), n) for k, n in stats["by_state"].items() if n]),
        ("类别", [(_label(ComplaintCategory)(k), n) for k, n in stats["by_category"].items() if n]),
        ("级别", [(_label(Severity)(k), n) for k, n in stats["by_severity"].items() if n]),
        ("部门", [("未分派" if k == complaint_stats.UNSET else k, n) for k, n in stats["by_department"].items() if n]),
    ]
    closing = stats["time_to_close"]
    figures = [("投诉总数", stats["total"]), ("本月关闭", closing["closed"]),
               ("超时", stats["overdue"]["total"]),
               ("关闭用时中位数（天）", "—" if closing["median_days"] is None else closing["median_days"]),
               ("关闭用时90%分位（天）", "—" if closing["p90_days"] is None else closing["p90_days"]),
               ("平均满意度", "—" if stats["satisfaction"]["average"] is None else stats["satisfaction"]["average"])]
    return {"month": stats["month"], "project": "全部项目", "rows": rows, "totals": totals, "figures": figures}


def audit_head_line(anchored: audit.Anchor) -> str:
    """The audit chain head as printed: seq, hash prefix and the anchor's time in China time."""
    at = datetime.strptime(anchored.at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).astimezone(LOCAL_ZONE)
    return f"第 {anchored.seq} 条　{anchored.hash[:16]}　{at:%Y-%m-%d %H:%M:%S}"


def print_ledger(session, month: str, actor, printed_at: datetime | None = None):
    with force_locale("zh"):
        data = ledger_data(session, month)
    # The monthly paper carries the audit chain's head of the day, also anchored outside the database:
    # a later truncation or rewrite of the chain contradicts both.
    try:
        anchored = audit.anchor(session.get_bind())
    except audit.AuditChainError as exc:  # no anchor, no ledger: the paper would claim what is not recorded
        raise ConflictError(_l("The ledger was not printed: the audit chain head could not be anchored "
                               "(%(reason)s)."), reason=exc) from exc
    data["audit_head"] = audit_head_line(anchored)
    return archive.file_form(session, complaint_ledger, data, actor, source_label=data["month"],
                             title=f"投诉台帐 {data['month']}", retention_years=RETENTION_YEARS["complaint_ledger"],
                             printed_at=printed_at)


# --- 档案借阅登记表 -----------------------------------------------------------------------------------

def lending_register_data(session, year: int | None = None) -> dict:
    year = year or local_now().year
    start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
    loans = session.scalars(select(ArchiveLoan).where(ArchiveLoan.created_at >= start, ArchiveLoan.created_at < end)
                            .order_by(ArchiveLoan.id)).all()
    rows = archive_loans.register_rows(session, loans)
    return {"period": f"{year} 年", "rows": rows, "loans": sum(1 for loan in loans if loan.kind == "loan"),
            "overdue": sum(1 for loan in loans if archive_loans.is_overdue(loan))}


def print_lending_register(session, actor, year: int | None = None, printed_at: datetime | None = None):
    data = lending_register_data(session, year)
    return archive.file_form(session, lending_register, data, actor, source_label=data["period"],
                             title=f"档案借阅登记表 {data['period']}",
                             retention_years=RETENTION_YEARS["lending_register"], printed_at=printed_at)


# --- the two permanent visit forms, blank -------------------------------------------------------------

def print_blank(session, name: str, actor, printed_at: datetime | None = None):
    form = BLANK_FORMS[name]
    return archive.file_form(session, form, form.blank(), actor, source_label="空白表",
                             title=f"{form.TITLE}（空白）", retention_years=RETENTION_YEARS[name], printed_at=printed_at)


# --- the two permanent visit forms, filled from a visit, and return-visit records ---------------------------

def _contact_phone(session, visit, actor, may_reveal: bool | None) -> str:
    return _personal(session, visit, "contact_phone", actor, may_reveal)


def visit_record_data(session, visit, actor, may_reveal: bool | None = None) -> dict:
    from app.models import Project, Rectification, ReturnVisit, VisitItem
    from app.models.choices import ContactRole, ItemResult, ServiceItem

    unit = session.get(Unit, visit.unit_id) if visit.unit_id else None
    project = session.get(Project, unit.building.project_id) if unit else None
    staff = user_names(session, {visit.staff_id}).get(visit.staff_id, "")
    items = session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id).order_by(VisitItem.seq)).all()
    rectifications = session.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                     .order_by(Rectification.id)).all()
    seq_of = {item.id: item.seq for item in items}
    done = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id, ReturnVisit.state == "done")
                           .order_by(ReturnVisit.id.desc())).first()
    return {
        "fields": [("项目/楼宇", project.name if project else ""), ("客户（公司）", visit.customer.name),
                   ("房号", getattr(unit, "label", "") if unit else ""), ("走访时间", _minute(visit.visited_at or visit.planned_at)),
                   ("走访人员", "、".join(p for p in (staff, visit.companions or "") if p)),
                   ("接待人", f"{visit.contact_name}（{ContactRole.label_of(visit.contact_role)}）"),
                   ("职务", visit.contact_post or ""), ("联系电话", _contact_phone(session, visit, actor, may_reveal))],
        "items": [[item.seq, ServiceItem.label_of(item.service_item), item.opinion or "", ItemResult.label_of(item.result),
                   item.explanation or ""] for item in items],
        "rectifications": [[seq_of.get(r.item_id, ""), ServiceItem.label_of(r.item.service_item) + "：" + (r.item.opinion or ""),
                            r.measure, f"{r.department.name} {r.responsible_person}", f"{r.deadline:%Y-%m-%d}",
                            "是" if r.tenant_consulted else "否", r.round] for r in rectifications],
        "return_visit": [("回访日期", _minute(done.done_at) if done else ""),
                         ("整改效果确认", ("已确认" if done.effect_confirmed else "—") if done else ""),
                         ("满意度（1–5）", done.satisfaction if done else ""), ("回访人", done.done_by_name if done else "")],
        "opinions": visit.opinions or "",
    }


def opinion_sheet_data(session, visit, actor, may_reveal: bool | None = None) -> dict:
    from app.models import VisitItem
    from app.models.choices import ItemResult, ServiceItem

    unit = session.get(Unit, visit.unit_id) if visit.unit_id else None
    marks = {ItemResult.QUALIFIED: 1, ItemResult.OUT_OF_SCOPE: 2, ItemResult.NON_CONFORMING: 3}
    found = {item.service_item: item for item in session.scalars(
        select(VisitItem).where(VisitItem.visit_id == visit.id).order_by(VisitItem.seq))}
    ratings = []
    for code, label in ((m.value, m.label) for m in ServiceItem):
        item = found.get(code)
        row = [label, "□", "□", "□", ""]
        if item is not None:
            row[marks[item.result]] = "■"
            row[4] = item.opinion or item.explanation or ""
        ratings.append(row)
    return {"fields": [("客户", visit.customer.name), ("房号", getattr(unit, "label", "") if unit else ""),
                       ("联系人", visit.contact_name), ("联系电话", _contact_phone(session, visit, actor, may_reveal)),
                       ("日期", f"{(visit.visited_at or visit.planned_at):%Y-%m-%d}"), ("走访编号", visit.number)],
            "ratings": ratings, "opinions": visit.opinions or "",
            "office": [("收到日期", f"{visit.visited_at:%Y-%m-%d}" if visit.visited_at else ""),
                       ("处理人", ""), ("答复客户日期", _minute(visit.return_visited_at))]}


def print_visit_forms(session, visit, actor, may_reveal: bool | None = None, printed_at: datetime | None = None) -> list:
    """Both permanent forms of a visit, filled, into the archive (a reprint is a new version of each)."""
    with force_locale("zh"):
        record_data = visit_record_data(session, visit, actor, may_reveal)
        sheet_data = opinion_sheet_data(session, visit, actor, may_reveal)
    return [archive.file_form(session, visit_record, record_data, actor, source=visit, source_label=visit.number,
                              title=f"走访客户记录表 {visit.number}", retention_years=RETENTION_YEARS["visit_record"],
                              printed_at=printed_at),
            archive.file_form(session, opinion_sheet, sheet_data, actor, source=visit, source_label=visit.number,
                              title=f"客户意见、建议征求表 {visit.number}",
                              retention_years=RETENTION_YEARS["opinion_sheet"], printed_at=printed_at)]


def return_visit_data(session, record, actor, may_reveal: bool | None = None) -> dict:
    from app.models import Visit
    from app.models.choices import ReturnVisitKind

    unit = session.get(Unit, record.unit_id) if record.unit_id else None
    visit = session.get(Visit, record.visit_id) if record.visit_id else None
    source = visit.number if visit else record.number
    subject = {"visit": f"走访 {source} 的整改效果", "delivery": "交房后的房屋质量与服务",
               "move_in": "入住三个月后的居住体验与物业服务"}.get(record.kind, "")
    return {"kind": ReturnVisitKind.label_of(record.kind), "source_number": source, "customer": record.customer.name,
            "unit": getattr(unit, "label", "") if unit else "",
            "phone": _customer_phone(session, record.customer, actor, may_reveal),
            "method": VisitMethod.label_of(record.method) if record.method else "", "date": _minute(record.done_at),
            "by": record.done_by_name or "", "due": f"{record.due_on:%Y-%m-%d}", "satisfaction": record.satisfaction or "",
            "subject": subject, "record": record.record or "", "follow_up": record.follow_up or ""}


def print_return_visit(session, record, actor, may_reveal: bool | None = None, printed_at: datetime | None = None):
    with force_locale("zh"):
        data = return_visit_data(session, record, actor, may_reveal)
    return archive.file_form(session, return_visit, data, actor, source=record, source_label=record.number,
                             title=f"回访记录表 {record.number}", retention_years=RETENTION_YEARS["return_visit"],
                             printed_at=printed_at)
