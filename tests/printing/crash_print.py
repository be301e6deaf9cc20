"""A real printing process for tests/printing/test_crash.py: `python -m tests.printing.crash_print POINT`.

It runs the production app (configured from the environment: DATABASE_URL, KEFU_INSTANCE), prints a
blank form into the archive and commits. With POINT other than `none` it stops at that point of the
print (archive.fault_hook), says so on stdout and waits there to be killed (`kill -9`) by the test.
"""

import sys
import time


def main(point: str) -> None:
    from app import audit, create_app, printing
    from app.domain import archive, records
    from app.extensions import db

    def stop_here(name: str) -> None:
        if name == point:
            print(f"AT {name}", flush=True)
            time.sleep(600)  # the test kills us here

    app = create_app()
    with app.app_context():
        archive.fault_hook = stop_here
        with records.unit_of_work(db.session):
            record = printing.print_blank(db.session, "visit_record", audit.SYSTEM)
            number = record.number
        print(f"PRINTED {number}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
