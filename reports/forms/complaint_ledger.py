"""投诉台帐 — the month's complaints, one line each, with totals; landscape, header on every page."""

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-05", "A/0", "投诉台帐", True

HEADER = ["序号", "投诉编号", "受理日期", "渠道", "客户", "房号", "类别", "级别", "摘要", "责任部门", "状态",
          "关闭日期", "用时(工作日)", "满意度", "超时", "首问责任人"]
# Points on the landscape frame (750 pt): each sized to the value it usually holds on one line (a longer
# one wraps inside its cell): the number, a date, 信函传真邮件, a unit, the 13-character summary.
WIDTHS = [29, 62, 47, 55, 58, 78, 39, 23, 111, 46, 31, 47, 30, 22, 22, 50]
SUMMARY_CHARS = 13  # what fits on one line of the summary column


def story(data: dict, kit) -> list:
    parts = [kit.heading(f"{TITLE}（{data['month']}　{data['project']}）"),
             kit.table(HEADER, data["rows"], WIDTHS)]
    totals = [kit.section("合计")]
    for title, counts in data["totals"]:
        totals.append(kit.fields([(f"{title}：{label}", count) for label, count in counts] or [(title, "—")],
                                 columns=4, label_width=34 * mm))
        totals.append(kit.gap(1.5 * mm))
    totals.append(kit.fields(data["figures"], columns=3, label_width=40 * mm))
    if data.get("audit_head"):  # the audit chain's head when printed (seq, hash prefix, time)
        totals.append(kit.gap(1.5 * mm))
        totals.append(kit.fields([("审计链头（打印时）", data["audit_head"])], columns=1, label_width=40 * mm))
    parts.append(KeepTogether([*totals, kit.gap(), kit.signatures(["编制人", "审核人"])]))
    return parts
