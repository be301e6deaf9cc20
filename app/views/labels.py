"""The labels moved to app.labels (shared with the API and printing). This name stays only for
app/views/visits.py, which imports COMMON from here until it is split; then delete this module."""

from app.labels import AUDIT, AUDIT_ACTIONS, COMMON, CUSTOMER, ORG, PROPERTY

__all__ = ["AUDIT", "AUDIT_ACTIONS", "COMMON", "CUSTOMER", "ORG", "PROPERTY"]
