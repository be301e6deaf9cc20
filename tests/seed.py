"""The least a domain test needs on a freshly migrated database: the departments, one user per role
(the demo's logins and names, so that `users` and the role rules read as in SPEC §10), one project
with a few units, and three customers — a person who holds a unit, a company that holds one, and a
person who holds none. No complaints, visits, calendar or anything else the demo would load."""

from datetime import date
from decimal import Decimal

from app import audit
from app.demo import DEPARTMENTS, USERS
from app.domain import records
from app.models import Building, Customer, CustomerUnit, Department, Project, Unit, UserDepartment


def seed_minimal(session, appbuilder, password: str) -> None:
    sm = appbuilder.sm
    with audit.acting_as(session, audit.SYSTEM), records.unit_of_work(session):
        departments = {code: Department(code=code, name=name, is_customer_service=is_cs)
                       for code, name, is_cs in DEPARTMENTS}
        session.add_all(departments.values())
    for username, role_name, dept_code, family, given in USERS:
        user = sm.add_user(username, family + given, "", f"{username}@kefu.example", sm.find_role(role_name), password)
        assert user, f"could not add {username}"
        if dept_code:
            with audit.acting_as(session, audit.SYSTEM), records.unit_of_work(session):
                session.add(UserDepartment(user_id=user.id, department_id=departments[dept_code].id))
    with audit.acting_as(session, sm.find_user(username="admin")), records.unit_of_work(session):
        project = Project(code="TST", name="试验花园", city="杭州", address="西湖区试验路 1 号",
                          delivery_date=date(2025, 6, 30), move_in_date=date(2025, 9, 1))
        building = Building(project=project, name="1栋", floors=3)
        units = [Unit(building=building, number=f"{floor}01", floor=floor, area=Decimal(100)) for floor in (1, 2, 3)]
        person = Customer(kind="person", name="张三", gender="male", id_number="11010519491231002X",
                          mobile="13800000001", stage="owner")
        company = Customer(kind="company", name="杭州试验贸易有限公司", mobile="13800000002", stage="owner",
                           main_contact="李四", property_contact="王五")
        prospect = Customer(kind="person", name="赵六", gender="female", mobile="13800000003", stage="potential")
        session.add_all([project, building, *units, person, company, prospect,
                         CustomerUnit(customer=person, unit=units[0], area=Decimal(100)),
                         CustomerUnit(customer=company, unit=units[1], area=Decimal(100))])
