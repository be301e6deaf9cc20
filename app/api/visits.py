"""REST for visits (issue 6): being written."""


def register(appbuilder) -> list[tuple]:
    return []
