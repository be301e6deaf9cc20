"""Projects, buildings and units."""

from flask_babel import lazy_gettext as _l
from wtforms import StringField

from app.labels import PROPERTY
from app.models import Building, Project, Unit

from .base import DomainModelView, KefuInterface, RelatedTextFilter


class FilterBuildingProject(RelatedTextFilter):
    name = _l("Project contains")
    arg_name = "kefu_b_project"

    def condition(self, value):
        return Building.project.has(Project.name.contains(value, autoescape=True))


class FilterUnitProject(RelatedTextFilter):
    name = _l("Project contains")
    arg_name = "kefu_u_project"

    def condition(self, value):
        return Unit.building.has(Building.project.has(Project.name.contains(value, autoescape=True)))


class FilterUnitBuilding(RelatedTextFilter):
    name = _l("Building is")
    arg_name = "kefu_u_building"

    def condition(self, value):
        return Unit.building.has(Building.name == value)


class UnitView(DomainModelView):
    datamodel = KefuInterface(Unit, custom_filters={"building": [FilterUnitProject, FilterUnitBuilding]})
    route_base = "/unit"
    list_title = _l("Units")
    show_title = _l("Unit")
    add_title = _l("New unit")
    edit_title = _l("Edit unit")
    label_columns = PROPERTY
    list_columns = ["building", "number", "floor", "area"]
    add_columns = ["building", "number", "floor", "area"]
    edit_columns = ["number", "floor", "area"]
    show_columns = ["building", "number", "floor", "area", "updated_at", "version"]
    search_columns = ["number", "floor", "building"]
    search_form_extra_fields = {"building": StringField(_l("Project or building"))}
    order_columns = ["number", "floor"]


class BuildingView(DomainModelView):
    datamodel = KefuInterface(Building, custom_filters={"project": [FilterBuildingProject]})
    route_base = "/building"
    list_title = _l("Buildings")
    show_title = _l("Building")
    add_title = _l("New building")
    edit_title = _l("Edit building")
    label_columns = PROPERTY
    list_columns = ["project", "name", "floors"]
    add_columns = ["project", "name", "floors"]
    edit_columns = ["name", "floors"]
    show_columns = ["project", "name", "floors", "updated_at", "version"]
    search_columns = ["name", "project"]
    search_form_extra_fields = {"project": StringField(_l("Project"))}
    order_columns = ["name"]
    related_views = [UnitView]


class ProjectView(DomainModelView):
    datamodel = KefuInterface(Project)
    route_base = "/project"
    list_title = _l("Projects")
    show_title = _l("Project")
    add_title = _l("New project")
    edit_title = _l("Edit project")
    label_columns = PROPERTY
    list_columns = ["code", "name", "city", "delivery_date", "move_in_date"]
    add_columns = edit_columns = ["code", "name", "city", "address", "delivery_date", "move_in_date"]
    show_columns = ["code", "name", "city", "address", "delivery_date", "move_in_date", "updated_at", "version"]
    search_columns = ["code", "name", "city"]
    order_columns = ["code", "name", "delivery_date"]
    related_views = [BuildingView]
