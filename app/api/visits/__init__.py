"""REST for visits (issue 6), one module per resource: /api/v1/visit/ (`visits`),
/api/v1/rectification/ (`rectifications`), /api/v1/return_visit/ (`return_visits`) and
/api/v1/visit_summary/ (`summaries`). Thin adapters: every write goes through the domain in one unit of
work, and a refusal answers `err.status` with a JSON `message` (and `errors` per field) with nothing
written. Class names are FAB permission view-menus (app.security): they never change. The OpenAPI
document is generated from the marshmallow schemas each module declares (app.api.documented).
"""

from __future__ import annotations

from .rectifications import RectificationApi
from .return_visits import ReturnVisitApi
from .summaries import VisitSummaryApi
from .visits import VisitApi

ALL_APIS = (VisitApi, RectificationApi, ReturnVisitApi, VisitSummaryApi)


def register(appbuilder) -> list[tuple]:
    """Add this module's APIs to AppBuilder. APIs have no menu entry, so nothing is returned."""
    for api in ALL_APIS:
        appbuilder.add_api(api)
    return []
