"""Coded values (stored as their English code, shown with a translated label). SPEC §10 fixes the codes."""

from enum import StrEnum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l


class LabelledEnum(StrEnum):
    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        # Lazy labels: rendered in the locale of each request, not of the import.
        return [(m.value, cls.LABELS[m.value]) for m in cls]

    @property
    def label(self) -> str:
        return str(self.LABELS[self.value])

    @classmethod
    def label_of(cls, code: str | None) -> str:
        return str(cls.LABELS.get(code, code or ""))


class CustomerKind(LabelledEnum):
    PERSON = "person"
    COMPANY = "company"


CustomerKind.LABELS = {"person": _l("Person"), "company": _l("Company")}


class Gender(LabelledEnum):
    MALE = "male"
    FEMALE = "female"


Gender.LABELS = {"male": _l("Male"), "female": _l("Female")}


class CustomerStage(LabelledEnum):
    POTENTIAL = "potential"
    INTENDED = "intended"
    SIGNED = "signed"
    FUTURE_OWNER = "future_owner"
    OWNER = "owner"
    TENANT = "tenant"
    MEMBER = "member"


CustomerStage.LABELS = {
    "potential": _l("Potential"),
    "intended": _l("Intended"),
    "signed": _l("Signed"),
    "future_owner": _l("Future owner"),
    "owner": _l("Owner"),
    "tenant": _l("Tenant"),
    "member": _l("Member"),
}


class Channel(LabelledEnum):
    HOTLINE = "hotline"
    FRONT_DESK = "front_desk"
    FORUM = "forum"
    MAIL = "mail"
    ONLINE = "online"


Channel.LABELS = {
    "hotline": _l("Hotline"), "front_desk": _l("Service-centre desk"), "forum": _l("Forum"),
    "mail": _l("Letter / fax / e-mail"), "online": _l("Online"),
}


class ComplaintState(LabelledEnum):
    RECEIVED = "received"
    CONFIRMED = "confirmed"
    CLOSED_INVALID = "closed_invalid"
    ASSESSED = "assessed"
    INVESTIGATING = "investigating"
    HANDLING = "handling"
    REPLIED = "replied"
    CLOSED = "closed"
    RETURN_VISITED = "return_visited"
    FED_BACK = "fed_back"
    CLOSED_UNRESOLVED = "closed_unresolved"


ComplaintState.LABELS = {
    "received": _l("Received"), "confirmed": _l("Confirmed"), "closed_invalid": _l("Closed as invalid"),
    "assessed": _l("Assessed"), "investigating": _l("Investigating"), "handling": _l("Handling"),
    "replied": _l("Replied"), "closed": _l("Closed"), "return_visited": _l("Return-visited"),
    "fed_back": _l("Fed back"), "closed_unresolved": _l("Closed unresolved"),
}


class ComplaintRoute(LabelledEnum):
    """Where a complainant can turn when the company cannot resolve the complaint (ISO 10002 §8.6)."""
    INTERNAL = "internal"
    HOTLINE_12345 = "hotline_12345"
    CONSUMER_ASSOCIATION = "consumer_association"
    HOUSING_AUTHORITY = "housing_authority"
    COURT = "court"


ComplaintRoute.LABELS = {
    "internal": _l("Other internal routes (a higher level of the company)"), "hotline_12345": _l("The 12345 hotline"),
    "consumer_association": _l("The consumer association"), "housing_authority": _l("The housing authority"),
    "court": _l("Arbitration or the court"),
}


class Severity(LabelledEnum):
    GENERAL = "general"
    MAJOR = "major"
    CRISIS = "crisis"


Severity.LABELS = {"general": _l("General"), "major": _l("Major"), "crisis": _l("Crisis")}


class ComplaintCategory(LabelledEnum):
    ENGINEERING_QUALITY = "engineering_quality"
    SALES_SERVICE = "sales_service"
    CUSTOMER_SERVICE = "customer_service"
    PROPERTY_MANAGEMENT = "property_management"


ComplaintCategory.LABELS = {
    "engineering_quality": _l("Engineering quality"), "sales_service": _l("Sales service"),
    "customer_service": _l("Customer service"), "property_management": _l("Property management"),
}


class VisitMethod(LabelledEnum):
    PHONE = "phone"
    ON_SITE = "on_site"


VisitMethod.LABELS = {"phone": _l("By phone"), "on_site": _l("On site")}


class ApprovalState(LabelledEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


ApprovalState.LABELS = {"pending": _l("Pending"), "approved": _l("Approved"), "rejected": _l("Rejected")}


class CaseStage(LabelledEnum):
    DESIGN = "design"
    MARKETING = "marketing"
    CONSTRUCTION = "construction"
    DELIVERY = "delivery"
    MOVE_IN = "move_in"


CaseStage.LABELS = {
    "design": _l("Design"), "marketing": _l("Marketing"), "construction": _l("Construction and handover"),
    "delivery": _l("Delivery"), "move_in": _l("Move-in"),
}


class CaseCategory(LabelledEnum):
    PLANNING = "planning"
    BUILDING = "building"
    LIVING = "living"
    QUALITY = "quality"


CaseCategory.LABELS = {
    "planning": _l("Planning, public facilities and landscaping"),
    "building": _l("Building body and interior"),
    "living": _l("Living performance and equipment placement"),
    "quality": _l("Engineering quality"),
}


class LoanKind(LabelledEnum):
    CONSULTATION = "consultation"
    LOAN = "loan"


LoanKind.LABELS = {"consultation": _l("Consultation in the office"), "loan": _l("Loan outside the company")}


class LoanState(LabelledEnum):
    REQUESTED = "requested"
    REJECTED = "rejected"
    APPROVED = "approved"
    OUT = "out"
    RETURNED = "returned"


LoanState.LABELS = {
    "requested": _l("Waiting for the general manager"), "rejected": _l("Rejected"),
    "approved": _l("Approved, not yet out"), "out": _l("Out"), "returned": _l("Returned"),
}


class VisitState(LabelledEnum):
    PLANNED = "planned"
    VISITED = "visited"
    RECTIFYING = "rectifying"
    RETURN_VISITED = "return_visited"
    SUMMARISED = "summarised"
    ARCHIVED = "archived"


VisitState.LABELS = {
    "planned": _l("Planned"), "visited": _l("Visited"), "rectifying": _l("Rectifying"),
    "return_visited": _l("Return-visited"), "summarised": _l("Summarised"), "archived": _l("Archived"),
}


class ContactRole(LabelledEnum):
    MAIN_CONTACT = "main_contact"
    PROPERTY_CONTACT = "property_contact"
    HOUSEHOLD = "household"


ContactRole.LABELS = {"main_contact": _l("Main contact"), "property_contact": _l("Property contact"),
                      "household": _l("The household")}


class ServiceItem(LabelledEnum):
    SECURITY = "security"
    CLEANING = "cleaning"
    GREENING = "greening"
    MAINTENANCE = "maintenance"
    EQUIPMENT = "equipment"
    PARKING = "parking"
    RECEPTION = "reception"
    OTHER = "other"


ServiceItem.LABELS = {
    "security": _l("Security"), "cleaning": _l("Cleaning"), "greening": _l("Greenery and surroundings"),
    "maintenance": _l("Repairs and maintenance"), "equipment": _l("Equipment operation"), "parking": _l("Parking"),
    "reception": _l("Customer reception"), "other": _l("Other"),
}


class ItemResult(LabelledEnum):
    QUALIFIED = "qualified"
    NON_CONFORMING = "non_conforming"
    OUT_OF_SCOPE = "out_of_scope"


ItemResult.LABELS = {"qualified": _l("Qualified"), "non_conforming": _l("Non-conforming"),
                     "out_of_scope": _l("Outside the management's scope")}


class RectificationState(LabelledEnum):
    OPEN = "open"
    DONE = "done"
    SATISFIED = "satisfied"


RectificationState.LABELS = {"open": _l("Being rectified"), "done": _l("Done, waiting for the customer"),
                             "satisfied": _l("Customer satisfied")}


class ReturnVisitKind(LabelledEnum):
    VISIT = "visit"
    DELIVERY = "delivery"
    MOVE_IN = "move_in"


ReturnVisitKind.LABELS = {"visit": _l("Visit return visit"), "delivery": _l("Delivery return visit"),
                          "move_in": _l("Move-in return visit")}


class SummaryState(LabelledEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    RETURNED = "returned"


SummaryState.LABELS = {"draft": _l("Draft"), "submitted": _l("Submitted to the general manager"),
                       "acknowledged": _l("Acknowledged"), "returned": _l("Returned with a comment")}


class ReturnVisitState(LabelledEnum):
    DUE = "due"
    DONE = "done"


ReturnVisitState.LABELS = {"due": _l("Due"), "done": _l("Done")}


class Satisfaction(LabelledEnum):
    """Satisfaction 1–5, stored as the number; shown and chosen as the number with its words
    ("5 非常满意"): the one table forms, pages, the API's documentation and printed forms read."""

    VERY_SATISFIED = "5"
    SATISFIED = "4"
    NEUTRAL = "3"
    DISSATISFIED = "2"
    VERY_DISSATISFIED = "1"

    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        return [(m.value, LazyString(lambda v=m.value: cls.label_of(v))) for m in cls]

    @classmethod
    def label_of(cls, code) -> str:
        """5 (or "5") → "5 非常满意"; blank for no answer; anything else as it is."""
        if code is None or code == "":
            return ""
        words = cls.LABELS.get(str(code))
        return f"{code} {words}" if words is not None else str(code)

    @classmethod
    def described(cls) -> str:
        """For the API's documentation: "5 非常满意, 4 满意, …"."""
        return ", ".join(cls.label_of(m.value) for m in cls)


Satisfaction.LABELS = {"5": _l("Very satisfied"), "4": _l("Satisfied"), "3": _l("Neutral"),
                       "2": _l("Dissatisfied"), "1": _l("Very dissatisfied")}
