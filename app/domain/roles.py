"""The seven roles of SPEC §1 (names are a contract: `roles sync` and integrations rely on them)."""

from flask_babel import lazy_gettext as _l

ADMIN = "Admin"
CS_STAFF = "CS Staff"
CS_MANAGER = "CS Manager"
DEPARTMENT_STAFF = "Department Staff"
ARCHIVIST = "Archivist"
GENERAL_MANAGER = "General Manager"
AUDITOR = "Auditor"

ROLE_LABELS = {
    ADMIN: _l("System administrator"),
    CS_STAFF: _l("Customer-service staff"),
    CS_MANAGER: _l("Customer-service manager"),
    DEPARTMENT_STAFF: _l("Responsible department"),
    ARCHIVIST: _l("Archivist"),
    GENERAL_MANAGER: _l("General manager"),
    AUDITOR: _l("Auditor"),
}

# Roles whose holders see every department's records; anyone else sees only their department's.
SEES_ALL_DEPARTMENTS = frozenset({ADMIN, CS_STAFF, CS_MANAGER, ARCHIVIST, GENERAL_MANAGER, AUDITOR})


def role_names(actor) -> set[str]:
    return {r.name for r in getattr(actor, "roles", None) or ()}
