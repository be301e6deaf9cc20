"""Coded values (stored as their English code, shown with a translated label). SPEC §10 fixes the codes."""

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class LabelledEnum(StrEnum):
    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        # Lazy labels: rendered in the locale of each request, not of the import.
        return [(m.value, cls.LABELS[m.value]) for m in cls]

    @property
    def label(self) -> str:
        return str(self.LABELS[self.value])

    @classmethod
    def label_of(cls, code: str | None) -> str:
        return str(cls.LABELS.get(code, code or ""))


class CustomerKind(LabelledEnum):
    PERSON = "person"
    COMPANY = "company"


CustomerKind.LABELS = {"person": _l("Person"), "company": _l("Company")}


class Gender(LabelledEnum):
    MALE = "male"
    FEMALE = "female"


Gender.LABELS = {"male": _l("Male"), "female": _l("Female")}


class CustomerStage(LabelledEnum):
    POTENTIAL = "potential"
    INTENDED = "intended"
    SIGNED = "signed"
    FUTURE_OWNER = "future_owner"
    OWNER = "owner"
    TENANT = "tenant"
    MEMBER = "member"


CustomerStage.LABELS = {
    "potential": _l("Potential"),
    "intended": _l("Intended"),
    "signed": _l("Signed"),
    "future_owner": _l("Future owner"),
    "owner": _l("Owner"),
    "tenant": _l("Tenant"),
    "member": _l("Member"),
}
