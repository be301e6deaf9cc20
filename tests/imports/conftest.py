"""Import and export tests run on a freshly migrated database with only tests/seed.py's records (the
domain tests' app): the rows they count are the rows they imported."""

from tests.domain.conftest import app  # noqa: F401 - the minimal-seed app, shared with the domain tests
