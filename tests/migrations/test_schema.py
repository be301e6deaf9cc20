"""The schema comes from the migrations only, and they match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.extensions import db


def test_migrations_match_the_models(fresh_app):
    with fresh_app.app_context():
        from flask import current_app

        configure = dict(current_app.extensions["migrate"].configure_args)
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "include_object": lambda obj, name, type_, *a: not (type_ == "index" and name
                                                                    and name.startswith("ix_trgm_")),
                **{k: v for k, v in configure.items() if k == "render_as_batch"},
            })
            diff = compare_metadata(ctx, db.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_every_table_including_fabs_comes_from_the_migrations(fresh_app):
    with fresh_app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    expected = {t.name for t in db.metadata.sorted_tables} | {"alembic_version"}
    assert tables == expected
    assert {"ab_user", "ab_role", "ab_permission_view", "audit_log", "customer"} <= tables


def test_a_model_change_without_a_migration_is_caught(fresh_app):
    """The drift check can fail: a column added to the metadata only is reported."""
    from sqlalchemy import Column, String

    from app.models import Project

    column = Column("drift_probe", String(10))
    Project.__table__.append_column(column)
    try:
        with fresh_app.app_context(), db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert any(d[0] == "add_column" and d[3].name == "drift_probe" for d in diff if isinstance(d, tuple))
    finally:
        Project.__table__._columns.remove(column)
