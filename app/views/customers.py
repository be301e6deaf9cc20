"""Customers and their units."""

from __future__ import annotations

import re

from flask import jsonify, redirect, request, url_for
from flask_appbuilder import expose, has_access
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from wtforms import SelectField, StringField

from app.domain import lookup, privacy
from app.domain.errors import NotFoundError
from app.extensions import db
from app.labels import CUSTOMER, PROPERTY
from app.models import Building, Customer, CustomerUnit, Project, Unit
from app.models.choices import CustomerKind, CustomerStage, Gender
from app.outcome import attempt

from .base import CsvExportMixin, DomainModelView, KefuInterface, RelatedTextFilter


class _UnitFilter(RelatedTextFilter):
    """Text filters on a customer's units."""

    def condition(self, value):
        return Customer.units.any(CustomerUnit.unit.has(self.unit_condition(value)))


class FilterProjectName(_UnitFilter):
    name = _l("Project contains")
    arg_name = "kefu_project"

    def unit_condition(self, value):
        return Unit.building.has(Building.project.has(Project.name.contains(value)))


class FilterBuildingName(_UnitFilter):
    name = _l("Building is")
    arg_name = "kefu_building"

    def unit_condition(self, value):
        return Unit.building.has(Building.name == value)


class FilterUnitNumber(_UnitFilter):
    name = _l("Unit number is")
    arg_name = "kefu_unit"

    def unit_condition(self, value):
        return Unit.number == value


def quick_search_args(text: str) -> dict[str, str]:
    """Turn one search box into FAB filter arguments: full phone or ID number match exactly (indexed)."""
    text = text.strip()
    compact = text.replace(" ", "").replace("-", "")
    if re.fullmatch(r"\d{17}[\dXx]", compact):
        return {"_flt_0_id_number": compact.upper()}
    if re.fullmatch(r"1\d{10}", compact):
        return {"_flt_0_mobile": compact}
    if re.fullmatch(r"0\d{9,11}", compact):
        return {"_flt_0_phone": text}
    return {"_flt_2_name": text}


class CustomerUnitView(DomainModelView):
    datamodel = KefuInterface(CustomerUnit)
    route_base = "/customerunit"
    list_title = _l("Units held by customers")
    show_title = _l("Unit held")
    add_title = _l("Add a unit to the customer")
    edit_title = _l("Edit the unit held")
    label_columns = PROPERTY
    list_columns = ["customer", "unit", "purchase_date", "area", "amount"]
    add_columns = ["customer", "unit", "purchase_date", "area", "amount"]
    edit_columns = ["purchase_date", "area", "amount"]
    show_columns = ["customer", "unit", "purchase_date", "area", "amount", "updated_at", "version"]
    search_columns = ["purchase_date"]


class CustomerView(CsvExportMixin, DomainModelView):
    datamodel = KefuInterface(
        Customer,
        custom_filters={"units": [FilterProjectName, FilterBuildingName, FilterUnitNumber]},
        eager=[selectinload(Customer.units).lazyload(CustomerUnit.customer)],
    )
    route_base = "/customer"
    list_title = _l("Customers")
    show_title = _l("Customer details")
    add_title = _l("New customer")
    edit_title = _l("Edit customer")
    label_columns = CUSTOMER
    list_columns = ["name", "kind", "stage", "mobile", "id_number", "units_summary", "updated_at"]
    order_columns = ["name", "stage", "updated_at"]
    base_order = ("id", "desc")
    search_columns = ["name", "mobile", "phone", "id_number", "stage", "kind", "certificate_number", "units"]
    search_form_extra_fields = {
        "units": StringField(_l("Property")),
        "stage": SelectField(_l("Stage"), choices=CustomerStage.choices()),
        "kind": SelectField(_l("Kind"), choices=CustomerKind.choices()),
    }
    form_fields = [
        "kind", "name", "gender", "id_number", "mobile", "phone", "email", "address", "stage",
        "main_contact", "main_contact_phone", "property_contact", "property_contact_phone",
        "certificate_number", "certificate_issued_on", "birthday", "age_band", "income_band", "housing",
        "education", "occupation", "family", "social_activities", "hobbies", "important_dates", "remarks",
    ]
    add_columns = form_fields
    edit_columns = form_fields
    show_columns = [*form_fields, "units_summary", "created_at", "updated_at", "version"]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=CustomerKind.choices(), default="person", widget=Select2Widget()),
        "stage": SelectField(_l("Stage"), choices=CustomerStage.choices(), default="potential",
                             widget=Select2Widget()),
        "gender": SelectField(_l("Gender"), choices=[("", "—"), *Gender.choices()], widget=Select2Widget()),
    }
    formatters_columns = {
        "kind": CustomerKind.label_of,
        "stage": CustomerStage.label_of,
        "gender": Gender.label_of,
    }
    related_views = [CustomerUnitView]

    @expose("/list/")
    @has_access
    def list(self):
        if request.args.get("q"):
            args = {k: v for k, v in request.args.items() if k != "q" and not k.startswith("_flt_")}
            return redirect(url_for(".list", **args, **quick_search_args(request.args["q"])))
        widgets = self._list()
        return self.render_template(
            self.list_template, title=self.list_title, widgets=widgets,
            quick_search_columns=True,
            quick_search_placeholder=_l("Name, full mobile / phone number or ID-card number"),
        )

    export_filename = "customers.csv"

    def export_table(self, items):
        """Personal data masked, choices as their Chinese labels."""
        columns = ["id", "name", "kind", "stage", "gender", "id_number", "mobile", "phone", "address",
                   "certificate_number", "units_summary"]
        rows = []
        for item in items:
            row = privacy.masked_copy(Customer, {c: getattr(item, c) for c in columns})
            row["kind"], row["stage"] = CustomerKind.label_of(item.kind), CustomerStage.label_of(item.stage)
            row["gender"] = Gender.label_of(item.gender)
            rows.append([row[c] for c in columns])
        return [str(CUSTOMER.get(c, c)) for c in columns], rows

    @expose("/lookup", methods=["GET"])
    @has_access  # a page's helper: refused like the pages (the login page, or a redirect with the reason)
    @permission_name("list")
    def lookup(self):
        """The receipt form's customer suggestions (JSON): by name, or a full phone or ID-card number;
        phones masked, each customer's units; at most lookup.CAP (app.domain.lookup)."""
        found = lookup.find_customers(db.session, self._actor(), request.args.get("q", ""))
        return jsonify(results=[item.as_json() for item in found], cap=lookup.CAP)

    @expose("/reveal/<int:pk>/<field>", methods=["POST"])
    @has_access
    @permission_name("show")
    def reveal(self, pk, field):
        item = self.datamodel.get(pk, self._base_filters)

        def reveal():
            if item is None:
                raise NotFoundError()
            return privacy.reveal(db.session, item, field, self._actor())

        value, refusal = attempt(db.session, reveal)
        if refusal is not None:
            return jsonify(**refusal.body()), refusal.status
        return jsonify(field=field, value=value)
