"""What each printed form shows, gathered from the records, and the one call that prints and files it.

The forms themselves (reports/forms/) know nothing of the database: they receive plain data — text
already labelled in Chinese — built here, with the labels the pages use (app.labels), so that paper
and screen agree. `app.domain.archive.file_form` then prints, hashes and files the copy. Times are
China time (approvals, stored in UTC, are converted), people are named by their names, an optional part
with nothing in it says 无.

A record's form is printed only from the states app.domain.print_rules allows (409 otherwise, nothing
filed); blank forms are printed by `print_blank`.

Personal data is printed masked, as on screen. The `full_data` argument asks for a full-data copy:
True, from a role that may reveal (app.domain.privacy decides), prints it in full, audits each field
as a reveal and marks the archive record as carrying full personal data (opening its file is then a
reveal too, app.domain.archive.open_file); None or False, or a role that may not, prints it masked.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask_appbuilder.security.sqla.models import User
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app import audit, labels
from app.domain import approvals as approvals_domain
from app.domain import archive, archive_loans, complaint_stats, print_rules, privacy
from app.domain.calendar import from_utc, local_now
from app.domain.errors import ConflictError
from app.domain.people import display_name, user_names
from app.models import (
    Approval,
    ArchiveLoan,
    CaseEntry,
    Complaint,
    ComplaintAttachment,
    ComplaintStep,
    Department,
    Unit,
)
from app.models.choices import Channel, ComplaintCategory, ComplaintState, Satisfaction, Severity, VisitMethod
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
NONE = "无"  # what an optional section with nothing in it says (FORMS.md)


def _minute(value) -> str:
    """A moment stored in China time (steps, visits, complaints), as printed."""
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def _utc_minute(value) -> str:
    """A moment stored in UTC (approvals, bookkeeping columns), printed in China time like the others."""
    return _minute(from_utc(value)) if value else ""


def _clause(text) -> str:
    """A value to be joined with others by "；": without its closing punctuation or surrounding blanks."""
    return (text or "").strip().rstrip("。；;，,").strip()


def _or_none(text) -> str:
    return text if text not in (None, "") else NONE


def names_by_login(session, logins) -> dict[str, str]:
    """People's names for the logins stored beside some records (`done_by_name`, `actor_name`)."""
    logins = {login for login in logins if login}
    if not logins:
        return {}
    rows = session.execute(select(User.username, User.first_name, User.last_name)
                           .where(User.username.in_(logins))).all()
    return {r.username: display_name(r.first_name, r.last_name, r.username) for r in rows}


def full_data_copy(session, actor, full_data: bool) -> bool:
    """Whether a print carries personal data in full: only when asked for (True) by a role that may
    reveal it. Anything else prints it masked, as the screens show it."""
    return full_data is True and privacy.may_reveal(session, actor)


def _personal(session, record, field: str, actor, full_data: bool) -> str:
    """A personal field as printed: masked, unless a role that may reveal asked for a full-data copy
    (True) — then in full, and the reveal is audited like one on screen."""
    value = getattr(record, field)
    if not value:
        return ""
    if full_data_copy(session, actor, full_data):
        return privacy.reveal(session, record, field, actor)
    return privacy.mask(field, value)


def _customer_phone(session, customer, actor, full_data: bool) -> str:
    return _personal(session, customer, "mobile", actor, full_data)


# --- 客户投诉处理记录表 ------------------------------------------------------------------------------

CLOSING_STATES = ("closed", "closed_invalid", "closed_unresolved")


def _unit_label(session, unit_id, customer) -> str:
    """The record's unit, else the units the customer holds (a complaint taken without one)."""
    unit = session.get(Unit, unit_id) if unit_id else None
    if unit is not None:
        return unit.label
    return customer.units_summary if customer is not None else ""


def _section_of(sections: list, column: str) -> list:
    """The printed section (its list of pairs) that holds `column`, added in its place if it was empty."""
    title = next(str(title) for title, columns in labels.COMPLAINT_SECTIONS if column in columns)
    for name, pairs in sections:
        if name == title:
            return pairs
    order = [str(t) for t, _columns in labels.COMPLAINT_SECTIONS]
    at = sum(1 for name, _pairs in sections if name in order and order.index(name) < order.index(title))
    sections.insert(at, (title, []))
    return sections[at][1]


def complaint_record_data(session, complaint: Complaint, actor, full_data: bool = False) -> dict:
    departments = {d.id: d.name for d in session.scalars(select(Department))}
    steps = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id)
                            .order_by(ComplaintStep.id)).all()
    approval_rows = session.scalars(select(Approval).where(
        Approval.subject_table == Complaint.__table__.name, Approval.subject_id == complaint.id)
        .order_by(Approval.id)).all()
    names = user_names(session, {complaint.first_responsible_id, *(s.actor_id for s in steps),
                                 *(a.requested_by_id for a in approval_rows), *(a.decided_by_id for a in approval_rows)})
    logins = names_by_login(session, {s.actor_name for s in steps if not s.actor_id}
                            | {a.requested_by_name for a in approval_rows if not a.requested_by_id}
                            | {a.decided_by_name for a in approval_rows if a.decided_by_name and not a.decided_by_id})

    def who(user_id, login) -> str:
        return names.get(user_id) or logins.get(login) or login or ""

    unit = session.get(Unit, complaint.unit_id) if complaint.unit_id else None
    unit_text = _unit_label(session, complaint.unit_id, complaint.customer)
    receipt = [("投诉编号", complaint.number), ("受理时间", _minute(complaint.received_at)),
               ("投诉渠道", Channel.label_of(complaint.channel)),
               ("首问责任人", names.get(complaint.first_responsible_id, "")),
               ("客户", complaint.customer.name), ("房号", unit_text or NONE),
               ("联系电话", _customer_phone(session, complaint.customer, actor, full_data)),
               ("当前状态", ComplaintState.label_of(complaint.state))]
    sections = []
    for title, pairs in labels.complaint_sections(complaint, departments, names, unit)[1:]:  # receipt above
        case_label = str(labels.label(labels.COMPLAINT, "case_entry_id"))
        sections.append((title, [(k, v) for k, v in pairs if k != case_label]))
    closing = next((s for s in reversed(steps) if s.to_state in CLOSING_STATES and s.from_state != s.to_state), None)
    if closing is not None:  # who closed it and when, beside the sign-offs
        closed = [("关闭人", who(closing.actor_id, closing.actor_name))]
        if not complaint.closed_at:  # else the section already says when
            closed.append(("关闭时间", _minute(closing.at)))
        _section_of(sections, "closed_at").extend(closed)
    entry = session.get(CaseEntry, complaint.case_entry_id) if complaint.case_entry_id else None
    if entry is not None:  # the case-library entry by its number and title, not its bare id
        _section_of(sections, "case_entry_id").append(("案例库条目", f"第 {entry.id} 号　{entry.title}"))
    sections = [(title, pairs or [("", NONE)]) for title, pairs in sections]
    timeline, progress = [], []
    for step in steps:
        data = json.loads(step.data) if step.data else {}
        # each value without its closing full stop: "。；" between two fields reads as a stray mark
        details = "；".join(f"{labels.label(labels.COMPLAINT_STEP_FIELDS, k)}：{_clause(labels.readable(k, v, departments))}"
                           for k, v in sorted(data.items()) if _clause(labels.readable(k, v, departments)))
        text = "；".join(part for part in (details, _clause(step.comment)) if part)
        moved = (f"{ComplaintState.label_of(step.from_state)} → {ComplaintState.label_of(step.to_state)}"
                 if step.from_state and step.from_state != step.to_state else ComplaintState.label_of(step.to_state))
        timeline.append([_minute(step.at), labels.label(labels.COMPLAINT_ACTIONS, step.action), moved,
                         who(step.actor_id, step.actor_name), _or_none(text)])
        if step.action == "add_progress":
            progress.append([_minute(step.at), who(step.actor_id, step.actor_name),
                             _or_none(data.get("progress_note", "")), _or_none(data.get("customer_told_how", ""))])
    approvals = [[str(approvals_domain.KINDS[a.kind].label) if a.kind in approvals_domain.KINDS
                  else a.kind, who(a.requested_by_id, a.requested_by_name), _utc_minute(a.requested_at),
                  {"approved": "同意", "rejected": "不同意"}.get(a.state, "待审批"),
                  who(a.decided_by_id, a.decided_by_name) if a.decided_by_name else "",
                  _utc_minute(a.decided_at), a.comment or ""]
                 for a in approval_rows]
    attachments = [[i, a.filename, f"{a.size / 1024:.0f} KB", a.sha256]
                   for i, a in enumerate(session.scalars(select(ComplaintAttachment).where(
                       ComplaintAttachment.complaint_id == complaint.id).order_by(ComplaintAttachment.id)), start=1)]
    return {"receipt": receipt, "content": _or_none(complaint.content), "sections": sections, "timeline": timeline,
            "progress": progress, "approvals": approvals, "attachments": attachments,
            "serious": complaint.severity in ("major", "crisis")}


def print_complaint_record(session, complaint: Complaint, actor, full_data: bool = False,
                           printed_at: datetime | None = None):
    print_rules.check("complaint_record", complaint)
    with force_locale("zh"):  # the archive copy is Chinese whatever the screen's language
        data = complaint_record_data(session, complaint, actor, full_data)
    return archive.file_form(session, complaint_record, data, actor, source=complaint, source_label=complaint.number,
                             title=f"客户投诉处理记录表 {complaint.number}",
                             retention_years=RETENTION_YEARS["complaint_record"], printed_at=printed_at,
                             full_personal_data=full_data_copy(session, actor, full_data))


# --- 回访记录表 (a complaint's return visit) ---------------------------------------------------------

def complaint_return_visit_data(session, complaint: Complaint, actor, full_data: bool = False) -> dict:
    visited = complaint.return_visited_at
    step = session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint.id,
                                                       ComplaintStep.action == "return_visit")
                           .order_by(ComplaintStep.id.desc()).limit(1)).first()
    by = ""
    if step is not None:
        by = (user_names(session, {step.actor_id}).get(step.actor_id)
              or names_by_login(session, {step.actor_name}).get(step.actor_name) or step.actor_name)
    return {
        "kind": "投诉回访", "source_number": complaint.number, "customer": complaint.customer.name,
        "unit": _unit_label(session, complaint.unit_id, complaint.customer),
        "phone": _customer_phone(session, complaint.customer, actor, full_data),
        "method": VisitMethod.label_of(complaint.return_visit_method) if complaint.return_visit_method else "",
        "date": _minute(visited), "by": by,
        "due": _minute(complaint.return_visit_due_at),
        "satisfaction": Satisfaction.label_of(complaint.return_visit_satisfaction),
        "subject": f"{complaint.number}：{(complaint.content or '')[:120]}",
        "record": _or_none(complaint.return_visit_record), "follow_up": _or_none(complaint.improvement),
    }


def print_complaint_return_visit(session, complaint: Complaint, actor, full_data: bool = False,
                                 printed_at: datetime | None = None):
    print_rules.check("return_visit", complaint)
    with force_locale("zh"):
        data = complaint_return_visit_data(session, complaint, actor, full_data)
    return archive.file_form(session, return_visit, data, actor, source=complaint, source_label=complaint.number,
                             title=f"回访记录表 {complaint.number}", retention_years=RETENTION_YEARS["return_visit"],
                             printed_at=printed_at, full_personal_data=full_data_copy(session, actor, full_data))


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
    at = from_utc(datetime.strptime(anchored.at, "%Y-%m-%dT%H:%M:%SZ"))
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

def _contact_phone(session, visit, actor, full_data: bool) -> str:
    return _personal(session, visit, "contact_phone", actor, full_data)


def _rectification_rounds(session, visit, rectifications, departments) -> dict[int, list[dict]]:
    """Every round of every rectification item, from the visit's step entries: round 1 as the
    `rectify` step assigned it, each later round as the `reject` step that opened it (its new measure,
    deadline, department and person), and each round's result (done, accepted or rejected, and when)."""
    from app.models import VisitStep

    steps = session.scalars(select(VisitStep).where(VisitStep.visit_id == visit.id).order_by(VisitStep.id)).all()
    assigned = {}
    for step in steps:
        if step.action == "rectify" and step.data:
            for row in json.loads(step.data).get("rectifications", []):
                assigned[row.get("item_id")] = row
    rounds = {}
    for item in rectifications:
        own = [s for s in steps if s.rectification_id == item.id]
        current = dict(assigned.get(item.item_id) or {})
        if not current and item.round == 1:  # an entry without its fields: the row holds round 1
            current = {"measure": item.measure, "deadline": f"{item.deadline:%Y-%m-%d}",
                       "department_id": item.department_id, "responsible_person": item.responsible_person,
                       "tenant_consulted": item.tenant_consulted}
        found = []
        for number in range(1, item.round + 1):
            if number > 1:
                opened = next((s for s in own if s.action == "reject" and s.round == number), None)
                current = {**current, **(json.loads(opened.data) if opened and opened.data else {})}
            found.append({"round": number, **current,
                          "department": departments.get(current.get("department_id"), ""),
                          "result": _round_result(own, number)})
        rounds[item.id] = found
    return rounds


def _round_result(own_steps, number: int) -> str:
    rejected = next((s for s in own_steps if s.action == "reject" and s.round == number + 1), None)
    if rejected is not None:
        note = (rejected.comment or "").strip()
        return f"客户不满意（{rejected.at:%Y-%m-%d}）" + (f"：{_clause(note)}" if note else "") + f"；转第 {number + 1} 轮"
    accepted = next((s for s in own_steps if s.action == "accept" and s.round == number), None)
    if accepted is not None:
        return f"客户满意（{accepted.at:%Y-%m-%d}）"
    completed = next((s for s in own_steps if s.action == "complete" and s.round == number), None)
    if completed is not None:
        return f"已整改，待客户确认（{completed.at:%Y-%m-%d}）"
    return "整改中"


def visit_record_data(session, visit, actor, full_data: bool = False) -> dict:
    from app.models import Project, Rectification, ReturnVisit, VisitItem
    from app.models.choices import ContactRole, ItemResult, ServiceItem

    unit = session.get(Unit, visit.unit_id) if visit.unit_id else None
    project = session.get(Project, unit.building.project_id) if unit else None
    staff = user_names(session, {visit.staff_id}).get(visit.staff_id, "")
    departments = {d.id: d.name for d in session.scalars(select(Department))}
    items = session.scalars(select(VisitItem).where(VisitItem.visit_id == visit.id).order_by(VisitItem.seq)).all()
    rectifications = session.scalars(select(Rectification).where(Rectification.visit_id == visit.id)
                                     .order_by(Rectification.id)).all()
    rounds = _rectification_rounds(session, visit, rectifications, departments)
    seq_of = {item.id: item.seq for item in items}
    done = session.scalars(select(ReturnVisit).where(ReturnVisit.visit_id == visit.id, ReturnVisit.state == "done")
                           .order_by(ReturnVisit.id.desc())).first()
    done_by = names_by_login(session, {done.done_by_name}) if done else {}
    rows = []
    for r in rectifications:
        found = f"{ServiceItem.label_of(r.item.service_item)}：{r.item.opinion}" if r.item.opinion \
            else ServiceItem.label_of(r.item.service_item)
        for one in rounds[r.id]:
            consulted = one.get("tenant_consulted")
            rows.append([seq_of.get(r.item_id, ""), found, one.get("measure") or "—",
                         " ".join(p for p in (one["department"], one.get("responsible_person") or "") if p) or "—",
                         one.get("deadline") or "—", "—" if consulted is None else ("是" if consulted else "否"),
                         one["round"], one["result"]])
    return {
        "fields": [("项目/楼宇", project.name if project else ""), ("客户（公司）", visit.customer.name),
                   ("房号", _unit_label(session, visit.unit_id, visit.customer)),
                   ("走访时间", _minute(visit.visited_at or visit.planned_at)),
                   ("走访人员", "、".join(p for p in (staff, visit.companions or "") if p)),
                   ("接待人", f"{visit.contact_name}（{ContactRole.label_of(visit.contact_role)}）"),
                   ("职务", visit.contact_post or ""), ("联系电话", _contact_phone(session, visit, actor, full_data))],
        "items": [[item.seq, ServiceItem.label_of(item.service_item), _or_none(item.opinion),
                   ItemResult.label_of(item.result), item.explanation or ("" if item.result != "out_of_scope" else NONE)]
                  for item in items],
        "rectifications": rows,
        "return_visit": [("回访日期", _minute(done.done_at)),
                         ("整改效果确认", "已确认" if done.effect_confirmed else ("未确认" if rectifications else "—")),
                         ("满意度", Satisfaction.label_of(done.satisfaction)),
                         ("回访人", done_by.get(done.done_by_name) or done.done_by_name or "")] if done else [],
        "opinions": _or_none(visit.opinions),
    }


def opinion_sheet_data(session, visit, actor, full_data: bool = False) -> dict:
    """The sheet records only what the customer said: the rating boxes stay empty for the customer to
    tick (no rating of theirs is captured; an inspection result — 合格/不合格 — is not one), the remarks
    carry the opinion the customer gave on each item."""
    from app.models import VisitItem
    from app.models.choices import ServiceItem

    unit_text = _unit_label(session, visit.unit_id, visit.customer)
    said = {item.service_item: item.opinion or "" for item in session.scalars(
        select(VisitItem).where(VisitItem.visit_id == visit.id).order_by(VisitItem.seq))}
    ratings = [[m.label, "□", "□", "□", said.get(m.value, "")] for m in ServiceItem]
    staff = user_names(session, {visit.staff_id}).get(visit.staff_id, "")
    return {"fields": [("客户", visit.customer.name), ("房号", unit_text or NONE),
                       ("联系人", visit.contact_name), ("联系电话", _contact_phone(session, visit, actor, full_data)),
                       ("日期", f"{(visit.visited_at or visit.planned_at):%Y-%m-%d}"), ("走访编号", visit.number)],
            "ratings": ratings, "opinions": _or_none(visit.opinions),
            "office": [("收到日期", f"{visit.visited_at:%Y-%m-%d}" if visit.visited_at else ""),
                       ("处理人", staff),
                       ("答复客户日期", f"{visit.return_visited_at:%Y-%m-%d}" if visit.return_visited_at else "")]}


def print_visit_forms(session, visit, actor, full_data: bool = False, printed_at: datetime | None = None) -> list:
    """Both permanent forms of a visit, filled, into the archive (a reprint is a new version of each).
    Only once the visit was made (app.domain.print_rules): before, the blanks are what to take along."""
    print_rules.check("visit_record", visit)
    print_rules.check("opinion_sheet", visit)
    full = full_data_copy(session, actor, full_data)
    with force_locale("zh"):
        record_data = visit_record_data(session, visit, actor, full_data)
        sheet_data = opinion_sheet_data(session, visit, actor, full_data)
    return [archive.file_form(session, visit_record, record_data, actor, source=visit, source_label=visit.number,
                              title=f"走访客户记录表 {visit.number}", retention_years=RETENTION_YEARS["visit_record"],
                              printed_at=printed_at, full_personal_data=full),
            archive.file_form(session, opinion_sheet, sheet_data, actor, source=visit, source_label=visit.number,
                              title=f"客户意见、建议征求表 {visit.number}",
                              retention_years=RETENTION_YEARS["opinion_sheet"], printed_at=printed_at,
                              full_personal_data=full)]


def return_visit_data(session, record, actor, full_data: bool = False) -> dict:
    from app.models import Visit
    from app.models.choices import ReturnVisitKind

    visit = session.get(Visit, record.visit_id) if record.visit_id else None
    source = visit.number if visit else record.number
    subject = {"visit": f"走访 {source} 的整改效果", "delivery": "交房后的房屋质量与服务",
               "move_in": "入住三个月后的居住体验与物业服务"}.get(record.kind, "")
    return {"kind": ReturnVisitKind.label_of(record.kind), "source_number": source, "customer": record.customer.name,
            "unit": _unit_label(session, record.unit_id, record.customer),
            "phone": _customer_phone(session, record.customer, actor, full_data),
            "method": VisitMethod.label_of(record.method) if record.method else "", "date": _minute(record.done_at),
            "by": names_by_login(session, {record.done_by_name}).get(record.done_by_name) or record.done_by_name or "",
            "due": f"{record.due_on:%Y-%m-%d}", "satisfaction": Satisfaction.label_of(record.satisfaction),
            "subject": subject, "record": _or_none(record.record), "follow_up": _or_none(record.follow_up)}


def print_return_visit(session, record, actor, full_data: bool = False, printed_at: datetime | None = None):
    print_rules.check("return_visit", record)
    with force_locale("zh"):
        data = return_visit_data(session, record, actor, full_data)
    return archive.file_form(session, return_visit, data, actor, source=record, source_label=record.number,
                             title=f"回访记录表 {record.number}", retention_years=RETENTION_YEARS["return_visit"],
                             printed_at=printed_at, full_personal_data=full_data_copy(session, actor, full_data))
