"""All models, imported here so that Alembic and AppBuilder see every table."""

from .approvals import Approval
from .archive import ArchiveCounter, ArchiveLoan, ArchiveRecord
from .audit import GENESIS_HASH, AuditChainHead, AuditLog
from .base import BOOKKEEPING_COLUMNS, AuditedMixin, Model
from .calendar import CalendarDay, CalendarYear
from .cases import CaseEntry
from .club import Activity, ActivityPlan, Attendance, Member, MemberCard, PointsEntry
from .complaints import Complaint, ComplaintAttachment, ComplaintStep
from .customers import Customer, CustomerUnit
from .org import Department, UserDepartment
from .properties import Building, Project, Unit
from .sessions import LoginSession, RevokedToken, UserLoginState
from .visits import Rectification, ReturnVisit, Visit, VisitItem, VisitStep, VisitSummary

__all__ = [
    "GENESIS_HASH", "AuditChainHead", "AuditLog", "BOOKKEEPING_COLUMNS", "AuditedMixin", "Model",
    "Customer", "CustomerUnit", "Approval", "ArchiveCounter", "ArchiveLoan", "ArchiveRecord", "CalendarDay", "CalendarYear", "CaseEntry", "Complaint",
    "ComplaintAttachment", "ComplaintStep", "Department", "UserDepartment", "Building", "Project", "Unit", "LoginSession", "RevokedToken", "UserLoginState",
    "Rectification", "ReturnVisit", "Visit", "VisitItem", "VisitStep", "VisitSummary",
    "Activity", "ActivityPlan", "Attendance", "Member", "MemberCard", "PointsEntry",
]
