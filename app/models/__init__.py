"""All models, imported here so that Alembic and AppBuilder see every table."""

from .audit import GENESIS_HASH, AuditChainHead, AuditLog
from .base import BOOKKEEPING_COLUMNS, AuditedMixin, Model
from .customers import Customer, CustomerUnit
from .org import Department, UserDepartment
from .properties import Building, Project, Unit
from .sessions import LoginSession

__all__ = [
    "GENESIS_HASH", "AuditChainHead", "AuditLog", "BOOKKEEPING_COLUMNS", "AuditedMixin", "Model",
    "Customer", "CustomerUnit", "Department", "UserDepartment", "Building", "Project", "Unit", "LoginSession",
]
