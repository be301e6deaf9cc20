"""Every printed form on the shared page template: its text in Chinese, the CJK font embedded, the
header row on every page of a long table, `第 x 页 / 共 y 页`, the QR code decoding to the verification
address, and the same bytes for the same data and print time."""

import re
from datetime import datetime

import pytest

from reports import base
from reports.forms import complaint_ledger, lending_register, opinion_sheet, visit_record

from . import pdf as read

PRINTED_AT = datetime(2026, 11, 24, 9, 30)


def context(number="KF-2026-000042", code="ABCD-EF01-2345-6789"):
    return base.PrintContext(company="示范置业集团", archive_number=number,
                             verify_url=f"http://kefu.example/verify/{number}?c={code}", verify_code=code,
                             printed_at=PRINTED_AT, printed_by="cs_staff")


def ledger_rows(n):
    return [[i, f"TS2026-{i:06d}", "2026-11-03", "热线", f"客户{i}", "翠湖花园 1栋 101", "工程质量", "一般",
             "卫生间渗水楼下受潮", "工程部", "已关闭", "2026-11-10", 4.5, 4, "否", "cs_staff"] for i in range(1, n + 1)]


def ledger(n):
    return {"month": "2026-11", "project": "全部项目", "rows": ledger_rows(n),
            "totals": [("状态", [("已关闭", n)]), ("类别", [("工程质量", n)])],
            "figures": [("投诉总数", n), ("关闭用时中位数（天）", 4.5), ("平均满意度", 4)]}


def build(form, data, tmp_path, name):
    printed = base.build(form, data, context())
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(printed.pdf)
    return printed, path


@pytest.mark.parametrize("form", [visit_record, opinion_sheet])
def test_the_blank_visit_forms(form, tmp_path, artifacts):
    printed, path = build(form, form.blank(), tmp_path, form.__name__.rsplit(".", 1)[-1])
    text = read.text(printed.pdf)
    for expected in (form.TITLE, form.CODE, "KF-2026-000042", "第1页/共1页", "示范置业集团", "安全管理", "客户"):
        assert expected in text.replace(" ", ""), expected
    assert printed.pages == read.page_count(path) == 1
    png = read.first_page_png(path, artifacts / f"blank_{form.__name__.rsplit('.', 1)[-1]}")
    assert read.qr_codes(png) == [context().verify_url]


@pytest.mark.parametrize("form", [visit_record, opinion_sheet, complaint_ledger, lending_register])
def test_the_font_is_embedded_and_no_other_font_is_used(form, tmp_path):
    data = ledger(30) if form is complaint_ledger else (
        {"period": "2026 年", "rows": [], "loans": 0, "overdue": 0} if form is lending_register else form.blank())
    _printed, path = build(form, data, tmp_path, "fonts")
    fonts = read.fonts(path)
    assert fonts, "no font in the PDF"
    assert all(f["emb"] == "yes" and f["sub"] == "yes" for f in fonts), fonts
    assert any("WenQuanYi" in f["name"] or "Ming" in f["name"] for f in fonts), fonts


def test_a_ledger_of_500_rows_repeats_its_header_and_counts_its_pages(tmp_path, artifacts):
    printed, path = build(complaint_ledger, ledger(500), tmp_path, "ledger")
    pages = read.page_texts(printed.pdf)
    assert len(pages) == printed.pages == read.page_count(path)
    rows_per_page = [len(re.findall(r"TS2026-\d{6}", page)) for page in pages]
    assert sum(rows_per_page) == 500  # every row once, none lost at a page break
    assert printed.pages >= 500 // max(rows_per_page) and max(rows_per_page) > 15  # many rows a page, landscape
    for number, page in enumerate(pages, start=1):
        flat = page.replace(" ", "")
        assert f"第{number}页/共{printed.pages}页" in flat
        if rows_per_page[number - 1]:
            assert "投诉编号" in flat and "首问责任人" in flat, f"page {number} has rows but no header row"
    assert "合计" in pages[-1].replace(" ", "") and "平均满意度" in pages[-1].replace(" ", "")
    numbers = [int(n) for page in pages for n in re.findall(r"TS2026-(\d{6})", page)]
    assert numbers == list(range(1, 501))  # in order
    read.first_page_png(path, artifacts / "ledger_500")


def test_the_same_data_and_print_time_give_the_same_bytes():
    first = base.build(complaint_ledger, ledger(80), context()).pdf
    assert base.build(complaint_ledger, ledger(80), context()).pdf == first
    later = base.PrintContext(**{**context().__dict__, "printed_at": datetime(2026, 11, 24, 9, 31)})
    assert base.build(complaint_ledger, ledger(80), later).pdf != first
