"""客户意见、建议征求表 — kept permanently. Printed blank for the customer, or filled from a visit."""

from reportlab.lib.units import mm

from .visit_record import SERVICE_ITEMS

CODE, EDITION, TITLE, LANDSCAPE = "KF/QR-02", "A/0", "客户意见、建议征求表", False

PREFACE = ("尊敬的客户：您好！感谢您一直以来对我们工作的支持与信任。为了不断提高服务质量，"
           "我们诚挚地邀请您对我们的各项服务提出宝贵的意见和建议。您的每一条意见，我们都将认真研究、"
           "及时改进并给予答复。谢谢！")


def blank() -> dict:
    return {"fields": [("客户", ""), ("房号", ""), ("联系人", ""), ("联系电话", ""), ("日期", ""), ("", "")],
            "ratings": [[item, "□", "□", "□", ""] for item in SERVICE_ITEMS],
            "opinions": "",
            "office": [("收到日期", ""), ("处理人", ""), ("答复客户日期", "")],
            "row_height": 7.5 * mm}  # room to write by hand


def story(data: dict, kit) -> list:
    return [
        kit.heading(TITLE),
        kit.p(PREFACE),
        kit.gap(),
        kit.fields(data["fields"]),
        kit.section("服务评价"),
        kit.table(["服务项目", "满意", "基本满意", "不满意", "备注"], data["ratings"], [30, 16, 16, 16, 72],
                  wrap=frozenset({4}), row_height=data.get("row_height")),
        kit.gap(),
        kit.box("意见和建议", 50 * mm, data["opinions"]),
        kit.gap(),
        kit.signatures(["客户签名"]),
        kit.section("以下由客户服务部填写"),
        kit.fields(data["office"], columns=3, label_width=24 * mm),
    ]
