"""The department form: an unticked "customer-service department" box is a valid answer."""

from sqlalchemy import select

from app.extensions import db
from app.models import Department


def test_admin_adds_a_department_that_is_not_customer_service(app, login):
    response = login("admin").post("/department/add", data={"code": "QA", "name": "质量管理部"})
    assert response.status_code == 302
    with app.app_context():
        department = db.session.scalar(select(Department).where(Department.code == "QA"))
        assert department is not None and department.is_customer_service is False
        db.session.remove()
