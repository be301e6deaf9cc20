"""Demo data: departments, two projects, ~200 customers, one user per role (idempotent)."""

from __future__ import annotations

import random
import secrets
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app import audit
from app.domain import records
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
from app.models import Building, Customer, CustomerUnit, Department, Project, Unit, UserDepartment

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
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志文玉兰红梅海燕晓东雪梅国华春燕子轩浩然欣怡梓涵一诺宇航思远佳琪"
REGIONS = ["330106", "330102", "330212", "110101", "310104", "440305", "320102", "510107"]
MOBILE_PREFIXES = ["138", "139", "135", "137", "150", "151", "186", "187", "177", "199"]
DEMO_CUSTOMERS = 200


def demo_id_number(rng: random.Random, born: date) -> str:
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first17 + id_number_check_digit(first17)


def demo_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"


def demo_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def load_demo(session, appbuilder, password: str | None) -> list[str]:
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
    return report


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
            name=(rng.choice(["杭州", "宁波", "浙江"]) + rng.choice(["恒达", "金桥", "华元", "新远"]) + "贸易有限公司")
            if is_company else demo_name(rng),
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
