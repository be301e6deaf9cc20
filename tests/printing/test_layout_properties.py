"""Any length, any amount (issue 13): generated records — texts of 0 to 20,000 characters with line
breaks, punctuation, Latin, digits and rare CJK; 0–200 steps; 0–50 items, rounds and attachments — printed
on every form through reports.base.build, with plain data shaped as app/printing.py's *_data make it
(no database: fast), and read back with pdfplumber: every character of the record is on the paper,
none lies across a cell border or outside the body frame, none overprints another, nothing is drawn over
the header or footer, and each is drawn in a font that has a glyph for it.

Examples are few and derandomized, so that the file runs in well under a minute (reading a PDF back
costs pdfplumber about 0.1 ms a character): the first example of each form is its simplest record with
the most rows (200 steps, 50 items, rounds and attachments, empty texts), the second carries up to
20,000 characters of long text — one field of 20,000 or several shorter ones, from a budget.
"""

from datetime import datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reports import base
from reports.forms import (
    complaint_ledger,
    complaint_record,
    lending_register,
    opinion_sheet,
    return_visit,
    visit_record,
)

from . import layout

RARE = "䶮㛃𠮷𡒄㐀𠀀𪚥"  # CJK Extension A and B: not in WenQuanYi Micro Hei
ALPHABET = ("\n  ，。！？、；：“”（）《》【】—…·,.;:!?()[]{}<>&\"'/-_%#@*+=" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            + "0123456789" + "客户投诉处理记录卫生间渗水楼下天花板受潮发霉物业服务中心前台信函传真邮件翠湖花园栋号工程部满意"
            + RARE)
LONG_BUDGET = 20_000  # characters of very long text in one record
# No shrinking: each example costs a PDF and a pdfplumber read; a failure reports the example as drawn.
SETTINGS = settings(max_examples=2, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONTEXT = base.PrintContext(company="示范置业集团", archive_number="KF-2026-000042",
                            verify_url="http://kefu.example/verify/KF-2026-000042?c=ABCD", verify_code="ABCD",
                            printed_at=datetime(2026, 11, 24, 9, 30), printed_by="张三")

tiny = st.text(ALPHABET, max_size=12)
short = st.text(ALPHABET, max_size=80)


@st.composite
def long_texts(draw):
    """A function that draws a text of 0 to 20,000 characters while the record's budget lasts."""
    budget = [LONG_BUDGET]

    def text():
        if budget[0] <= 0 or not draw(st.booleans()):
            return draw(st.text(ALPHABET, max_size=300))
        size = min(budget[0], draw(st.one_of(st.sampled_from([20_000, 5_000]), st.integers(0, 20_000))))
        budget[0] -= size
        fragment = draw(st.text(ALPHABET, min_size=1, max_size=60))
        return (fragment * (size // len(fragment) + 1))[:size]

    return text


def rows(draw, cells, low, high, columns):
    count = draw(st.one_of(st.just(high), st.integers(low, high)))  # the most a record holds, or any
    return [[draw(cells) for _ in range(columns)] for _ in range(count)]


def pairs(draw, text, count):
    return [(draw(tiny), text()) for _ in range(count)]


@st.composite
def complaint_records(draw):
    text = draw(long_texts())
    return {"receipt": pairs(draw, text, 8), "content": text,
            "sections": [(draw(tiny), pairs(draw, text, draw(st.integers(1, 6)))) for _ in range(draw(st.integers(0, 8)))],
            "progress": rows(draw, short, 0, 50, 4), "approvals": rows(draw, short, 0, 10, 7),
            "attachments": rows(draw, tiny, 0, 50, 4), "timeline": rows(draw, tiny, 0, 200, 5),
            "serious": draw(st.booleans())}


@st.composite
def return_visits(draw):
    text = draw(long_texts())
    keys = ("kind", "source_number", "customer", "unit", "phone", "method", "date", "by", "due", "satisfaction",
            "subject", "record", "follow_up")
    return {key: text() for key in keys}


@st.composite
def visit_records(draw):
    text = draw(long_texts())
    data = {"fields": pairs(draw, text, 8), "items": rows(draw, short, 0, 50, 5),
            "rectifications": rows(draw, short, 0, 50, 8), "return_visit": pairs(draw, text, 4), "opinions": text()}
    if draw(st.booleans()):
        data["row_height"] = 8.5 * base.mm  # as the blank form: room to write by hand
    return data


@st.composite
def opinion_sheets(draw):
    text = draw(long_texts())
    data = {"fields": pairs(draw, text, 6), "ratings": rows(draw, short, 0, 50, 5), "opinions": text(),
            "office": pairs(draw, text, 3)}
    if draw(st.booleans()):
        data["row_height"] = 7.5 * base.mm
    return data


@st.composite
def ledgers(draw):
    text = draw(long_texts())
    return {"month": draw(tiny), "project": draw(short), "rows": rows(draw, tiny, 0, 120, 16),
            "totals": [(draw(tiny), [(draw(tiny), draw(st.integers(0, 10**6))) for _ in range(draw(st.integers(0, 12)))])
                       for _ in range(draw(st.integers(0, 4)))],
            "figures": pairs(draw, text, 6), "audit_head": text()}


@st.composite
def lending_registers(draw):
    return {"period": draw(tiny), "rows": rows(draw, short, 0, 80, 12), "loans": draw(st.integers(0, 99)),
            "overdue": draw(st.integers(0, 99))}


def leaves(value) -> list[str]:
    """Every text and number the record holds (what the paper must show)."""
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "row_height" for text in leaves(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in leaves(item)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]


def check(form, data):
    printed = base.build(form, data, CONTEXT)
    pages = layout.read(printed.pdf)
    assert len(pages) == printed.pages
    missing = layout.missing_characters(leaves(data), pages)
    assert not missing, f"characters of the record not on the paper: {dict(missing)}"
    problems = layout.all_problems(pages) + layout.font_problems(printed.pdf, pages)
    assert not problems, "\n".join(problems[:20])
    return pages


@SETTINGS
@given(complaint_records())
def test_a_complaint_record_of_any_length_prints_every_character_in_place(data):
    check(complaint_record, data)


@SETTINGS
@given(return_visits())
def test_a_return_visit_record_of_any_length_prints_every_character_in_place(data):
    check(return_visit, data)


@SETTINGS
@given(visit_records())
def test_a_visit_record_of_any_length_prints_every_character_in_place(data):
    check(visit_record, data)


@SETTINGS
@given(opinion_sheets())
def test_an_opinion_sheet_of_any_length_prints_every_character_in_place(data):
    check(opinion_sheet, data)


@SETTINGS
@given(ledgers())
def test_a_ledger_of_any_length_prints_every_character_in_place(data):
    check(complaint_ledger, data)


@SETTINGS
@given(lending_registers())
def test_a_lending_register_of_any_length_prints_every_character_in_place(data):
    check(lending_register, data)


def test_the_complaint_of_issue_13_prints_its_5000_characters_in_order_and_in_place():
    """5,000 characters of content and of «客户确认方式»: once a 500 and text over every later section."""
    content = ("客户反映卫生间渗水，楼下天花板受潮发霉。Water leaks 12345！\n" * 200)[:4999] + "尾"
    how = ("客户本人电话确认，并发送短信与电子邮件（client@example.com）确认。" * 200)[:4999] + "末"
    data = {"receipt": [("投诉编号", "TS2026-000001"), ("客户", "王䶮")], "content": content,
            "sections": [("投诉确认", [("客户确认方式", how), ("确认结果", "有效")])],
            "progress": [], "approvals": [], "attachments": [],
            "timeline": [["2026-11-01 10:00", "受理", "已受理", "张三", "登记"]], "serious": False}
    pages = check(complaint_record, data)
    text = "".join(c["text"] for page in pages for c in page.chars)
    # Each long text ends before the next section starts, and the signatures come last.
    assert text.index("尾") < text.index("投诉确认") < text.index("末") < text.index("处理过程记录") < text.index("首问责任人：")
