"""My work and `flask --app run reminders --json` list exactly the same items for every demo user
(issue 12 item 3): both read app.domain.worklist, and this checks what each shows, not the function.

The my-work page is read as a browser gets it (each section's rows: kind and number); the reminders as
the scheduler gets them (JSON). Both are taken on the session database with the demo data."""

import json
import re
from collections import Counter

from app.views.work import MY_WORK_LIMIT
from tests.conftest import USERNAMES
from tests.http.conftest import text_of

ROW = re.compile(r'<tr class="kefu-work-row[^"]*">\s*<td><a href="[^"]*">([^<]*)</a></td>')
SECTION = re.compile(r'data-section="([a-z_]+)">(.*?)(?=data-section="|\Z)', re.S)


def my_work_items(client) -> Counter:
    page = text_of(client.get("/mywork/"))
    page = page[page.index('class="kefu-my-work"'):]
    found = Counter()
    for kind, body in SECTION.findall(page):
        for number in ROW.findall(body):
            found[(kind, number.strip())] += 1
    return found


def reminder_items(app) -> dict[str, Counter]:
    result = app.test_cli_runner().invoke(args=["reminders", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    return {person["username"]: Counter((item["kind"], item["number"]) for item in person["items"])
            for person in report["people"]}


def test_my_work_and_the_reminders_agree_for_every_demo_user(app, html_as):
    reminders = reminder_items(app)
    assert any(reminders.get(name) for name in USERNAMES), "the demo data leaves nobody anything to do"
    for username in USERNAMES:
        if username == "auditor":  # reads everything, acts on nothing: no my-work page, nothing to remind
            assert not reminders.get(username)
            continue
        shown = my_work_items(html_as(username))
        expected = reminders.get(username, Counter())
        for kind in {k for k, _n in expected}:
            wanted = Counter({key: n for key, n in expected.items() if key[0] == kind})
            got = Counter({key: n for key, n in shown.items() if key[0] == kind})
            if sum(wanted.values()) > MY_WORK_LIMIT:  # a long section shows its first rows and a link to the rest
                assert sum(got.values()) == MY_WORK_LIMIT and not got - wanted, (username, kind)
            else:
                assert got == wanted, (username, kind)
        assert {k for k, _n in shown} <= {k for k, _n in expected}, username


def test_the_page_names_the_work_and_its_deadline_in_chinese(app, html_as):
    page = text_of(html_as("cs_manager").get("/mywork/"))
    assert "投诉" in page and "→" in page
