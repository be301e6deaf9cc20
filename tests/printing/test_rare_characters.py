"""Every character (issue 13): names that use characters WenQuanYi Micro Hei lacks — 䶮 U+4DAE and
㛃 U+36C3 (CJK Extension A), 𠮷 U+20BB7 and 𡒄 U+21484 (Extension B, beyond U+FFFF) — print in a fallback
font that has them (fonts-hanazono), are searchable in the PDF's text, and no character of the record
is drawn as an empty box: each is drawn in an embedded font whose character map has a glyph for it."""

from datetime import datetime

import pytest

from reports import base, fonts
from reports.forms import complaint_ledger, complaint_record, return_visit, visit_record

from . import layout
from . import pdf as read

NAMES = ("王䶮", "李㛃", "𠮷野家", "张𡒄明")
CONTEXT = base.PrintContext(company="示范置业集团", archive_number="KF-2026-000042",
                            verify_url="http://kefu.example/verify/KF-2026-000042?c=ABCD", verify_code="ABCD",
                            printed_at=datetime(2026, 11, 24, 9, 30), printed_by="王䶮")


def complaint():
    return {"receipt": [("投诉编号", "TS2026-000001"), ("客户", NAMES[0]), ("房号", "翠湖花园 1栋 101"),
                        ("首问责任人", NAMES[1])],
            "content": f"{NAMES[2]}反映：{NAMES[3]}家卫生间渗水 <b>&amp;</b>", "sections": [("确认", [("客户确认方式", NAMES[3])])],
            "progress": [["2026-11-01 10:00", NAMES[1], "已派工程部", f"电话告知{NAMES[0]}"]], "approvals": [],
            "attachments": [[1, f"{NAMES[2]}的照片.jpg", "10 KB", "0123456789abcdef"]],
            "timeline": [["2026-11-01 10:00", "受理", "已受理", NAMES[1], NAMES[3]]], "serious": False}


def ledger():
    row = [1, "TS2026-000001", "2026-11-03", "热线", NAMES[0], "1栋101", "工程质量", "一般", NAMES[2], "工程部",
           "已关闭", "2026-11-10", 4.5, 4, "否", NAMES[3]]
    return {"month": "2026-11", "project": "全部项目", "rows": [row], "totals": [("状态", [("已关闭", 1)])],
            "figures": [("投诉总数", 1)]}


def return_visit_data():
    return {"kind": "投诉回访", "source_number": "TS2026-000001", "customer": NAMES[0], "unit": "1栋101",
            "phone": "138****0000", "method": "电话", "date": "2026-11-12 10:00", "by": NAMES[1], "due": "2026-11-12",
            "satisfaction": 5, "subject": NAMES[2], "record": NAMES[3], "follow_up": ""}


def visit_data():
    data = visit_record.blank()
    data["fields"] = [("客户（公司）", NAMES[0]), ("走访人员", NAMES[1]), ("接待人", NAMES[2])]
    data["items"] = [[1, "安全管理", NAMES[3], "合格", ""]]
    data["opinions"] = "".join(NAMES)
    return data


def test_each_rare_character_has_a_fallback_font_and_runs_split_by_font():
    rare = "䶮㛃𠮷𡒄"
    assert not any(ch in fonts.main_chars() for ch in rare)  # what the fallback is for
    assert [fonts.font_of(ch) for ch in rare] == ["KefuHanaMinA", "KefuHanaMinA", "KefuHanaMinA", "KefuHanaMinB"]
    assert fonts.runs("王䶮明") == [("KefuCJK", "王"), ("KefuHanaMinA", "䶮"), ("KefuCJK", "明")]
    assert fonts.markup("<b>&䶮\n") == '&lt;b&gt;&amp;<font name="KefuHanaMinA">䶮</font><br/>'


def test_a_long_line_breaks_inside_its_width():
    text = "客户反映卫生间渗水Water leaks from the bathroomceilingwithoutanyspaces 12345 䶮𠮷\n第二行"
    lines = fonts.wrap_lines(text, 60, 8)
    assert len(lines) > 3
    assert all(fonts.text_width(line, 8) <= 60 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")


@pytest.mark.parametrize("form,data", [(complaint_record, complaint()), (complaint_ledger, ledger()),
                                       (return_visit, return_visit_data()), (visit_record, visit_data())],
                         ids=["complaint_record", "ledger", "return_visit", "visit_record"])
def test_names_with_rare_characters_print_in_a_font_that_has_them(form, data, tmp_path, artifacts):
    printed = base.build(form, data, CONTEXT)
    path = tmp_path / "rare.pdf"
    path.write_bytes(printed.pdf)
    text = read.text(printed.pdf).replace(" ", "")
    for name in NAMES:
        if name in str(data):
            assert name in text, f"{name} is not in the PDF's text"
    pages = layout.read(printed.pdf)
    texts = [str(v) for v in _leaves(data)] + [CONTEXT.printed_by]
    assert not layout.missing_characters(texts, pages)
    assert not layout.font_problems(printed.pdf, pages)
    drawn = {c["fontname"].split("+", 1)[1] for page in pages for c in page.chars if c["text"] in "䶮㛃𠮷𡒄"}
    assert drawn == {"HanaMinA", "HanaMinB"}
    assert all(f["emb"] == "yes" and f["sub"] == "yes" for f in read.fonts(path))
    read.first_page_png(path, artifacts / f"rare_{form.__name__.rsplit('.', 1)[-1]}")


def _leaves(value):
    if isinstance(value, dict):
        return [t for k, v in value.items() if k != "row_height" for t in _leaves(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _leaves(v)]
    return [] if isinstance(value, bool) or value is None else [value]
