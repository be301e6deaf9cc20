"""`make bench`: seed a million customers (with their audit rows chained in bulk) on SQLite and on a
throwaway PostgreSQL, measure the app's list pages, searches and `audit verify` against raw SQL, and
write the figures to docs/benchmarks.md. Entry point: `python -m bench.run`."""
