"""Column labels shared by views and APIs (translatable; Chinese in the zh catalogue)."""

from flask_babel import lazy_gettext as _l

COMMON = {
    "id": _l("ID"), "created_at": _l("Created at"), "updated_at": _l("Updated at"),
    "created_by": _l("Created by"), "updated_by": _l("Updated by"), "version": _l("Version"),
    "name": _l("Name"), "code": _l("Code"), "remarks": _l("Remarks"),
}

CUSTOMER = {
    **COMMON,
    "kind": _l("Kind"), "gender": _l("Gender"), "id_number": _l("ID-card number"), "mobile": _l("Mobile"),
    "phone": _l("Phone"), "email": _l("E-mail"), "address": _l("Address"), "stage": _l("Stage"),
    "main_contact": _l("Main contact"), "main_contact_phone": _l("Main contact's phone"),
    "property_contact": _l("Property contact"), "property_contact_phone": _l("Property contact's phone"),
    "certificate_number": _l("Property-certificate number"),
    "certificate_issued_on": _l("Certificate issued on"), "birthday": _l("Birthday"),
    "age_band": _l("Age band"), "income_band": _l("Household income band"), "housing": _l("Housing"),
    "education": _l("Education"), "occupation": _l("Occupation"), "family": _l("Family"),
    "social_activities": _l("Social activities"), "hobbies": _l("Hobbies"),
    "important_dates": _l("Important dates"), "units": _l("Property"), "units_summary": _l("Property"),
}

PROPERTY = {
    **COMMON,
    "city": _l("City"), "address": _l("Address"), "delivery_date": _l("Delivery date"),
    "move_in_date": _l("Concentrated move-in date"), "project": _l("Project"), "floors": _l("Floors"),
    "building": _l("Building"), "number": _l("Unit number"), "floor": _l("Floor"), "area": _l("Area (m²)"),
    "customer": _l("Customer"), "unit": _l("Unit"), "purchase_date": _l("Purchase date"),
    "amount": _l("Amount (yuan)"),
}

ORG = {
    **COMMON,
    "is_customer_service": _l("Customer-service department"), "user": _l("User"),
    "department": _l("Department"), "post": _l("Post"),
}

AUDIT = {
    "seq": _l("No."), "at": _l("When (UTC)"), "actor_name": _l("Who"), "table_name": _l("Table"),
    "record_id": _l("Record"), "action": _l("Action"), "changes": _l("Changes"), "hash": _l("Hash"),
    "prev_hash": _l("Previous hash"), "actor_id": _l("User ID"),
}

AUDIT_ACTIONS = {
    "insert": _l("Created"), "update": _l("Changed"), "delete": _l("Deleted"), "reveal": _l("Revealed"),
    "login_failed": _l("Failed login"), "login_locked": _l("Login locked"),
    "login_refused": _l("Login refused (locked)"), "login_unlocked": _l("Login unlocked"),
}
