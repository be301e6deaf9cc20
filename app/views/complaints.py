"""Complaint pages: list (overdue in red), detail with the timeline and the step forms, case library."""


def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category or None) for
    each one added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    return []
