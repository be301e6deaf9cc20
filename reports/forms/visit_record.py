"""走访客户记录表 — kept permanently. Printed blank for the visit, or filled from a recorded visit."""

from reportlab.lib.units import mm

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-01", "A/0", "走访客户记录表", False

SERVICE_ITEMS = ("安全管理", "清洁卫生", "绿化环境", "工程维修", "设备运行", "停车管理", "客服接待", "其他")
RESULTS = "□合格　□不合格　□非管理范畴"
NONE = "无"  # an optional section with nothing in it


def blank() -> dict:
    return {"fields": [("项目/楼宇", ""), ("客户（公司）", ""), ("房号", ""), ("走访时间", ""), ("走访人员", ""),
                       ("接待人", "□主要负责人　□物业联系人"), ("职务", ""), ("联系电话", "")],
            "items": [[i, item, "", RESULTS, ""] for i, item in enumerate(SERVICE_ITEMS, start=1)],
            "rectifications": [["", "", "", "", "", "□是　□否", "", ""] for _ in range(4)],
            "return_visit": [("回访日期", ""), ("整改效果确认", ""), ("满意度（1–5）", ""), ("回访人", "")],
            "row_height": 8.5 * mm}  # room to write by hand


def story(data: dict, kit) -> list:
    return [
        kit.heading(TITLE),
        kit.fields(data["fields"]),
        kit.section("走访项目及客户意见"),
        kit.table(["序号", "服务项目", "客户意见或建议", "结果", "非管理范畴的解释"], data["items"],
                  [9, 20, 60, 46, 45], wrap=frozenset({2, 3, 4}), row_height=data.get("row_height")),
        kit.section("不合格项整改"),
        # every round of every item: its measure, deadline and result
        kit.table(["序号", "不合格项", "整改措施", "责任部门及责任人", "完成期限", "事先征询租户", "轮次", "结果"],
                  data["rectifications"], [9, 28, 44, 28, 19, 16, 10, 27], wrap=frozenset({1, 2, 3, 7}),
                  row_height=data.get("row_height")) if data["rectifications"] else kit.p(NONE),
        *([kit.box("客户意见和建议", 18 * mm, data["opinions"])] if data.get("opinions") else []),
        kit.section("回访"),
        kit.fields(data["return_visit"]) if data["return_visit"] else kit.p(NONE),
        kit.gap(4 * mm),
        kit.signatures(["客户", "走访人员", "部门负责人"]),
    ]
