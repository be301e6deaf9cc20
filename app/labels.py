"""Every label of a field, an action and a step field: one table per kind of record, shared by the pages
(app/views), the REST API (its `label_columns`) and the printed forms (app/printing.py), so that screen,
API and paper say the same word for the same thing. Translatable (English msgids, Chinese in the zh
catalogue); the labels of coded values (states, channels, ...) stay with their enums in
app.models.choices and are reached through them.

Neutral on purpose: this module imports no view, no API, no domain module and nothing of
Flask-AppBuilder (tests/unit/test_import_rules.py checks it), so anything may import it. The tables are
read-only: a view or API passes a copy as its `label_columns` (`dict(labels.COMPLAINT)`), because
Flask-AppBuilder writes the labels it makes up for unlabelled columns into that dict.
"""

from __future__ import annotations

from types import MappingProxyType

from flask_babel import lazy_gettext as _l

from app.models.choices import (
    CaseCategory,
    CaseStage,
    Channel,
    ComplaintCategory,
    ComplaintRoute,
    ComplaintState,
    Satisfaction,
    Severity,
    VisitMethod,
)


def _table(*bases, **labels) -> MappingProxyType:
    merged = {}
    for base in bases:
        merged.update(base)
    merged.update(labels)
    return MappingProxyType(merged)


YES, NO = _l("Yes"), _l("No")

# --- every record -------------------------------------------------------------------------------------

COMMON = _table(
    id=_l("ID"), created_at=_l("Created at"), updated_at=_l("Updated at"), created_by=_l("Created by"),
    updated_by=_l("Updated by"), version=_l("Version"), name=_l("Name"), code=_l("Code"), remarks=_l("Remarks"),
)

# --- customers, property, organisation, calendar, audit -----------------------------------------------

CUSTOMER = _table(
    COMMON,
    kind=_l("Kind"), gender=_l("Gender"), id_number=_l("ID-card number"), mobile=_l("Mobile"),
    phone=_l("Phone"), email=_l("E-mail"), address=_l("Address"), stage=_l("Stage"),
    main_contact=_l("Main contact"), main_contact_phone=_l("Main contact's phone"),
    property_contact=_l("Property contact"), property_contact_phone=_l("Property contact's phone"),
    certificate_number=_l("Property-certificate number"),
    certificate_issued_on=_l("Certificate issued on"), birthday=_l("Birthday"),
    age_band=_l("Age band"), income_band=_l("Household income band"), housing=_l("Housing"),
    education=_l("Education"), occupation=_l("Occupation"), family=_l("Family"),
    social_activities=_l("Social activities"), hobbies=_l("Hobbies"),
    important_dates=_l("Important dates"), units=_l("Property"), units_summary=_l("Property"),
)

PROPERTY = _table(
    COMMON,
    city=_l("City"), address=_l("Address"), delivery_date=_l("Delivery date"),
    move_in_date=_l("Concentrated move-in date"), project=_l("Project"), floors=_l("Floors"),
    building=_l("Building"), number=_l("Unit number"), floor=_l("Floor"), area=_l("Area (m²)"),
    customer=_l("Customer"), unit=_l("Unit"), purchase_date=_l("Purchase date"),
    amount=_l("Amount (yuan)"),
)

ORG = _table(
    COMMON,
    is_customer_service=_l("Customer-service department"), user=_l("User"),
    department=_l("Department"), post=_l("Post"),
)

CALENDAR = _table(
    COMMON,
    day=_l("Date"), is_workday=_l("Workday"), name=_l("Holiday or make-up workday"), year=_l("Year"),
    source=_l("Source"),
)

AUDIT = _table(
    seq=_l("No."), at=_l("When (UTC)"), actor_name=_l("Who"), table_name=_l("Table"),
    record_id=_l("Record"), action=_l("Action"), changes=_l("Changes"), hash=_l("Hash"),
    prev_hash=_l("Previous hash"), actor_id=_l("User ID"),
)

# The records the audit trail names by their table (tables without a page of their own included).
TABLES = _table(
    ab_user=_l("User"), ab_role=_l("Role"), ab_user_role=_l("User's role"), ab_permission_view_role=_l("Role's permission"),
    ab_group=_l("User group"), approval=_l("Approval"), archive_loan=_l("Archive loan"), archive_record=_l("Archive record"),
    building=_l("Building"), calendar_day=_l("Holiday or make-up workday"), calendar_year=_l("Calendar year"),
    case_entry=_l("Case"), complaint=_l("Complaint"), complaint_attachment=_l("Evidence"),
    complaint_step=_l("Complaint step"), customer=_l("Customer"), customer_unit=_l("Customer's unit"),
    department=_l("Department"), project=_l("Project"), rectification=_l("Rectification item"),
    return_visit=_l("Return visit"), unit=_l("Unit"), user_department=_l("User's department"),
    user_login_state=_l("Login state"), visit=_l("Visit"), visit_item=_l("Inspected item"),
    visit_step=_l("Visit step"), visit_summary=_l("Visit summary"),
    club_member=_l("Club member"), member=_l("Club member"), club_card=_l("Member card"),
    club_points=_l("Points ledger"), club_plan=_l("Annual activity plan"), club_activity=_l("Club activity"),
    club_attendance=_l("Activity attendance"),
)

AUDIT_ACTIONS = _table(
    insert=_l("Created"), update=_l("Changed"), delete=_l("Deleted"), reveal=_l("Revealed"),
    login_failed=_l("Failed login"), login_locked=_l("Login locked"),
    login_refused=_l("Login refused (locked)"), login_unlocked=_l("Login unlocked"),
)

# --- complaints -----------------------------------------------------------------------------------------

# The fields the steps of the complaint workflow take (forms, timeline, step entries, the printed record).
COMPLAINT_STEP_FIELDS = _table(
    confirmed_how=_l("How the customer confirmed it"),
    invalid_explanation=_l("Explanation given to the customer"),
    severity=_l("Severity"), category=_l("Category"),
    legal_opinion=_l("Legal opinion"), handling_plan=_l("Handling plan"),
    department_id=_l("Responsible department"), assigned_post=_l("Responsible post"),
    assigned_person=_l("Responsible person"),
    cause_analysis=_l("Cause analysis"), report=_l("Written report"), measures=_l("Measures"),
    handling_person=_l("Person handling it"), handling_deadline=_l("Handling deadline"),
    deadline_reason=_l("Reason for a deadline after the close-by date"),
    progress_note=_l("Progress"), customer_told_how=_l("How the customer was told"),
    reply_result=_l("Result told to the customer"), customer_accepted=_l("Customer accepts the result"),
    satisfaction=_l("Satisfaction (1–5)"),
    department_signed_off=_l("The department signed off"),
    person_signed_off=_l("The responsible person signed off"),
    return_visit_method=_l("Return-visit method"), return_visit_record=_l("Return-visit record"),
    return_visit_satisfaction=_l("Satisfaction at the return visit (1–5)"),
    root_cause=_l("Root cause"), improvement=_l("Improvement"),
    case_title=_l("Case-library entry: title"), case_stage=_l("Case-library entry: stage"),
    case_category=_l("Case-library entry: category"), case_lesson=_l("Case-library entry: lesson"),
    acknowledged_how=_l("Acknowledged how"), acknowledge_note=_l("Note"),
    unresolved_position=_l("Company's final position"), unresolved_routes=_l("Routes explained to the customer"),
    return_visit_process_satisfaction=_l("Satisfaction with how the complaint was handled"),
)

# Every column of a complaint, by the names the pages use and the names the API uses.
COMPLAINT = _table(
    COMMON,
    COMPLAINT_STEP_FIELDS,
    number=_l("Complaint number"), received_at=_l("Received at"), channel=_l("Channel"),
    customer=_l("Customer"), customer_id=_l("Customer"), **{"customer.name": _l("Customer")},
    unit=_l("Unit"), unit_id=_l("Unit"), content=_l("Content"), department=_l("Department"),
    **{"department.name": _l("Responsible department")},
    state=_l("State"), state_changed_at=_l("State changed at"),
    first_responsible=_l("First-responsible person"), first_responsible_id=_l("First-responsible person"),
    overdue=_l("Overdue"), plan_approved=_l("Plan approved by the general manager"),
    rehandling_count=_l("Re-handlings"), closed_at=_l("Closed at"), return_visited_at=_l("Return-visited at"),
    assign_due_at=_l("To be assigned by"), investigate_due_at=_l("To be investigated by"),
    close_due_at=_l("To be closed by"), return_visit_due_at=_l("Return visit due by"),
    case_entry_id=_l("Case-library entry"), comment=_l("Comment"),
    remedy_requested=_l("Remedy the customer asks for"), acknowledged_at=_l("Acknowledged at"),
    acknowledge_due_at=_l("Acknowledgement due"), status_text=_l("Status"),
)

# The coded fields of a complaint and its steps: the enum whose labels show their values.
# The columns of a step entry (complaint_step, visit_step) as the audit log shows them.
STEP_ENTRY = MappingProxyType({
    "action": _l("Step taken"), "from_state": _l("State before"), "to_state": _l("State after"),
    "comment": _l("Comment"), "actor_name": _l("By"), "at": _l("Time"),
})

COMPLAINT_CHOICES = MappingProxyType({
    "severity": Severity, "category": ComplaintCategory, "return_visit_method": VisitMethod,
    "case_stage": CaseStage, "case_category": CaseCategory, "channel": Channel, "state": ComplaintState,
    "acknowledged_how": VisitMethod, "satisfaction": Satisfaction, "return_visit_satisfaction": Satisfaction,
    "return_visit_process_satisfaction": Satisfaction,
})
# Fields holding several codes (stored joined by commas).
COMPLAINT_MULTIPLE_CHOICES = MappingProxyType({"unresolved_routes": ComplaintRoute})

COMPLAINT_OVERDUE = _table(
    acknowledge=_l("not acknowledged in time"), assign=_l("not assigned in time"), investigate=_l("not investigated in time"),
    close=_l("not closed in time"), handling=_l("handling deadline passed"),
    return_visit=_l("return visit overdue"),
)

# Each action of the complaint workflow (the steps of app.domain.complaints read their labels here), and
# the timeline entries that are not steps (receipt, the
# general manager's decisions).
COMPLAINT_ACTIONS = _table(
    confirm=_l("Confirm as valid"), close_invalid=_l("Close as invalid or consultation"), assess=_l("Assess"),
    assign=_l("Assign to a department"), start_handling=_l("Report the investigation and start handling"),
    add_progress=_l("Add progress"), reply=_l("Reply to the customer"), close=_l("Close"),
    return_visit=_l("Return visit"), feed_back=_l("Feed back"),
    receive=_l("Received"),
    approve_plan=_l("Handling plan approved by the general manager"),
    reject_plan=_l("Handling plan rejected by the general manager"),
    approve_close=_l("Closing approved by the general manager"),
    reject_close=_l("Closing rejected by the general manager"),
    acknowledge=_l("Acknowledge to the customer (receipt with the number)"),
    close_unresolved=_l("Close unresolved (routes explained to the customer)"),
    approve_unresolved=_l("Closing unresolved approved by the general manager"),
    reject_unresolved=_l("Closing unresolved rejected by the general manager"),
)

# The columns of the monthly complaint ledger (the statistics page).
COMPLAINT_LEDGER = _table(
    number=_l("Complaint number"), received_at=_l("Received at"), channel=_l("Channel"),
    customer=_l("Customer"), unit=_l("Unit"), category=_l("Category"), severity=_l("Severity"),
    summary=_l("Content"), department=_l("Department"), state=_l("State"), closed_at=_l("Closed at"),
    working_days=_l("Working days to close"), satisfaction=_l("Satisfaction"), overdue=_l("Overdue"),
    first_responsible=_l("First-responsible person"),
)

# The detail page and the printed record form show a complaint in these sections.
COMPLAINT_SECTIONS = (
    (_l("Receipt"), ("received_at", "channel", "customer", "unit", "content", "remedy_requested",
                     "first_responsible", "acknowledged_at", "acknowledged_how")),
    (_l("Confirmation"), ("confirmed_how", "invalid_explanation")),
    (_l("Assessment"), ("severity", "category", "legal_opinion", "handling_plan", "plan_approved")),
    (_l("Assignment"), ("department_id", "assigned_post", "assigned_person")),
    (_l("Investigation and handling"), ("cause_analysis", "report", "measures", "handling_person",
                                         "handling_deadline")),
    (_l("Reply"), ("reply_result", "customer_accepted", "satisfaction", "rehandling_count")),
    (_l("Closing"), ("department_signed_off", "person_signed_off", "unresolved_position", "unresolved_routes",
                     "closed_at")),
    (_l("Return visit"), ("return_visit_method", "return_visit_record", "return_visit_satisfaction",
                          "return_visit_process_satisfaction", "return_visited_at")),
    (_l("Feedback"), ("root_cause", "improvement", "case_entry_id")),
    (_l("Deadlines"), ("acknowledge_due_at", "assign_due_at", "investigate_due_at", "close_due_at",
                       "return_visit_due_at")),
)

# --- approvals, case library ------------------------------------------------------------------------------

APPROVAL = _table(
    COMMON,
    kind=_l("Kind"), subject=_l("Subject"), subject_table=_l("Subject"), subject_id=_l("Subject ID"),
    summary=_l("Summary"), detail=_l("Detail"), state=_l("State"), requested_by_name=_l("Requested by"),
    requested_at=_l("Requested at (UTC)"), decided_by_name=_l("Decided by"), decided_at=_l("Decided at (UTC)"),
    comment=_l("Comment"), waited=_l("Waiting / waited"),
)

CASE = _table(
    COMMON,
    title=_l("Title"), project=_l("Project"), project_id=_l("Project"), **{"project.name": _l("Project")},
    stage=_l("Project stage"), category=_l("Problem category"), description=_l("Description"), photos=_l("Photos"),
    cause=_l("Cause"), lesson=_l("Lesson"), department=_l("Responsible department"),
    department_id=_l("Responsible department"), **{"department.name": _l("Responsible department")},
    source_table=_l("Source"), source_id=_l("Source record"), source=_l("Source record"), text=_l("Text"),
)

# --- archive --------------------------------------------------------------------------------------------

ARCHIVE = _table(
    COMMON,
    number=_l("Archive number"), title=_l("Title"), form=_l("Form"), form_code=_l("Form code"),
    source_label=_l("Source record"), source_table=_l("Source"), source_id=_l("Source record"),
    revision=_l("Print"), retention=_l("Retention"), retention_label=_l("Retention"), retention_years=_l("Retention (years)"), pages=_l("Pages"),
    size=_l("Size (bytes)"), sha256=_l("SHA-256 of the file"), content_sha256=_l("SHA-256 of the content printed"),
    verify_code=_l("Verification code"), file_path=_l("File"), printed_at=_l("Printed at"),
    printed_by_name=_l("Printed by"), previous=_l("Replaces"), previous_id=_l("Replaces"),
    sm3=_l("SM3 of the file"), full_personal_data=_l("Personal data printed in full"),
)

# The printed forms by their code (their titles: printed forms are Chinese whatever the screen's language).
ARCHIVE_FORMS = MappingProxyType({
    "complaint_record": "客户投诉处理记录表", "return_visit": "回访记录表", "complaint_ledger": "投诉台帐",
    "lending_register": "档案借阅登记表", "visit_record": "走访客户记录表", "opinion_sheet": "客户意见、建议征求表",
})

LOAN = _table(
    COMMON,
    archive_record=_l("Archive number"), archive_record_id=_l("Archive number"),
    **{"archive_record.number": _l("Archive number")}, kind=_l("Kind"),
    borrower=_l("Borrower"), borrower_department=_l("Borrower's department"), purpose=_l("Purpose"),
    state=_l("State"), due_on=_l("Due on"), out_at=_l("Out at"), returned_at=_l("Returned at"),
    registered_by_name=_l("Registered by"), note=_l("Note"), overdue=_l("Overdue"),
)

# --- visits, rectification items, return visits, summaries ---------------------------------------------
# (the screens of app/views/visits/ and the resources of app/api/visits/)

VISIT = _table(
    COMMON,
    number=_l("Visit number"), customer=_l("Customer"), customer_id=_l("Customer"),
    **{"customer.name": _l("Customer")}, unit=_l("Unit"), unit_id=_l("Unit"),
    contact_role=_l("Received by"), contact_name=_l("Contact"), contact_post=_l("Contact's post"),
    contact_phone=_l("Contact's phone"), planned_at=_l("Planned for"), staff=_l("Visiting staff"),
    staff_id=_l("Visiting staff"), companions=_l("Companions"), state=_l("State"),
    state_changed_at=_l("State changed at"),
    open_rectifications=_l("Open rectification items"), overdue=_l("Overdue"),
    visited_at=_l("Visited at"), opinions=_l("The customer's opinions and suggestions"),
    return_visited_at=_l("Return-visited at"), return_visit_method=_l("Return-visit method"),
    return_visit_record=_l("Return-visit record"), satisfaction=_l("Satisfaction (1–5)"),
    effect_confirmed=_l("The customer confirmed that the rectification worked"),
    summary=_l("Summary"), summary_id=_l("Summary"), archived_at=_l("Archived at"), items=_l("Inspected items"),
    rectifications=_l("Rectification items"), comment=_l("Comment"),
)

VISIT_ITEM = _table(
    seq=_l("No."), service_item=_l("Service item"), result=_l("Result"),
    opinion=_l("The customer's opinion"), explanation=_l("Explanation given to the customer"),
)

RECTIFICATION = _table(
    COMMON,
    number=_l("Rectification number"), visit=_l("Visit"), visit_id=_l("Visit"), customer=_l("Customer"),
    item_id=_l("Inspected item"), **{"item.service_item": _l("Service item"), "item.opinion": _l("Found")},
    service_item=_l("Service item"), opinion=_l("The customer's opinion"), department=_l("Department"),
    department_id=_l("Department"), **{"department.name": _l("Responsible department")},
    measure=_l("Rectification measure"), responsible_person=_l("Responsible person"), deadline=_l("Deadline"),
    tenant_consulted=_l("The tenant was consulted"), round=_l("Round"), state=_l("State"),
    overdue=_l("Overdue"), completed_at=_l("Completed at"), satisfied_at=_l("Customer satisfied at"),
    note=_l("Note"), customer_told=_l("The customer was told"), told_how=_l("How the customer was told"),
    comment=_l("Comment"),
)

RETURN_VISIT = _table(
    COMMON,
    number=_l("Return-visit number"), kind=_l("Kind"), customer=_l("Customer"), customer_id=_l("Customer"),
    **{"customer.name": _l("Customer")}, unit=_l("Unit"), unit_id=_l("Unit"), visit_id=_l("Visit"),
    source=_l("Source"), project=_l("Project"), project_id=_l("Project"), due_on=_l("Return visit due by"),
    state=_l("State"),
    method=_l("Method"), record=_l("Record"), satisfaction=_l("Satisfaction (1–5)"),
    effect_confirmed=_l("Effect confirmed"), follow_up=_l("Follow-up"), done_by_name=_l("Done by"),
    done_at=_l("Done at"), overdue=_l("Overdue"),
)

SUMMARY = _table(
    COMMON,
    title=_l("Title"), period_from=_l("Period from"), period_to=_l("Period to"),
    content=_l("Report content"), figures=_l("Figures"), state=_l("State"),
    comment=_l("The general manager's comment"), visits=_l("Visits reported"), visit_ids=_l("Visits reported"),
)

SUMMARY_FIGURES = _table(
    visits=_l("Visits made"), return_visited=_l("Return visits completed"),
    rectifications=_l("Rectification items"), open_rectifications=_l("Still being rectified"),
    second_rounds=_l("Rectified in a second round or later"), satisfaction=_l("Average satisfaction"),
)

VISIT_OVERDUE = _table(
    visit=_l("visit not made in time"), rectification=_l("rectification deadline passed"),
    return_visit=_l("return visit overdue"),
)

VISIT_ACTIONS = _table(
    visit=_l("Record the visit"), rectify=_l("Assign the rectifications"),
    return_visit=_l("Record the return visit"), archive=_l("File in the archive"),
    plan=_l("Planned"), summarise=_l("Summary acknowledged by the general manager"),
)

RECTIFICATION_ACTIONS = _table(
    report_progress=_l("Report progress"), complete=_l("Rectified: the customer was told"),
    accept=_l("The customer is satisfied"), reject=_l("The customer is not satisfied: rectify again"),
)

RETURN_VISIT_ACTIONS = _table(record=_l("Record the return visit"))

SUMMARY_ACTIONS = _table(edit=_l("Edit"), submit=_l("Submit to the general manager"))

LOAN_ACTIONS = _table(lend=_l("Lend out"), register_return=_l("Register the return"))

# What my-work and the reminders list besides the steps of a workflow.
WORK_ACTIONS = _table(decide=_l("Approve or reject"), calendar_seed=_l("Enter the year's holidays"))


# --- values in words ------------------------------------------------------------------------------------

def label(table, name: str) -> str:
    """The label of `name` in `table`, or the name itself when the table has none."""
    return str(table.get(name, name))


def joined(table, codes) -> str:
    """Several codes in words, e.g. the reasons a record is overdue: "未按时分派、回访逾期"."""
    return "、".join(label(table, code) for code in codes or ())


def minute(value) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else ""


def readable(name: str, value, departments=None, choices=COMPLAINT_CHOICES) -> str:
    """A stored value as a person reads it: a code as its label, a department id as its name, yes/no,
    a date or a moment; blank for no value."""
    if value is None or value == "":
        return ""
    if name in choices:
        return choices[name].label_of(value)
    if name in COMPLAINT_MULTIPLE_CHOICES:
        codes = value if isinstance(value, list | tuple) else str(value).split(",")
        return "、".join(COMPLAINT_MULTIPLE_CHOICES[name].label_of(code) for code in codes)
    if name == "department_id":
        return (departments or {}).get(value, str(value))
    if isinstance(value, bool):
        return str(YES if value else NO)
    if hasattr(value, "strftime"):
        return minute(value) if hasattr(value, "hour") else f"{value:%Y-%m-%d}"
    return str(value)


def complaint_sections(complaint, departments, names, unit) -> list[tuple[str, list[tuple[str, str]]]]:
    """The complaint in COMPLAINT_SECTIONS, each field as (label, text); empty fields and sections left out.
    `names` maps user ids to names, `departments` department ids to names, `unit` is the complaint's unit."""
    special = {
        "customer": complaint.customer.name,
        "unit": getattr(unit, "label", None) or (str(unit) if unit else ""),
        "first_responsible": names.get(complaint.first_responsible_id, ""),
        "plan_approved": str(YES) if complaint.plan_approved else "",
        "rehandling_count": str(complaint.rehandling_count) if complaint.rehandling_count else "",
    }
    sections = []
    for title, columns in COMPLAINT_SECTIONS:
        rows = []
        for column in columns:
            text = special[column] if column in special else readable(column, getattr(complaint, column),
                                                                       departments)
            if text:
                rows.append((label(COMPLAINT, column), text))
        if rows:
            sections.append((str(title), rows))
    return sections
APPROVAL, AUDIT = _table(APPROVAL, requested_at=_l("Requested at"), decided_at=_l("Decided at")), _table(AUDIT, at=_l("When"))  # shown in China time (issue 13)


# --- the customer club 客户会 (issue 15) -------------------------------------------------------------------

MEMBER = _table(
    COMMON,
    customer_id=_l("Customer"), customer=_l("Customer"), member_number=_l("Member number"),
    card_number=_l("Card number"), state=_l("State"), state_changed_at=_l("State changed at"),
    applied_at=_l("Applied at"), reviewed_by_id=_l("Reviewed by"), reviewed_at=_l("Reviewed at"),
    eligible=_l("Eligible"), review_reason=_l("Review result"), card_issued_at=_l("Card issued at"),
    activated_at=_l("Activated at"), ended_at=_l("Ended at"), end_reason=_l("Reason for ending"),
    hobbies=_l("Hobbies"), important_dates=_l("Important dates"), balance=_l("Points balance"),
)
MEMBER_ACTIONS = _table(
    review=_l("Review eligibility"), issue_card=_l("Issue the card"), activate=_l("Activate"),
    replace_card=_l("Replace a lost card"), lapse=_l("Let lapse"), renew=_l("Renew"), cancel=_l("Cancel membership"),
)
POINTS = _table(
    kind=_l("Kind"), points=_l("Points"), reason=_l("Reason"), actor_name=_l("By"), at=_l("When"),
    activity_id=_l("Activity"), redemption_ref=_l("Redemption order"), reverses_id=_l("Reverses"),
    idempotency_key=_l("Idempotency key"), balance=_l("Points balance"),
)
CLUB_PLAN = _table(
    COMMON, year=_l("Year"), title=_l("Title"), items=_l("Planned activities"), state=_l("State"),
    submitted_at=_l("Submitted at"), decided_at=_l("Decided at"), decision_comment=_l("Decision comment"),
)
CLUB_PLAN_ACTIONS = _table(submit=_l("Submit to the general manager"))
ACTIVITY = _table(
    COMMON, plan_id=_l("Activity plan"), title=_l("Title"), activity_type=_l("Activity type"),
    customer_group=_l("Customer group"), starts_at=_l("Starts at"), place=_l("Place"),
    responsible_id=_l("Responsible person"), implementation_plan=_l("Implementation plan"),
    points=_l("Points per attendee"), state=_l("State"), held_at=_l("Held at"),
    award_due_on=_l("Points due by"), awarded_at=_l("Points awarded at"), summary=_l("Summary"),
    evaluation=_l("Evaluation"), closed_at=_l("Closed at"), cancel_reason=_l("Reason for cancelling"),
)
ACTIVITY_ACTIONS = _table(hold=_l("Record as held"), award=_l("Award the points"), close=_l("Close with the summary"), cancel=_l("Cancel"))
ACTIVITY_OVERDUE = _table(award=_l("Points to award"))
