"""Demo data: departments, two projects, ~200 customers, one user per role, the working-day calendar,
about 300 complaints of the last six months in every state, and visits in every state with their
rectification items (some in a second round), a summary acknowledged by the GM and the delivery and
move-in return visits of a project (idempotent)."""

from __future__ import annotations

import random
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app import audit
from app.demo_hours import OFFICE_SHARE, OfficeHours
from app.domain import approvals, calendar, complaints, records, visit_planning, visits
from app.domain.roles import (
    ADMIN,
    ARCHIVIST,
    AUDITOR,
    CS_MANAGER,
    CS_STAFF,
    DEPARTMENT_STAFF,
    GENERAL_MANAGER,
)
from app.domain.validation import id_number_check_digit
from app.models import (
    Building,
    CalendarYear,
    Complaint,
    Customer,
    CustomerUnit,
    Department,
    Project,
    ReturnVisit,
    Unit,
    UserDepartment,
    Visit,
)

DEPARTMENTS = [
    ("CS", "客户服务部", True), ("ENG", "工程部", False), ("PM", "物业公司", False),
    ("SALES", "销售管理部", False), ("DESIGN", "设计管理部", False), ("GMO", "总经理办公室", False),
]
# username, role, department code, family name, given name
USERS = [
    ("admin", ADMIN, None, "系统", "管理员"),
    ("cs_staff", CS_STAFF, "CS", "李", "晓梅"),
    ("cs_manager", CS_MANAGER, "CS", "王", "建国"),
    ("eng_staff", DEPARTMENT_STAFF, "ENG", "赵", "工"),
    ("pm_staff", DEPARTMENT_STAFF, "PM", "孙", "丽"),
    ("archivist", ARCHIVIST, "CS", "周", "档案"),
    ("gm", GENERAL_MANAGER, "GMO", "陈", "总"),
    ("auditor", AUDITOR, None, "吴", "审计"),
]
PROJECTS = [("HPY", "翠湖花园", "杭州", "西湖区文三路 88 号"), ("JLW", "锦绣蓝湾", "宁波", "鄞州区天童南路 666 号")]
# Surnames by how common they are (the first few are a quarter of all Chinese; the long tail is real too),
# a few compound ones; given names of one or two characters as people are really called.
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
            "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
            "柏阮聂靳栾佟厉伍甘翁荣祁庞柯管卓蔺褚乔岳")
SURNAME_WEIGHTS = [1.0 / (rank + 4) for rank in range(len(SURNAMES))]
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
GIVEN_ONE = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚鑫斌琳颖晨悦昊婷峰健波宁婧"
GIVEN_TWO = ("晓梅 建华 志强 秀英 丽娟 海燕 国强 俊杰 雨桐 子涵 浩然 欣怡 梓轩 思远 佳琪 文博 一鸣 婉清 明轩 雅婷 家豪 晨曦 "
             "静怡 宏伟 春燕 玉兰 德明 淑芬 立新 永福 慧敏 紫萱 诗涵 宇航 天佑 若曦 志刚 桂兰 秀兰 建军 红梅 伟东 振华 "
             "美玲 丹丹 亚楠 嘉怡 一诺 锦程 瑞琪 国庆 金凤 长青 少华 雪松 子墨 可欣 博文 鹏飞 晓光 玉珍 文静").split()
COMPANIES = [("杭州", "恒达", "贸易"), ("宁波", "金桥", "建材"), ("浙江", "华元", "科技"), ("杭州", "新远", "餐饮管理"),
             ("浙江", "启明", "文化传媒"), ("宁波", "瑞康", "医疗器械"), ("杭州", "云帆", "网络科技"),
             ("浙江", "同泰", "商贸"), ("杭州", "博学", "教育咨询"), ("宁波", "海通", "物流")]
REGIONS = ["330106", "330102", "330212", "110101", "310104", "440305", "320102", "510107"]
MOBILE_PREFIXES = ["138", "139", "135", "137", "150", "151", "186", "187", "177", "199"]
DEMO_CUSTOMERS = 200


def demo_id_number(rng: random.Random, born: date) -> str:
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_number_check_digit(first17)


def demo_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"


def demo_name(rng: random.Random) -> str:
    """张伟, 欧阳晓梅, 聂子涵: a surname (rarely a compound one), a given name of one or (mostly) two characters."""
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choices(SURNAMES, SURNAME_WEIGHTS)[0]
    return surname + (rng.choice(GIVEN_ONE) if rng.random() < 0.3 else rng.choice(GIVEN_TWO))


def demo_company(i: int) -> str:
    city, brand, trade = COMPANIES[i % len(COMPANIES)]
    return f"{city}{brand}{trade}有限公司"


def load_demo(session, appbuilder, password: str | None, complaint_count: int | None = None) -> list[str]:
    """Load (or complete) the demo data; `complaint_count` caps the demo complaints (default DEMO_COMPLAINTS:
    a test that needs only users and customers passes 0 and saves the seconds of walking them)."""
    report = []
    generated = password is None
    password = password or secrets.token_urlsafe(9)
    with audit.acting_as(session, audit.SYSTEM), records.unit_of_work(session):
        departments = _departments(session)
    report += _users(session, appbuilder, departments, password, generated)
    system_actor = appbuilder.sm.find_user(username="admin")
    with audit.acting_as(session, system_actor), records.unit_of_work(session):
        units = _properties(session)
        report.append(_customers(session, units))
    with records.unit_of_work(session):
        report.append(_calendar(session, system_actor))
    wanted = DEMO_COMPLAINTS if complaint_count is None else complaint_count
    report.append(_complaints(session, appbuilder, calendar.local_now(), wanted))
    if wanted:
        report.append(_visits(session, appbuilder, calendar.local_now()))
        report.append(_club(session, appbuilder, calendar.local_now()))
    return report


def _calendar(session, actor) -> str:
    """Seed the working-day calendar from `chinesecalendar` when the table is empty (demo deadlines
    should skip the public holidays); a calendar the Admin already keeps is left alone."""
    present = session.scalar(select(func.count(CalendarYear.id)))
    if present:
        return f"Calendar: {present} years present, none added"
    added = calendar.seed_from_chinesecalendar(session, actor)
    return f"Calendar: {len(added)} years added ({added[0]}–{added[-1]})" if added else "Calendar: none added"


def _departments(session) -> dict[str, Department]:
    found = {d.code: d for d in session.scalars(select(Department))}
    for code, name, is_cs in DEPARTMENTS:
        if code not in found:
            found[code] = Department(code=code, name=name, is_customer_service=is_cs)
            session.add(found[code])
    session.flush()
    return found


def _users(session, appbuilder, departments, password, generated) -> list[str]:
    sm = appbuilder.sm
    lines = []
    for username, role_name, dept_code, family, given in USERS:
        role = sm.find_role(role_name)
        if role is None:
            raise RuntimeError(f"role {role_name!r} is missing: run `flask --app run roles sync` first")
        user = sm.find_user(username=username)
        if user is None:
            # FAB shows "first last"; a Chinese name reads family name first, so it goes in first_name.
            user = sm.add_user(username, family + given, "", f"{username}@kefu.example", role, password)
            state = "created"
        elif not generated:
            sm.reset_password(user.id, password)
            state = "password reset"
        else:
            state = "exists, password unchanged"
        if dept_code:
            with audit.acting_as(session, audit.SYSTEM), records.unit_of_work(session):
                link = session.scalar(select(UserDepartment).where(UserDepartment.user_id == user.id))
                if link is None:
                    session.add(UserDepartment(user_id=user.id, department_id=departments[dept_code].id))
        lines.append(f"  {username:<11} {role_name:<17} {state}")
    used = any(not line.endswith("password unchanged") for line in lines)
    shown = password if used else "(unchanged)"
    return [f"Demo users (password: {shown}):", *lines]


def _properties(session) -> list[Unit]:
    for code, name, city, address in PROJECTS:
        project = session.scalar(select(Project).where(Project.code == code))
        if project is not None:
            continue
        project = Project(code=code, name=name, city=city, address=address,
                          delivery_date=date(2025, 6, 30), move_in_date=date(2025, 9, 1))
        session.add(project)
        for b in range(1, 4):
            building = Building(project=project, name=f"{b}栋", floors=10)
            session.add(building)
            for floor in range(1, 11):
                for door in (1, 2):
                    session.add(Unit(building=building, number=f"{floor}{door:02d}", floor=floor,
                                     area=Decimal(89 + 30 * door)))
    session.flush()
    return list(session.scalars(select(Unit).order_by(Unit.id)))


def _customers(session, units: list[Unit]) -> str:
    existing = session.scalar(select(func.count(Customer.id)))
    if existing >= DEMO_CUSTOMERS:
        return f"Customers: {existing} present, none added"
    rng = random.Random(20261124 + existing)
    stages = ["potential", "intended", "signed", "future_owner", "owner", "owner", "owner", "tenant", "member"]
    for i in range(existing, DEMO_CUSTOMERS):
        born = date(1955, 1, 1) + timedelta(days=rng.randint(0, 45 * 365))
        is_company = i % 20 == 0
        customer = Customer(
            kind="company" if is_company else "person",
            name=demo_company(i // 20) if is_company else demo_name(rng),
            gender=None if is_company else rng.choice(["male", "female"]),
            id_number=None if is_company else demo_id_number(rng, born),
            mobile=demo_mobile(rng),
            phone=f"0571-{rng.randint(80000000, 89999999)}" if rng.random() < 0.3 else None,
            address=f"{rng.choice(['西湖区', '拱墅区', '上城区', '鄞州区'])}{rng.randint(1, 300)}号",
            stage=rng.choice(stages),
            main_contact=demo_name(rng) if is_company else None,
            property_contact=demo_name(rng) if is_company else None,
            birthday=None if is_company else born,
            occupation=rng.choice(["教师", "工程师", "医生", "公务员", "个体经营", "企业管理", None]),
            hobbies=rng.choice(["摄影", "羽毛球", "书法", "旅游", "园艺", None]),
        )
        session.add(customer)
        if customer.stage in ("signed", "future_owner", "owner", "member") and i < len(units):
            unit = units[i]
            session.add(CustomerUnit(customer=customer, unit=unit, purchase_date=date(2024, 1, 1) + timedelta(days=rng.randint(0, 500)),
                                     area=unit.area, amount=Decimal(rng.randint(150, 600)) * 10000))
    session.flush()
    return f"Customers: {DEMO_CUSTOMERS - existing} added ({DEMO_CUSTOMERS} in all)"


# --- complaints ---------------------------------------------------------------------------------
# About 300 complaints received over the last six months, each walked through the workflow by the demo
# user whose role takes that step (complaints.open_complaint / transition, approvals.decide), so their
# step entries, approvals and audit rows are the real ones.

DEMO_COMPLAINTS = 300
DEMO_COMPLAINT_DAYS = 180
COMMIT_EVERY = 25  # complaints per transaction (a commit expires the loaded users and their roles)


@dataclass(frozen=True)
class Topic:
    category: str
    department: str  # code of the responsible department
    content: str  # "{unit}" is replaced by the customer's unit, when there is one
    cause: str
    measures: str
    reply: str
    root_cause: str
    improvement: str
    case: tuple[str, str, str] | None = None  # case-library title, stage, category
    serious: float = 0.05  # chance of a major or crisis assessment


TOPICS = [
    Topic("engineering_quality", "ENG", "{unit}卫生间天花板渗水，楼下邻居反映已滴水三天，要求尽快维修并赔偿损失。",
          "楼上卫生间防水层破损，管根部位封堵不严。", "重做卫生间防水，闭水试验48小时；修复楼下吊顶。",
          "已重做防水并修复吊顶，闭水试验合格。", "防水施工工艺不规范，管根未做附加层。",
          "防水工程增加管根附加层验收点，闭水试验全程拍照留档。",
          ("卫生间管根渗水", "construction", "building"), 0.08),
    Topic("engineering_quality", "ENG", "{unit}客厅墙面开裂，裂缝长约一米，担心结构安全，要求工程部上门检测。",
          "填充墙与梁交接处未挂钢丝网，属抹灰层收缩裂缝，非结构裂缝。", "开槽挂网重新抹灰，重新刷漆。",
          "经检测为抹灰层裂缝，不影响结构安全，已修复。", "不同材料交接处未按规范挂网。",
          "抹灰前检查挂网，交付前增加墙面空鼓开裂专项检查。",
          ("墙面抹灰层开裂", "construction", "building"), 0.1),
    Topic("engineering_quality", "ENG", "{unit}主卧窗户密封不严，下雨时窗台渗水，木地板已泡坏。",
          "窗框与墙体间发泡胶填充不实，外侧打胶开裂。", "重新打发泡胶和外侧密封胶，更换受损地板。",
          "窗户已重新密封，淋水试验无渗漏，地板已更换。", "外窗安装打胶质量控制不足。",
          "外窗安装后逐樘淋水试验，验收合格后方可进入下道工序。",
          ("外窗渗水", "construction", "quality")),
    Topic("engineering_quality", "ENG", "{unit}厨房下水管道反复堵塞，怀疑管道坡度施工有问题。",
          "横管坡度不足且存在建筑垃圾。", "疏通并调整横管坡度。", "管道已疏通并调整坡度，排水正常。",
          "管道安装坡度未逐段复核。", "排水管安装增加坡度复核与通球试验记录。"),
    Topic("engineering_quality", "ENG", "{unit}外墙瓷砖脱落，砸坏楼下停放车辆，要求赔偿并排查整栋楼外墙。",
          "外墙砖粘结层空鼓，受热胀冷缩影响脱落。", "搭设吊篮全面排查外墙空鼓，拆除重贴；协商赔偿车辆维修费。",
          "已完成整栋外墙排查和修复，车辆维修费已赔付。", "外墙饰面砖粘结强度检测抽样不足。",
          "外墙饰面砖增加拉拔试验比例，设计阶段评估改用涂料。",
          ("外墙饰面砖脱落", "design", "quality"), 0.6),
    Topic("engineering_quality", "ENG", "{unit}阳台地漏返水，下雨天积水倒灌进客厅。",
          "阳台地面找坡方向错误，地漏高于周边地面。", "重新找坡并更换防返水地漏。",
          "阳台已重新找坡，排水顺畅。", "地面找坡未做标高复核。", "找坡施工前弹线复核标高，验收时做泼水试验。",
          ("阳台找坡错误导致倒灌", "construction", "living")),
    Topic("engineering_quality", "ENG", "{unit}地下储藏室墙面渗水发霉，存放物品受潮。",
          "地下室外墙防水卷材搭接不良。", "内侧注浆堵漏并做防霉处理。", "已注浆堵漏，持续观察两周无渗水。",
          "地下室外防水施工搭接宽度不足。", "地下室防水增加旁站监督和隐蔽验收影像资料。", None, 0.1),
    Topic("engineering_quality", "ENG", "{unit}空调孔预留位置不合理，外机无法安装。",
          "设计时空调板与孔位对应关系未核对。", "重新开孔并修补原孔。", "已按客户要求重新开孔并封堵原孔。",
          "设计阶段设备点位未与户型装修需求结合。", "设计评审增加空调、插座点位专项核查。",
          ("空调孔位与空调板不对应", "design", "living")),
    Topic("engineering_quality", "ENG", "{unit}卫生间和厨房地砖多处空鼓，敲击有空响。",
          "铺贴时砂浆不饱满。", "空鼓地砖拆除重铺。", "空鼓地砖已全部重铺，验收合格。",
          "铺贴工艺控制不足。", "分户验收时逐块敲击检查空鼓。"),
    Topic("property_management", "PM", "电梯故障频繁，{unit}所在单元本周已困人两次，要求彻底检修并公示维保记录。",
          "电梯门机系统老化，维保单位保养不到位。", "更换门机板，约谈维保单位，每月公示维保记录。",
          "电梯门机系统已更换，维保记录已在单元门口公示。", "电梯维保单位履约监督不到位。",
          "物业每月抽查电梯维保质量，困人事件纳入维保考核扣分。",
          ("电梯频繁困人", "move_in", "living"), 0.35),
    Topic("property_management", "PM", "地下车库{unit}业主的停车位被他人长期占用，物业不处理。",
          "外来车辆随访客进入后长期停放。", "张贴通知并联系车主挪车，车位加装地锁。",
          "占用车辆已挪走，车位已加装地锁。", "车库出入管理不严。", "访客车辆登记限时停放，超时通知车主。"),
    Topic("property_management", "PM", "对物业费上涨有异议，要求物业公司公示物业费收支明细。",
          "调价前未充分向业主说明成本构成。", "公示上一年度物业费收支明细，召开业主沟通会。",
          "收支明细已公示，沟通会上已解释调价依据。", "调价沟通不充分。",
          "物业费调整前提前一个月公示并召开业主沟通会。", None, 0.15),
    Topic("property_management", "PM", "楼上装修晚上十点后仍在施工，噪音严重影响{unit}业主休息。",
          "装修施工队违反装修管理规定超时施工。", "约谈装修户和施工队，巡查夜间施工。",
          "已约谈装修户，夜间施工已停止。", "装修巡查频次不足。", "晚间增加一次装修巡查，违规两次暂停装修许可。"),
    Topic("property_management", "PM", "小区绿化带长期无人修剪，杂草丛生，蚊虫很多。",
          "绿化外包单位养护频次不足。", "全面修剪绿化并消杀，督促外包单位按合同养护。",
          "绿化已修剪，蚊虫消杀已完成。", "外包养护监督不到位。", "绿化养护按周检查并拍照记录。",
          ("绿化养护不到位", "move_in", "planning")),
    Topic("property_management", "PM", "门禁系统失灵，外来人员随意进出{unit}所在单元，存在安全隐患。",
          "门禁控制器损坏，备件未及时采购。", "更换门禁控制器，加强保安巡逻。",
          "门禁已修复，单元门恢复刷卡进出。", "门禁设备备件库存不足。", "常用安防备件保持最低库存。"),
    Topic("property_management", "PM", "垃圾清运不及时，单元门口异味严重。",
          "清运车辆排班调整后遗漏该区域。", "恢复每日两次清运，清洗垃圾桶。", "已恢复每日两次清运，异味消除。",
          "清运排班调整未通知到位。", "排班调整后逐个点位核对清运频次。"),
    Topic("property_management", "PM", "夜间广场舞音响声音过大扰民，多次反映均无改善。",
          "广场活动时间和音量无管理规定。", "与活动组织者协商限定时间和音量，设置提示牌。",
          "已与活动组织者约定九点前结束并控制音量。", "公共区域活动缺少管理规则。",
          "制定公共区域活动公约并经业主大会表决。"),
    Topic("sales_service", "SALES", "购房时销售承诺赠送的储藏室至今未兑现，要求给出说法。",
          "销售人员口头承诺，未写入合同。", "核实销售录音，与客户协商补偿方案。",
          "经核实，按协商方案给予物业费减免补偿。", "销售人员违规口头承诺。",
          "销售承诺一律写入补充协议，定期抽查销售录音。",
          ("销售口头承诺未兑现", "marketing", "planning"), 0.15),
    Topic("sales_service", "SALES", "{unit}交房实测面积与合同面积差异超过3%，要求按合同退还差价。",
          "测绘面积与预售面积存在差异。", "复核测绘报告，按合同约定处理面积差价。",
          "已按合同约定退还面积差价。", "预售面积测算误差。", "预售测绘与实测测绘差异提前评估。", None, 0.2),
    Topic("sales_service", "SALES", "产权证办理进度缓慢，已超过合同约定期限，要求说明原因。",
          "综合验收备案延迟。", "向客户说明办理进度，按合同支付逾期违约金。",
          "已说明办理进度并支付逾期违约金，预计下月办结。", "办证节点计划不足。", "办证节点纳入项目计划并按月通报。"),
    Topic("sales_service", "SALES", "样板间展示的装修标准与{unit}实际交付不符。",
          "部分材料品牌因供货原因替换。", "向客户出示替换材料的同档次证明，协商补偿。",
          "已出示证明并达成补偿协议。", "材料替换未提前告知客户。", "交付标准变更须书面告知并取得客户确认。",
          ("样板间与交付标准不符", "marketing", "building")),
    Topic("customer_service", "CS", "多次拨打客服热线无人接听，对服务态度不满。",
          "高峰时段坐席不足。", "增加高峰时段值班人员，设置回拨。", "已增加值班人员并向客户致歉。",
          "热线排班未考虑高峰时段。", "按来电量统计调整排班，未接来电两小时内回拨。"),
    Topic("customer_service", "CS", "前台工作人员办理装修手续时态度冷淡，要求道歉。",
          "新员工服务规范培训不到位。", "当事员工当面致歉，组织服务礼仪培训。", "当事员工已致歉，客户表示接受。",
          "新员工上岗培训不足。", "新员工上岗前须通过服务规范考核。"),
    Topic("customer_service", "CS", "报修后一周无人回访，要求说明处理进度。",
          "报修单流转遗漏。", "跟进报修单并每日告知进度。", "报修项目已完成，已向客户说明原因。",
          "报修单缺少超时提醒。", "报修单增加超时自动提醒。"),
]
CONSULTATIONS = [
    ("咨询车位租赁价格和办理流程。", "属咨询，已告知车位租赁标准和办理流程。"),
    ("询问物业费缴纳方式和发票开具。", "属咨询，已告知缴费方式和开票流程。"),
    ("咨询装修审批需要准备哪些材料。", "属咨询，已告知装修审批材料清单。"),
    ("反映小区外市政道路积水。", "不属于公司管理范畴，已告知客户向市政部门反映并提供联系电话。"),
    ("要求物业代为处理邻里家庭纠纷。", "不属于投诉受理范围，已向客户解释并建议通过社区调解。"),
    ("咨询业主客户会入会条件。", "属咨询，已介绍客户会入会条件和权益。"),
]
CONFIRMED_HOW = ["电话回访客户，确认为有效投诉", "客户到服务中心前台当面确认", "邮件回复客户并获确认",
                 "上门与客户沟通后确认", "短信告知受理并经客户电话确认"]
POSTS = {"ENG": ("维修主管", "赵工"), "PM": ("物业主管", "孙丽"), "SALES": ("销售经理", "钱经理"),
         "CS": ("客服主管", "王建国"), "DESIGN": ("设计主管", "郑工")}
TOLD_HOW = ["电话告知客户", "短信通知客户", "上门当面告知", "微信告知客户"]
PROGRESS = ["已安排人员上门查看", "材料已到场，约定施工时间", "施工已完成一半", "已完成处理，等待验收"]
RETURN_RECORDS = ["客户对处理结果表示满意", "客户认可处理结果，建议加快响应速度", "客户表示问题已解决",
                  "客户基本满意，希望后续加强巡查"]
CHANNEL_WEIGHTS = [("hotline", 40), ("front_desk", 25), ("online", 15), ("forum", 10), ("mail", 10)]
# How many demo complaints end in each state.
STATE_COUNTS = [
    ("fed_back", 124), ("closed_unresolved", 4), ("return_visited", 30), ("closed", 25), ("replied", 15), ("handling", 25),
    ("investigating", 18), ("assessed", 12), ("confirmed", 10), ("received", 12), ("closed_invalid", 25),
]
# Age in days (received how long before now) per final state: open ones are mostly recent.
AGE_DAYS = {"fed_back": (20, DEMO_COMPLAINT_DAYS), "return_visited": (12, 120), "closed": (2, 16), "replied": (2, 14),
            "handling": (1, 16), "investigating": (0.5, 6), "assessed": (0.2, 3), "confirmed": (0.1, 2),
            "received": (0.0, 1.5), "closed_invalid": (0.5, DEMO_COMPLAINT_DAYS),
            "closed_unresolved": (20, 150)}
PATH = ("confirm", "assess", "assign", "start_handling", "reply", "close", "return_visit", "feed_back")
STOP_AFTER = {"received": 0, "confirmed": 1, "assessed": 2, "investigating": 3, "handling": 4, "replied": 5,
              "closed": 6, "return_visited": 7, "fed_back": 8, "closed_unresolved": 4}
# Hours between one step and the next (low, high), before fitting the walk between receipt and now.
GAP_HOURS = {"acknowledge": (0.05, 0.5), "confirm": (0.3, 3), "close_invalid": (0.3, 3), "assess": (1, 8), "decide": (4, 30),
             "assign": (0.5, 4), "start_handling": (8, 72), "add_progress": (24, 96), "reply": (24, 120),
             "close": (8, 48), "close_unresolved": (24, 96), "return_visit": (24, 150), "feed_back": (24, 120)}


@dataclass
class DemoComplaint:
    received_at: datetime
    final: str
    channel: str
    customer_id: int
    unit_id: int | None
    topic: Topic | None
    content: str
    receiver: str
    severity: str = "general"
    rehandlings: int = 0
    plan_rejected: bool = False
    with_case: bool = False
    invalid_explanation: str = ""
    steps: list = field(default_factory=list)  # (hours after the previous step, action, username, fields)


@contextmanager
def _demo_clock(start: datetime):
    """Demo records are walked through their steps at the moments those would have happened: the
    domain's clock (calendar.local_now) reads a time the loader moves on. Audit times stay real."""
    moment = {"now": start}
    with calendar.clock(lambda: moment["now"]):
        yield moment


def _complaints(session, appbuilder, now: datetime, wanted: int) -> str:
    existing = session.scalar(select(func.count(Complaint.id)))
    if existing >= wanted:
        return f"Complaints: {existing} present, none added"
    sm = appbuilder.sm
    users = {name: sm.find_user(username=name) for name in ("cs_staff", "cs_manager", "eng_staff", "pm_staff", "gm")}
    departments = {d.code: d.id for d in session.scalars(select(Department))}
    office = OfficeHours(session)
    plans = _plan_complaints(session, now, office)[existing:wanted]
    with _demo_clock(now) as clock:
        for start in range(0, len(plans), COMMIT_EVERY):
            with records.unit_of_work(session):
                for plan in plans[start:start + COMMIT_EVERY]:
                    _walk(session, plan, users, departments, clock, now, office)
    return f"Complaints: {len(plans)} added ({existing + len(plans)} in all)"


def _plan_complaints(session, now: datetime, office: OfficeHours) -> list[DemoComplaint]:
    """The same complaints for the same database every time (a seeded random generator), each received
    in office hours (an online complaint of the night is taken in the next morning)."""
    rng = random.Random(20261125)
    customers = list(session.execute(select(Customer.id, func.min(CustomerUnit.unit_id).label("unit_id"))
                                     .outerjoin(CustomerUnit, CustomerUnit.customer_id == Customer.id)
                                     .group_by(Customer.id).order_by(Customer.id)))
    owners = [c for c in customers if c.unit_id is not None] or customers
    unit_names = {row.id: f"{row.project}{row.building}{row.number}室" for row in session.execute(
        select(Unit.id, Unit.number, Building.name.label("building"), Project.name.label("project"))
        .join(Building, Unit.building_id == Building.id).join(Project, Building.project_id == Project.id))}
    finals = [state for state, count in STATE_COUNTS for _ in range(count)]
    rng.shuffle(finals)
    channels = [c for c, _w in CHANNEL_WEIGHTS]
    weights = [w for _c, w in CHANNEL_WEIGHTS]
    plans = []
    for i, final in enumerate(finals):
        low, high = AGE_DAYS[final]
        day = (now - timedelta(days=rng.uniform(low, high))).date()
        received = office.at_minute(day, rng.choice((10, 30, 60, 90, 120, 150, 200, 300, 330, 360, 420, 480, 540))
                                    + rng.randrange(30))
        latest = office.backward(now - timedelta(minutes=30))
        if received > latest:
            received = office.backward(latest - timedelta(minutes=rng.randint(0, 210))).replace(second=0, microsecond=0)
        customer = rng.choice(owners if rng.random() < 0.8 else customers)
        unit = unit_names.get(customer.unit_id, "")
        channel = channels[i] if i < len(channels) else rng.choices(channels, weights)[0]
        receiver = "cs_staff" if rng.random() < 0.75 else "cs_manager"
        if final == "closed_invalid":
            content, explanation = rng.choice(CONSULTATIONS)
            plans.append(DemoComplaint(received, final, channel, customer.id, customer.unit_id, None, content,
                                       receiver, invalid_explanation=explanation))
            continue
        topic = rng.choice(TOPICS)
        plan = DemoComplaint(received, final, channel, customer.id, customer.unit_id, topic,
                             topic.content.format(unit=unit or "本户"), receiver)
        if STOP_AFTER[final] >= 2 and rng.random() < topic.serious:
            plan.severity = "crisis" if rng.random() < 0.2 else "major"
            plan.plan_rejected = rng.random() < 0.15
        if STOP_AFTER[final] >= 4 and rng.random() < 0.12:
            plan.rehandlings = 1 if rng.random() < 0.8 else 2
        plan.with_case = final == "fed_back" and topic.case is not None and rng.random() < 0.5
        plans.append(plan)
    # Make sure the GM's queue and the re-handlings are never empty, whatever the draw.
    _ensure(plans, "assessed", lambda p: p.severity != "general" and not p.plan_rejected, 3,
            lambda p: setattr(p, "severity", "major"))
    _ensure(plans, "replied", lambda p: p.severity != "general", 2, lambda p: setattr(p, "severity", "crisis"))
    _ensure(plans, "fed_back", lambda p: p.severity != "general", 4, lambda p: setattr(p, "severity", "major"))
    _ensure(plans, "handling", lambda p: p.rehandlings, 3, lambda p: setattr(p, "rehandlings", 1))
    for plan in plans:
        plan.steps = _steps(plan, rng)
    plans.sort(key=lambda p: p.received_at)  # numbered in the order they came in
    return plans


def _ensure(plans, final, present, count, make) -> None:
    have = [p for p in plans if p.final == final and present(p)]
    for plan in [p for p in plans if p.final == final and not present(p)][: max(0, count - len(have))]:
        make(plan)


def _steps(plan: DemoComplaint, rng: random.Random) -> list[tuple]:
    """The walk: (hours after the previous step, action, username, fields). `decide` is the GM's decision."""
    topic, first = plan.topic, plan.receiver
    serious = plan.severity != "general"
    department = (topic.department if topic else "CS")
    doer = {"ENG": "eng_staff", "PM": "pm_staff"}.get(department, "cs_manager")
    steps = []

    def add(action, username, fields=None):
        low, high = GAP_HOURS["decide" if action.startswith("decide") else action]
        steps.append((rng.uniform(low, high), action, username, fields or {}))

    if plan.final == "closed_invalid":
        add("close_invalid", first, {"invalid_explanation": plan.invalid_explanation})
        return steps
    stop = STOP_AFTER[plan.final]
    if rng.random() < 0.9:  # 受理回执: most are acknowledged at once; a few wait (overdue on the demo's day)
        add("acknowledge", first, {"acknowledged_how": rng.choice(("phone", "phone", "on_site"))})
    for action in PATH[:stop]:
        if action == "confirm":
            add("confirm", first, {"confirmed_how": rng.choice(CONFIRMED_HOW)})
        elif action == "assess":
            fields = {"severity": plan.severity, "category": topic.category}
            if serious:
                fields |= {"legal_opinion": "法务意见：先行委托第三方鉴定，按合同和相关法规承担责任，避免书面承诺超出合同范围。",
                           "handling_plan": f"{topic.measures}由{POSTS[department][1]}牵头，每周向客户通报进度。"}
            assessor = "cs_manager" if serious else first
            add("assess", assessor, fields)
            if serious:
                if plan.plan_rejected:
                    add("decide_plan_reject", "gm")
                    add("assess", assessor, fields | {"handling_plan": fields["handling_plan"] + "（已按总经理意见补充赔偿上限）"})
                if stop > 2:
                    add("decide_plan", "gm")
        elif action == "assign":
            post, person = POSTS[department]
            add("assign", "cs_manager", {"department_id": department, "assigned_post": post, "assigned_person": person})
        elif action == "start_handling":
            deadline = (plan.received_at + timedelta(days=rng.randint(8, 20))).date()
            add("start_handling", doer, {"cause_analysis": topic.cause, "report": f"现场调查报告：{topic.cause}",
                                         "measures": topic.measures, "handling_person": POSTS[department][1],
                                         "handling_deadline": deadline.isoformat()})
            for _ in range(rng.choice((0, 1, 1, 2))):
                add("add_progress", doer, {"progress_note": rng.choice(PROGRESS), "customer_told_how": rng.choice(TOLD_HOW)})
            if stop == 4:
                for _ in range(plan.rehandlings):  # still handling after a rejected reply
                    _rejected_reply(add, first, doer, rng)
        elif action == "reply":
            for _ in range(plan.rehandlings):
                _rejected_reply(add, first, doer, rng)
            add("reply", first, {"reply_result": topic.reply, "customer_accepted": True,
                                 "satisfaction": rng.choice((3, 4, 4, 5, 5))})
            if serious and plan.final == "replied":  # the closing waits in the GM's queue
                add("close", "cs_manager", {"department_signed_off": True, "person_signed_off": True})
        elif action == "close":
            add("close", "cs_manager", {"department_signed_off": True, "person_signed_off": True})
            if serious:
                add("decide_close", "gm")
        elif action == "return_visit":
            add("return_visit", first, {"return_visit_method": rng.choice(("phone", "phone", "on_site")),
                                        "return_visit_record": rng.choice(RETURN_RECORDS),
                                        "return_visit_satisfaction": rng.choice((3, 4, 5, 5)),
                                        "return_visit_process_satisfaction": rng.choice((3, 4, 4, 5))})
        elif action == "feed_back":
            fields = {"root_cause": topic.root_cause, "improvement": topic.improvement}
            if plan.with_case:
                title, stage, category = topic.case
                fields |= {"case_title": title, "case_stage": stage, "case_category": category,
                           "case_lesson": topic.improvement}
            add("feed_back", "cs_manager", fields)
    if plan.final == "closed_unresolved":  # the customer wants more than the contract gives: routes explained
        add("close_unresolved", "cs_manager", {
            "unresolved_position": f"{topic.measures}已按合同和国家标准完成，客户要求的额外赔偿超出合同约定，公司无法满足。",
            "unresolved_routes": ["internal", "hotline_12345", "consumer_association"],
            "customer_told_how": rng.choice(TOLD_HOW)})
        if serious:
            add("decide_close_unresolved", "gm")
    return steps


def _rejected_reply(add, first, doer, rng) -> None:
    add("reply", first, {"reply_result": "已初步处理，待客户确认。", "customer_accepted": False,
                         "satisfaction": rng.choice((1, 2))})
    add("add_progress", doer, {"progress_note": "客户不认可处理结果，重新安排处理", "customer_told_how": rng.choice(TOLD_HOW)})


def _walk(session, plan: DemoComplaint, users, departments, clock, now: datetime, office: OfficeHours) -> None:
    """Each step an office-time gap after the one before (a gap of a day is about an office day), the
    whole walk squeezed into the office time between the receipt and now when it would not fit."""
    clock["now"] = plan.received_at
    complaint = complaints.open_complaint(session, users[plan.receiver], channel=plan.channel,
                                          customer_id=plan.customer_id, content=plan.content,
                                          received_at=plan.received_at, unit_id=plan.unit_id)
    total = sum(hours for hours, *_ in plan.steps) * 60 * OFFICE_SHARE
    room = office.between(plan.received_at, now) - 15 - 3 * plan.received_at.minute  # a squeezed walk ends before now
    scale = max(0.0, min(1.0, room / total)) if total else 1.0
    moment = plan.received_at
    for hours, action, username, fields in plan.steps:
        moment = office.add(moment, hours * 60 * OFFICE_SHARE * scale)
        clock["now"] = moment.replace(microsecond=0)
        actor = users[username]
        if action.startswith("decide"):
            kind = {"decide_close": "complaint_close", "decide_close_unresolved": "complaint_close_unresolved"}.get(
                action, "complaint_plan")
            approval = approvals.pending_for(session, complaint, kind)
            if action == "decide_plan_reject":
                approvals.decide(session, approval, "reject", "赔偿方案超出合同约定，请补充赔偿上限后重新报批。", actor)
            else:
                approvals.decide(session, approval, "approve", "同意", actor)
            continue
        if action == "assign":
            fields = fields | {"department_id": departments[fields["department_id"]]}
        if action == "start_handling":
            fields = _deadline_rules(complaint, clock["now"], fields)
        complaints.transition(session, complaint, action, actor, complaint.version, fields)


def _deadline_rules(complaint, now: datetime, fields: dict) -> dict:
    """The demo's handling deadline as a clerk would set it: not before the day it is set, and with the
    reason when it falls after the complaint's close-by deadline (app.domain.complaints)."""
    deadline = max(date.fromisoformat(fields["handling_deadline"]), now.date() + timedelta(days=1))
    fields = fields | {"handling_deadline": deadline.isoformat()}
    if complaint.close_due_at is not None and deadline > complaint.close_due_at.date():
        fields["deadline_reason"] = "需等待材料到货及第三方检测，已与客户沟通并取得同意。"
    return fields


# --- visits -------------------------------------------------------------------------------------------

DEMO_VISITS = 24
# (final state, how many, age in days of the visit, rectification items that need a second round)
VISIT_PLAN = [("archived", 2, 75, 0), ("summarised", 3, 60, 1), ("return_visited", 5, 40, 1),
              ("rectifying", 7, 14, 2), ("visited", 3, 2, 0), ("planned", 4, -3, 0)]
VISIT_OPINIONS = {
    "security": ("夜间巡逻频次不够，希望增加", "门岗登记认真，访客管理规范"),
    "cleaning": ("大堂地面下雨天湿滑，清洁不及时", "公共区域保洁到位"),
    "greening": ("楼前草坪有枯黄，需补种", "绿化修剪及时"),
    "maintenance": ("报修后维修人员上门较慢", "报修响应快，维修质量好"),
    "equipment": ("电梯高峰期等候时间过长", "空调运行正常"),
    "parking": ("地下车库照明不足，车位线模糊", "停车引导有序"),
    "reception": ("前台接待时有等候", "前台接待热情"),
    "other": ("希望小区附近增加公交线路", "无"),
}
OUT_OF_SCOPE = {"other": "公交线路由公交公司规划，已向客户解释并表示会反映给街道"}
MEASURES = {
    "security": ("PM", "调整巡逻路线，夜间巡逻由两次增至四次"), "cleaning": ("PM", "雨天在大堂入口铺设防滑垫并增加拖地频次"),
    "greening": ("PM", "补种草皮并加强养护"), "maintenance": ("ENG", "报修 30 分钟内响应，当日上门"),
    "equipment": ("ENG", "高峰期开启全部电梯并调整群控参数"), "parking": ("ENG", "更换地库灯具并重新划线"),
    "reception": ("PM", "高峰时段增加一名前台人员"),
}


def _visits(session, appbuilder, now: datetime) -> str:
    existing = session.scalar(select(func.count()).select_from(Visit))
    if existing >= DEMO_VISITS:
        return f"Visits: {existing} present, none added"
    sm = appbuilder.sm
    users = {name: sm.find_user(username=name) for name in ("cs_staff", "cs_manager", "eng_staff", "pm_staff", "gm")}
    departments = {d.code: d.id for d in session.scalars(select(Department))}
    rng = random.Random(20261124)
    customers = list(session.execute(select(Customer.id, Customer.kind, func.min(CustomerUnit.unit_id))
                                     .join(CustomerUnit, CustomerUnit.customer_id == Customer.id)
                                     .group_by(Customer.id, Customer.kind).order_by(Customer.id)))
    companies = [c for c in customers if c.kind == "company"] or customers
    made, summarised = 0, []
    office = OfficeHours(session)
    with _demo_clock(now) as clock:
        clock["real"] = now
        for state, count, age, second_rounds in VISIT_PLAN:
            for i in range(count):
                customer = companies[(made * 7) % len(companies)] if made % 3 else customers[(made * 11) % len(customers)]
                # a visit at 9, 10, 14 or 15 o'clock of a working day (a weekend's moves to the Friday)
                start = office.at_minute((now - timedelta(days=age + i * 3)).date(),
                                         60 * rng.choice((9, 10, 14, 15)) - 510)
                with records.unit_of_work(session):
                    visit = _walk_visit(session, rng, users, departments, clock, customer, start, state,
                                        second_round=i < second_rounds, office=office)
                made += 1
                if state in ("summarised", "archived"):
                    summarised.append(visit)
        if summarised:
            _summarise(session, users, clock, summarised, now, office)
    # The return visits are scheduled and the first ones recorded at the last office moment until now.
    with calendar.clock_at(office.backward(now)), audit.acting_as(session, users["cs_staff"]), \
            records.unit_of_work(session):
        project = session.scalars(select(Project).order_by(Project.id)).first()
        project.delivery_date, project.move_in_date = (now - timedelta(days=120)).date(), (now - timedelta(days=100)).date()
        session.flush()
        scheduled = visits.schedule_project_return_visits(session, project, users["cs_staff"])
    with calendar.clock_at(office.backward(now)), records.unit_of_work(session):
        due = session.scalars(select(ReturnVisit).where(ReturnVisit.project_id == project.id,
                                                               ReturnVisit.kind == "delivery")
                              .order_by(ReturnVisit.id).limit(12)).all()
        for record in due:
            visits.record_return_visit(session, record, users["cs_staff"], record.version, {
                "method": rng.choice(("phone", "on_site")), "record": rng.choice(RETURN_RECORDS),
                "satisfaction": rng.choice((4, 5, 5, 3))})
    return f"Visits: {made} added; {scheduled} delivery and move-in return visits scheduled"


def _walk_visit(session, rng, users, departments, clock, customer, start, state, second_round, office):
    latest = office.backward(clock["real"] - timedelta(hours=1))

    def at(moment):  # the step in office hours, never later than now
        return min(office.forward(moment), latest)

    clock["now"] = office.backward(min(start - timedelta(days=3), latest))  # planned ahead
    visit = visit_planning.plan_visit(session, users["cs_staff"], customer_id=customer.id, planned_at=start,
                                      unit_id=customer[2], contact_post="行政经理" if customer.kind == "company" else None,
                                      contact_phone=f"0571-8{rng.randint(1000000, 9999999)}")
    if state == "planned":
        return visit
    clock["now"] = start
    codes = list(VISIT_OPINIONS)
    wrong = rng.sample([c for c in codes if c in MEASURES], 2 if second_round or rng.random() < 0.5 else 1)
    items = []
    for code in codes:
        if code in OUT_OF_SCOPE and rng.random() < 0.4:
            items.append({"service_item": code, "result": "out_of_scope", "opinion": VISIT_OPINIONS[code][0],
                          "explanation": OUT_OF_SCOPE[code]})
        elif code in wrong:
            items.append({"service_item": code, "result": "non_conforming", "opinion": VISIT_OPINIONS[code][0]})
        elif code != "other":
            items.append({"service_item": code, "result": "qualified", "opinion": VISIT_OPINIONS[code][1]})
    visits.transition(session, visit, "visit", users["cs_staff"], visit.version,
                      {"items": items, "visited_at": start, "opinions": "总体满意，希望物业响应再快一些"})
    if state == "visited":
        return visit
    clock["now"] = at(start + timedelta(days=1))
    nc = [item for item in visit.items if item.result == "non_conforming"]
    visits.transition(session, visit, "rectify", users["cs_manager"], visit.version, {"rectifications": [
        {"item_id": item.id, "department_id": departments[MEASURES[item.service_item][0]],
         "measure": MEASURES[item.service_item][1], "responsible_person": "赵工" if MEASURES[item.service_item][0] == "ENG" else "孙丽",
         "deadline": (clock["now"] + timedelta(days=rng.randint(4, 8))).date(), "tenant_consulted": rng.random() < 0.5}
        for item in nc]})
    items_done = state != "rectifying"
    for n, item in enumerate(visit.rectifications):
        worker = users["eng_staff"] if item.department_id == departments["ENG"] else users["pm_staff"]
        clock["now"] = at(start + timedelta(days=2, hours=n))
        visits.rectification_transition(session, item, "report_progress", worker, item.version,
                                        {"note": "已安排人员现场处理", "customer_told": True, "told_how": "电话"})
        if not items_done and n % 2 == 1 and not second_round:
            continue  # still being rectified (overdue if its deadline has passed)
        clock["now"] = at(start + timedelta(days=4, hours=n))
        visits.rectification_transition(session, item, "complete", worker, item.version,
                                        {"note": "整改完成", "customer_told": True, "told_how": "上门告知"})
        clock["now"] = at(start + timedelta(days=5, hours=n))
        if second_round and n == 0:
            visits.rectification_transition(session, item, "reject", users["cs_staff"], item.version, {
                "note": "客户认为效果不明显，要求再次整改", "measure": MEASURES[item.item.service_item][1] + "（加强版）",
                "deadline": (clock["now"] + timedelta(days=6)).date()})
            if not items_done:
                continue  # the second round is under way
            clock["now"] = at(start + timedelta(days=9, hours=n))
            visits.rectification_transition(session, item, "complete", worker, item.version,
                                            {"note": "第二轮整改完成", "customer_told": True, "told_how": "电话"})
            clock["now"] = at(start + timedelta(days=10, hours=n))
        if items_done or n % 3 == 2:
            visits.rectification_transition(session, item, "accept", users["cs_staff"], item.version,
                                            {"note": "客户满意"})
    if state == "rectifying":
        return visit
    clock["now"] = at(start + timedelta(days=12))
    visits.transition(session, visit, "return_visit", users["cs_staff"], visit.version, {
        "return_visit_method": rng.choice(("phone", "on_site")), "return_visit_record": rng.choice(RETURN_RECORDS),
        "satisfaction": rng.choice((4, 5, 5)), "effect_confirmed": True})
    return visit


def _summarise(session, users, clock, summarised, now, office):
    from app import printing

    first = min(v.visited_at for v in summarised).date()
    last = max(v.visited_at for v in summarised).date()
    clock["now"] = office.forward(datetime.combine(last, datetime.min.time()) + timedelta(days=14, hours=10))
    with records.unit_of_work(session):
        summary = visits.draft_summary(session, users["cs_manager"], first, last)
        visits.submit_summary(session, summary, users["cs_manager"], summary.version)
    clock["now"] = office.forward(clock["now"] + timedelta(days=1))
    with records.unit_of_work(session):
        approvals.decide(session, approvals.pending_for(session, summary), "approve",
                         "已阅。地库照明问题请工程部列入本季度重点整改。", users["gm"])
    for visit in summarised:
        session.refresh(visit)
    archived = [v for v in summarised if v.visited_at <= min(x.visited_at for x in summarised) + timedelta(days=4)][:2]
    for visit in archived:
        clock["now"] = office.add(clock["now"], 120)
        with records.unit_of_work(session):
            printing.print_visit_forms(session, visit, users["cs_staff"], full_data=False, printed_at=clock["now"])
            visits.transition(session, visit, "archive", users["cs_staff"], visit.version)


# --- the customer club (issue 15) ---------------------------------------------------------------------------

CLUB_STATES = (("applied", 8), ("reviewed", 6), ("card_issued", 6), ("lapsed", 5), ("cancelled", 5), ("active", 70))
CLUB_MEMBERS = 100  # the rest applicants whose review finds them ineligible (cancelled with the reason)
CLUB_WALK = {"applied": (), "reviewed": ("review",), "card_issued": ("review", "issue_card"),
             "active": ("review", "issue_card", "activate"), "lapsed": ("review", "issue_card", "activate", "lapse"),
             "cancelled": ("review", "cancel")}
CLUB_ACTIVITIES = (  # title, days from now, points, how far it got
    ("新春联谊会", -75, 20, "closed"), ("亲子植树", -45, 15, "closed"), ("端午包粽子", -20, 10, "awarded"),
    ("业主读书会", -3, 10, "held"), ("中秋赏月晚会", 12, 20, "scheduled"), ("重阳登高", 30, 15, "scheduled"),
)


def _club(session, appbuilder, now: datetime) -> str:
    """About 100 members in every state, an approved plan per year, activities past and coming with
    attendance and awards, a few redemptions and one reversal. No card is printed (no PDFs in the demo)."""
    from app.domain.club import activities, eligibility, members, plans, points
    from app.models import Member

    existing = session.scalar(select(func.count()).select_from(Member))
    if existing:
        return f"Club: {existing} members present, none added"
    sm = appbuilder.sm
    staff, manager, gm = (sm.find_user(username=n) for n in ("cs_staff", "cs_manager", "gm"))
    everyone = list(session.scalars(select(Customer).order_by(Customer.id)))
    customers = [c for c in everyone if eligibility.eligibility(session, c).eligible]
    made, active = 0, []
    with records.unit_of_work(session):
        for customer in [c for c in everyone if c not in customers][:max(0, CLUB_MEMBERS - len(customers))]:
            member = members.apply(session, staff, customer.id)
            members.transition(session, member, "review", staff, member.version)
        for state, count in CLUB_STATES:
            for _ in range(count):
                if made >= len(customers):
                    break
                member = members.apply(session, staff, customers[made].id, hobbies=("书法", "摄影", "登山", "园艺")[made % 4])
                made += 1
                for action in CLUB_WALK[state]:
                    values = {"reason": "会员要求" if action == "cancel" else "一年未参加活动"} \
                        if action in ("lapse", "cancel") else {}
                    members.transition(session, member, action, staff, member.version, values)
                if state == "active":
                    active.append(member)
    plans_by_year = {}
    for title, days, award, final in CLUB_ACTIVITIES:
        starts = (now + timedelta(days=days)).replace(hour=14, minute=0, second=0, microsecond=0)
        if starts.year not in plans_by_year:
            with records.unit_of_work(session):
                plan = plans.create(session, manager, starts.year, f"{starts.year} 年客户会活动计划", [
                    {"theme": t, "month": m, "customer_group": "全体会员", "activity_type": "联谊"}
                    for t, m in (("新春联谊", 2), ("亲子植树", 3), ("端午", 6), ("中秋", 9), ("重阳", 10))])
                plans.transition(session, plan, "submit", manager, plan.version)
                approvals.decide(session, approvals.pending_for(session, plan), "approve", "同意", gm)
            plans_by_year[starts.year] = plan
        with records.unit_of_work(session):
            activity = activities.schedule(session, staff, {
                "plan_id": plans_by_year[starts.year].id, "title": title, "starts_at": starts, "points": award,
                "place": "会所多功能厅", "responsible_id": staff.id, "implementation_plan": "报名、签到、活动、合影"})
            if final != "scheduled":
                for member in active[(days % 7) + 3:(days % 7) + 3 + 12]:
                    activities.record_attendance(session, activity, staff, card_number=member.card_number)
                activities.transition(session, activity, "hold", staff, activity.version,
                                      {"held_at": starts + timedelta(hours=2)})
            if final in ("awarded", "closed"):
                activities.transition(session, activity, "award", staff, activity.version)
            if final == "closed":
                activities.transition(session, activity, "close", staff, activity.version,
                                      {"summary": "活动顺利举行，会员参与踊跃。", "evaluation": "满意度高；下次提前一周报名。"})
    redeemed = 0
    with records.unit_of_work(session):
        for member in active[3:8]:
            if points.balance(session, member.id) >= 10:
                points.change(session, member.id, staff, "redeem", 10, "兑换精美礼品", f"demo-redeem-{member.id}")
                redeemed += 1
        wrong = points.change(session, active[0].id, staff, "adjust", 50, "录入错误（演示冲正）",
                              f"demo-adjust-{active[0].id}").entry
        points.reverse(session, wrong.id, staff, "冲正录入错误")
    made = session.scalar(select(func.count()).select_from(Member))
    return f"Club: {made} members, {len(CLUB_ACTIVITIES)} activities, {redeemed} redemptions, 1 reversal"
