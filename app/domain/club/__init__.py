"""The customer club 客户会 (SPEC §5, issue 15), one module per thing:

- `eligibility`: who may join (the rule, in one place);
- `numbers`: member and card numbers from the configured patterns;
- `members`: the membership workflow (applied → reviewed → card_issued → active → lapsed / cancelled);
- `points`: the append-only points ledger (balance = sum of the rows; never negative; idempotent writes);
- `plans`: the annual activity plan, approved by the general manager (app.domain.approvals);
- `activities`: activities scheduled from an approved plan, attendance, awards within 7 days, closing;
- `figures`: the monthly figures.

Importing the package declares the three workflows on the engine (app.domain.workflow).
"""

from . import activities, members, plans, points  # noqa: F401  (the workflows declare themselves)
