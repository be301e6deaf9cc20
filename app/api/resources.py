"""REST resources (SPEC §10 names: /api/v1/customer/, ...)."""

from __future__ import annotations

from flask_appbuilder.api import expose, protect, safe
from flask_appbuilder.security.decorators import permission_name

from app.domain import imports, privacy
from app.domain.errors import DomainError, NotFoundError
from app.extensions import db
from app.labels import CUSTOMER, ORG, PROPERTY
from app.models import Building, Customer, CustomerUnit, Department, Project, Unit
from app.views.base import KefuInterface

from .base import DomainModelRestApi, json_object
from .documented import BINARY, documented
from .imports import ImportAnswerSchema, ImportBodySchema, answer, import_customers, xlsx_response

CUSTOMER_FIELDS = [
    "name", "kind", "gender", "id_number", "mobile", "phone", "email", "address", "stage", "main_contact",
    "main_contact_phone", "property_contact", "property_contact_phone", "certificate_number",
    "certificate_issued_on", "birthday", "age_band", "income_band", "housing", "education", "occupation",
    "family", "social_activities", "hobbies", "important_dates", "remarks",
]


class CustomerApi(DomainModelRestApi):
    resource_name = "customer"
    datamodel = KefuInterface(Customer)
    label_columns = CUSTOMER
    list_columns = ["name", "kind", "stage", "gender", "mobile", "phone", "id_number", "certificate_number",
                    "updated_at"]
    show_columns = [*CUSTOMER_FIELDS, "created_at", "updated_at"]
    add_columns = CUSTOMER_FIELDS
    edit_columns = CUSTOMER_FIELDS
    search_columns = ["name", "mobile", "phone", "id_number", "stage", "kind", "certificate_number"]
    order_columns = ["id", "name", "stage", "updated_at"]
    openapi_spec_methods = {"reveal": {"post": {"summary": "Reveal one personal-data field (audited)"}}}

    @expose("/<int:pk>/reveal", methods=["POST"])
    @protect()
    @safe
    @permission_name("get")
    def reveal(self, pk):
        """Reveal one personal-data field; the reveal is recorded in the audit trail.
        ---
        post:
          parameters:
          - in: path
            name: pk
            schema: {type: integer}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    field: {type: string, enum: [id_number, mobile, phone, main_contact_phone, property_contact_phone]}
          responses:
            200: {description: The full value}
            403: {$ref: '#/components/responses/401'}
            404: {$ref: '#/components/responses/404'}
        """
        try:
            field = json_object().get("field", "")
            item = self.datamodel.get(pk, self._base_filters)
            if item is None:
                raise NotFoundError()
        except DomainError as err:
            return self.domain_error(err)
        return self.write(lambda: privacy.reveal(db.session, item, field, self.actor()),
                          lambda value: self.response(200, field=field, value=value))

    @expose("/import", methods=["POST"])
    @documented(ImportAnswerSchema, body=ImportBodySchema, body_media="multipart/form-data", refusals=(403, 422))
    @protect()
    @safe
    @permission_name("post")
    def import_(self):
        """Import customers (and the unit each holds) from an .xlsx sheet; dry_run=true only checks.

        Every invalid row is named (row, column, reason) and nothing is written until the whole file is
        valid; then every row in one transaction with its audit rows. A row whose ID number is an existing
        customer's updates that customer. The template: GET /customer/import/template (the page)."""
        return self.write(lambda: import_customers(self.actor()), lambda outcome: answer(self, outcome))

    @expose("/import/template", methods=["GET"])
    @documented(BINARY)
    @protect()
    @safe
    @permission_name("post")
    def import_template(self):
        """The import template: an .xlsx sheet with the Chinese headers and one example row."""
        return xlsx_response(imports.template(), "customer-import-template.xlsx")


class CustomerUnitApi(DomainModelRestApi):
    resource_name = "customer_unit"
    datamodel = KefuInterface(CustomerUnit)
    label_columns = PROPERTY
    list_columns = ["customer_id", "unit_id", "purchase_date", "area", "amount"]
    show_columns = ["customer_id", "unit_id", "purchase_date", "area", "amount"]
    add_columns = ["customer", "unit", "purchase_date", "area", "amount"]
    edit_columns = ["purchase_date", "area", "amount"]
    search_columns = ["purchase_date"]


class ProjectApi(DomainModelRestApi):
    resource_name = "project"
    datamodel = KefuInterface(Project)
    label_columns = PROPERTY
    list_columns = show_columns = ["code", "name", "city", "address", "delivery_date", "move_in_date"]
    add_columns = edit_columns = ["code", "name", "city", "address", "delivery_date", "move_in_date"]
    search_columns = ["code", "name", "city"]


class BuildingApi(DomainModelRestApi):
    resource_name = "building"
    datamodel = KefuInterface(Building)
    label_columns = PROPERTY
    list_columns = show_columns = ["project_id", "project.name", "name", "floors"]
    add_columns = ["project", "name", "floors"]
    edit_columns = ["name", "floors"]
    search_columns = ["name"]


class UnitApi(DomainModelRestApi):
    resource_name = "unit"
    datamodel = KefuInterface(Unit)
    label_columns = PROPERTY
    list_columns = show_columns = ["building_id", "building.name", "number", "floor", "area"]
    add_columns = ["building", "number", "floor", "area"]
    edit_columns = ["number", "floor", "area"]
    search_columns = ["number", "floor"]


class DepartmentApi(DomainModelRestApi):
    resource_name = "department"
    datamodel = KefuInterface(Department)
    label_columns = ORG
    list_columns = show_columns = ["code", "name", "is_customer_service"]
    add_columns = edit_columns = ["code", "name", "is_customer_service"]
    search_columns = ["code", "name"]


ALL_APIS = (CustomerApi, CustomerUnitApi, ProjectApi, BuildingApi, UnitApi, DepartmentApi)
