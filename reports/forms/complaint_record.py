"""客户投诉处理记录表 — every step of one complaint, with who and when."""

from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-03", "A/0", "客户投诉处理记录表", False
NONE = "无"  # an optional section with nothing in it


def story(data: dict, kit) -> list:
    parts = [kit.heading(TITLE), kit.fields(data["receipt"]), kit.gap(2 * mm), kit.box("投诉内容", 22 * mm, data["content"])]
    for title, pairs in data["sections"]:
        parts += [kit.section(title), kit.fields(pairs, columns=1, label_width=40 * mm)]
    parts += [kit.section("处理进展（每次均告知客户）"),
              kit.table(["时间", "经办人", "进展", "告知客户方式"], data["progress"], [30, 22, 80, 40],
                        wrap=frozenset({2, 3})) if data["progress"] else kit.p(NONE)]
    if data["approvals"]:
        parts += [kit.section("总经理审批"),
                  kit.table(["事项", "申请人", "申请时间", "结果", "审批人", "审批时间", "意见"], data["approvals"],
                            [34, 18, 26, 14, 18, 26, 44], wrap=frozenset({0, 6}))]
    parts += [kit.section("证据附件"),
              kit.table(["序号", "文件名", "大小", "SHA-256"], data["attachments"], [10, 62, 18, 78],
                        wrap=frozenset({1, 3})) if data["attachments"] else kit.p(NONE)]
    parts += [kit.section("处理过程记录"),
              kit.table(["时间", "步骤", "状态变化", "经办人", "内容"], data["timeline"], [28, 26, 30, 18, 80],
                        wrap=frozenset({1, 2, 3, 4})) if data["timeline"] else kit.p(NONE)]
    signers = ["首问责任人", "责任部门", "总经理" if data["serious"] else "客服经理"]
    parts += [kit.gap(), KeepTogether([kit.section("签字确认"), kit.signatures(signers)])]
    return parts
