"""回访记录表 — one return visit (of a complaint now; of visits, deliveries and move-ins later)."""

from reportlab.lib.units import mm

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-04", "A/0", "回访记录表", False


def story(data: dict, kit) -> list:
    return [
        kit.heading(TITLE),
        kit.fields([("回访类别", data["kind"]), ("来源编号", data["source_number"]),
                    ("客户", data["customer"]), ("房号", data["unit"]),
                    ("联系电话", data["phone"]), ("回访方式", data["method"]),
                    ("回访日期", data["date"]), ("回访人", data["by"]),
                    ("应回访日期", data["due"]), ("满意度", data["satisfaction"])]),
        kit.gap(),
        kit.box("回访事由", 20 * mm, data["subject"]),
        kit.gap(),
        kit.box("询问与客户答复", 55 * mm, data["record"]),
        kit.gap(),
        kit.box("后续措施", 25 * mm, data["follow_up"]),
        kit.gap(),
        kit.signatures(["回访人", "客服经理"]),
    ]
