"""The main pages pass axe-core's WCAG 2.1 A/AA rules with no serious or critical violation (issue 14, item 7).

axe-core comes from its npm package (package.json, installed by `make node`): it is added to every page
of the browser context as an init script, which the page's Content-Security-Policy does not govern, and
nothing is fetched from elsewhere. The pages are those a clerk works in every day: the login page, my
work, the complaint, visit and customer lists, a complaint's and a visit's detail page and a step form.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_complaint_walk import log_in

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT = 10_000
BLOCKING = ("serious", "critical")


@pytest.fixture
def axe_page(page: Page) -> Page:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make node` (npm ci) first", pytrace=False)
    page.add_init_script(path=str(AXE))
    return page


def violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line per element."""
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"],
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           targets: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
    }""")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['targets'])}"
            for v in found if v["impact"] in BLOCKING]


def check(page: Page, url: str, findings: dict[str, list[str]]) -> None:
    response = page.goto(url)
    assert response.status == 200, (url, response.status)
    if problems := violations(page):
        findings[url] = problems


def first_link(page: Page, list_url: str, pattern: str) -> str:
    page.goto(list_url)
    link = page.locator(f"a[href*='{pattern}']").first
    expect(link).to_have_count(1, timeout=TIMEOUT)
    return link.get_attribute("href")


def test_axe_finds_an_unlabelled_field_and_an_unnamed_button(axe_page: Page):
    """The check can fail: a field without a label and a button without a name are critical."""
    axe_page.goto("about:blank")
    axe_page.set_content('<html lang="zh-CN"><head><title>t</title></head><body><main><h1>表单</h1>'
                         '<input type="text" name="x"><button><i></i></button></main></body></html>')
    found = violations(axe_page)
    assert any(line.startswith("critical: label ") for line in found), found
    assert any(line.startswith("critical: button-name ") for line in found), found


def test_the_main_pages_have_no_serious_or_critical_violation(axe_page: Page, live_server):
    page, base = axe_page, live_server
    findings: dict[str, list[str]] = {}
    page.goto(f"{base}/login/")
    check(page, f"{base}/login/", findings)
    log_in(page, base, "cs_manager")
    # Lists of ten rows: the rows repeat one another, and axe-core takes seconds over a long page.
    for path in ("/mywork/", "/complaint/list/?psize_ComplaintView=10", "/visit/list/?psize_VisitView=10",
                 "/customer/list/?psize_CustomerView=10"):
        check(page, base + path, findings)
    complaint = first_link(page, f"{base}/complaint/list/?_flt_0_state=received", "/complaint/show/")
    visit = first_link(page, f"{base}/visit/list/?_flt_0_state=visited", "/visit/show/")
    planned = first_link(page, f"{base}/visit/list/?_flt_0_state=planned", "/visit/show/")
    for path in (complaint, visit):
        check(page, base + path, findings)
    # Step forms: a complaint's first step, its assessment (Select2 boxes) and the record of a visit (its
    # service items' results).
    page.goto(base + complaint)
    step = page.locator(".kefu-actions a.kefu-action").first.get_attribute("href")
    assert re.search(r"/complaint/transition/\d+/\w+$", step), step
    confirmed = first_link(page, f"{base}/complaint/list/?_flt_0_state=confirmed", "/complaint/show/")
    for path in (step, confirmed.replace("/show/", "/transition/") + "/assess",
                 planned.replace("/show/", "/transition/") + "/visit"):
        check(page, base + path, findings)
    report = "\n".join(f"{url}\n  " + "\n  ".join(lines) for url, lines in findings.items())
    print(report)
    assert not findings, f"axe-core found serious or critical violations:\n{report}"
