"""Visit pages (issue 6), one module per resource: visits (plan, record, rectify, return visit,
archive), rectification items per department, return visits of visits, deliveries and move-ins, and
the summary to the general manager; `common` holds the formatters and lookups they share (the labels
are app.labels' tables), `timeline` the visit's step fields in words for the workflow timeline partial
(app.views.workflow); my work is app.views.work, read from app.domain.worklist.

Every change goes through the domain in one unit of work; the forms only collect what a step needs,
and a refusal re-renders the form with the domain's message and everything typed kept. Class names
are FAB permission view-menus (app.security): they never change.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .rectifications import RectificationView
from .return_visits import ReturnVisitView
from .summaries import VisitSummaryView
from .visits import VisitView

__all__ = ["RectificationView", "ReturnVisitView", "VisitSummaryView", "VisitView", "register"]

CATEGORY, CATEGORY_LABEL = "Visits", _l("Visits")


def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category) for each one
    added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    # The visits' own entry is not named like the category: a role granted the category (department staff,
    # for their rectification items) would otherwise be granted the entry of the visits too.
    menus = [(VisitView, "Visit list", _l("Visits"), "fa-handshake-o"),
             (RectificationView, "Rectification items", _l("Rectification items"), "fa-wrench"),
             (ReturnVisitView, "Return visits", _l("Return visits"), "fa-phone"),
             (VisitSummaryView, "Visit summaries", _l("Visit summaries"), "fa-file-text-o")]
    for view, name, label, icon in menus:
        appbuilder.add_view(view, name, label=label, icon=icon, category=CATEGORY, category_label=CATEGORY_LABEL,
                            category_icon="fa-handshake-o")
    return [(view, name, CATEGORY) for view, name, _label, _icon in menus]
