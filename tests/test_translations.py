"""The Simplified Chinese catalogue (app/translations/zh): every string we mark for translation, and every
string Flask-AppBuilder shows, has a Chinese msgstr; the compiled catalogue matches the .po; pages and
REST refusals are Chinese by default and English on request (FAB's `_l_` argument or the session).

When a test here fails: `make extract-messages`, translate the new msgids in
app/translations/zh/LC_MESSAGES/messages.po (no empty or fuzzy msgstr), then `make translations`.
"""

from __future__ import annotations

import re
from pathlib import Path

import flask_appbuilder
import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = ("lazy_gettext", "_l")  # the keywords of `make extract-messages`, besides pybabel's defaults
FAB_DIR = Path(flask_appbuilder.__file__).resolve().parent
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
FAB_MAPPING = "[python: **.py]\n[jinja2: templates/**.html]\nextensions=jinja2.ext.do\n"

STALE = "该记录已被他人修改，请刷新后重试。"
STALE_EN = "This record has been changed by someone else; please reload it and try again."


def extract(source: Path, mapping: Path, out: Path):
    """Run `pybabel extract` as the Makefile does and return the extracted catalogue."""
    args = ["pybabel", "-q", "extract", "-F", str(mapping), "-o", str(out)]
    for keyword in KEYWORDS:
        args += ["-k", keyword]
    CommandLineInterface().run([*args, str(source)])
    with out.open("rb") as f:
        return read_po(f)


def read_zh():
    with PO.open("rb") as f:
        return read_po(f, locale="zh")


def is_translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return not message.fuzzy and all(s and s.strip() for s in strings)


def msgids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def listing(ids) -> str:
    return "\n  ".join(repr(i) for i in sorted(ids, key=str))


# --- the catalogue -------------------------------------------------------------------------------

def test_every_extracted_msgid_has_a_chinese_translation(tmp_path):
    extracted = msgids(extract(ROOT, ROOT / "babel.cfg", tmp_path / "messages.pot"))
    assert len(extracted) > 100, "extraction found almost nothing: is babel.cfg still right?"
    zh = read_zh()
    missing = {i for i in extracted if zh.get(i) is None}
    untranslated = {i for i in extracted - missing if not is_translated(zh.get(i))}
    assert not (missing or untranslated), (
        "user-facing strings without a Chinese translation in app/translations/zh/LC_MESSAGES/messages.po "
        "(run `make extract-messages`, translate, `make translations`):\n"
        f"not in the catalogue:\n  {listing(missing)}\nempty or fuzzy msgstr:\n  {listing(untranslated)}")


def test_catalogue_has_no_empty_fuzzy_or_broken_entries():
    zh = read_zh()
    bad = {m.id for m in zh if m.id and not is_translated(m)}
    lost = {m.id for m in zh if m.id and m.string
            and set(PLACEHOLDER.findall(str(m.id))) != set(PLACEHOLDER.findall(str(m.string)))}
    checked = {message.id: [str(e) for e in errors] for message, errors in zh.check()}
    assert not (bad or lost or checked), (
        f"empty or fuzzy msgstr:\n  {listing(bad)}\n"
        f"msgstr without exactly the %(name)s placeholders of its msgid:\n  {listing(lost)}\n"
        f"babel's catalogue check: {checked}")


def test_glossary_terms_other_tests_rely_on():
    zh = read_zh()
    glossary = {
        "Customers": "客户", "Customer": "客户", "Customer details": "客户详情", "New customer": "新增客户", "Edit customer": "编辑客户",
        "Customer service": "客户服务", "Name": "名称", "ID-card number": "身份证号", "Mobile": "手机",
        "Phone": "电话", "Stage": "客户阶段", "Kind": "类型", "Property": "房产", "Person": "个人",
        "Company": "公司", "Potential": "潜在客户", "Intended": "意向客户", "Signed": "签约客户",
        "Future owner": "准业主", "Owner": "业主", "Tenant": "租户", "Member": "会员",
        STALE_EN: STALE,
        "The ID-card number's check digit is wrong (GB 11643); please check the number.":
            "身份证号校验位错误（GB 11643），请核对号码。",
        "The input is not valid.": "输入有误，未保存。",
        "Your role may not reveal personal data.": "您的角色无权查看完整个人信息。",
        "The version you read is required to change a record.": "修改记录时必须提供读取时的版本号（version）。",
        "System administrator": "系统管理员", "Customer-service staff": "客服专员",
        "Customer-service manager": "客服经理", "Responsible department": "责任部门", "Archivist": "档案管理员",
        "General manager": "总经理", "Auditor": "审计", "Audit log": "审计日志", "History": "修改历史",
        "Reveal": "显示", "Export": "导出", "Search": "搜索", "Projects": "项目", "Buildings": "楼栋",
        "Units": "房号", "Departments": "部门", "Properties": "房产资料", "Organisation": "组织架构",
        "Audit": "审计",
    }
    wrong = {k: (zh.get(k).string if zh.get(k) else None, v) for k, v in glossary.items()
             if zh.get(k) is None or zh.get(k).string != v}
    assert not wrong, f"glossary terms changed (msgid: (found, expected)): {wrong}"


def test_every_string_flask_appbuilder_shows_is_translated(tmp_path):
    """FAB's own zh catalogue lacks a few strings; ours (merged after FAB's) must fill each gap."""
    mapping = tmp_path / "fab-babel.cfg"
    mapping.write_text(FAB_MAPPING)
    fab_strings = msgids(extract(FAB_DIR, mapping, tmp_path / "fab.pot"))
    assert len(fab_strings) > 100
    fab_zh = Translations.load(str(FAB_DIR / "translations"), ["zh"])
    assert isinstance(fab_zh, Translations), "Flask-AppBuilder's zh catalogue did not load"
    zh = read_zh()
    gaps = {i for i in fab_strings
            if fab_zh.gettext(i) == i and not (zh.get(i) is not None and is_translated(zh.get(i)))}
    assert not gaps, ("Flask-AppBuilder strings without Chinese (add them to app/translations/fab_gaps.py, "
                      "then `make extract-messages` and translate):\n  " + listing(gaps))


def test_compiled_catalogue_matches_the_po():
    assert MO.exists(), f"{MO.relative_to(ROOT)} is missing: run `make translations`"
    compiled = Translations.load(str(TRANSLATIONS), ["zh"], domain="messages")
    assert isinstance(compiled, Translations), "the zh catalogue does not load: run `make translations`"
    in_po = {m.id: m.string for m in read_zh() if m.id and m.string}
    in_mo = {k: v for k, v in compiled._catalog.items() if k != ""}
    stale = {k for k in in_po if in_mo.get(k) != in_po[k]} | (set(in_mo) - set(in_po))
    assert not stale, f"messages.mo differs from messages.po: run `make translations`:\n  {listing(stale)}"
    assert compiled.gettext("ID-card number") == "身份证号"
    assert compiled.gettext("Customer-service staff") == "客服专员"


# --- the running app ------------------------------------------------------------------------------

def test_customer_list_is_chinese_by_default_and_english_on_request(login):
    client = login("cs_staff")
    page = client.get("/customer/list/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("客户", "身份证号", "手机", "客户阶段", "客户服务", "房产资料", "搜索", "导出", "记录数"):
        assert text in html, f"{text!r} missing from the Chinese customer list"
    assert ">ID-card number<" not in html

    english = client.get("/customer/list/?_l_=en").get_data(as_text=True)
    assert "ID-card number" in english and "Mobile" in english
    assert "身份证号" not in english

    assert client.get("/lang/en").status_code == 302  # the session's locale
    english = client.get("/customer/list/").get_data(as_text=True)
    assert "ID-card number" in english and "身份证号" not in english
    assert client.get("/lang/zh").status_code == 302
    assert "身份证号" in client.get("/customer/list/").get_data(as_text=True)


def test_flask_appbuilder_gaps_are_chinese_on_pages(login):
    client = login("cs_staff")
    html = client.get("/customer/list/").get_data(as_text=True)
    for text in ("新增", "查看", "编辑", "删除"):  # FAB's zh catalogue lacks these; ours fills them
        assert f'<span class="sr-only">{text}</span>' in html, f"{text!r} missing from the customer list"
    html = client.get("/customer/show/1").get_data(as_text=True)
    for text in ("客户详情", "修改历史", "个人信息已脱敏。", "显示"):
        assert text in html, f"{text!r} missing from the Chinese customer page"


def test_home_page_shows_role_labels_in_chinese(login):
    html = login("cs_staff").get("/").get_data(as_text=True)
    assert "客服专员" in html and "客服管理系统" in html


@pytest.mark.parametrize(("locale", "expected"), [("", STALE), ("?_l_=en", STALE_EN)])
def test_rest_refusal_is_chinese_by_default(api, locale, expected):
    response = api("cs_staff").put(f"/api/v1/customer/1{locale}", json={"name": "x", "version": 999})
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.get_json()["message"] == expected


def test_rest_validation_message_is_chinese(api):
    from app.domain.validation import id_number_check_digit

    first17 = "11010519491231002"
    wrong = next(d for d in "0123456789X" if d != id_number_check_digit(first17))
    client = api("cs_staff")
    version = client.get("/api/v1/customer/1").get_json()["result"]["version"]
    response = client.put("/api/v1/customer/1", json={"id_number": first17 + wrong, "version": version})
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["message"].startswith("输入有误，未保存。"), body
    assert body["errors"]["id_number"] == "身份证号校验位错误（GB 11643），请核对号码。"

    response = client.put("/api/v1/customer/1", json={"name": "x"})
    assert response.status_code == 422
    assert response.get_json()["message"] == "修改记录时必须提供读取时的版本号（version）。"
