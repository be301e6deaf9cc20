"""The working-day calendar the Admin maintains: holidays and make-up workdays (调休)."""


def register(appbuilder) -> list[tuple]:
    """Add this module's views to AppBuilder; return (view class, menu name, menu category or None) for
    each one added to a menu, so that `roles sync` grants the menu entry with the view's permission."""
    return []
