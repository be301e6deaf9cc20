"""Domain tests run on a freshly migrated database with only tests/seed.py's records — not on the
demo data — so that what they count and find is what they made."""

import pytest

from tests.conftest import PASSWORD, _prepared, make_config


@pytest.fixture(scope="session")
def app(databases):
    from app import create_app
    from app.extensions import db
    from tests.conftest import _prepare_migrated
    from tests.seed import seed_minimal

    def build(app):
        _prepare_migrated(app, {})
        with app.app_context():
            seed_minimal(db.session, app.appbuilder, PASSWORD)
            db.session.remove()

    app = create_app(make_config(databases.new()))
    _prepared(app, ("seeded",), {}, build)
    yield app
    with app.app_context():
        db.engine.dispose()
