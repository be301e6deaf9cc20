"""档案借阅登记表 — consultations in the office and loans outside, one line each."""

from reportlab.lib.units import mm

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-07", "A/0", "档案借阅登记表", True

HEADER = ["序号", "档案号", "文件名称", "借阅人及部门", "用途", "方式", "总经理审批", "借出日期", "应还日期",
          "归还日期", "逾期", "档案管理员签字"]
WIDTHS = [9, 24, 40, 28, 36, 12, 24, 18, 18, 18, 9, 22]


def story(data: dict, kit) -> list:
    return [kit.heading(f"{TITLE}（{data['period']}）"),
            kit.table(HEADER, data["rows"], WIDTHS, wrap=frozenset({2, 3, 4, 6})),
            kit.gap(2 * mm),
            kit.p(f"共 {len(data['rows'])} 条；其中外借 {data['loans']} 条，逾期未还 {data['overdue']} 条。"),
            kit.gap(), kit.signatures(["档案管理员", "客服经理"])]
