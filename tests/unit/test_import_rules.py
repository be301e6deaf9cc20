"""Which module may import which (issue 12, item 4), read from the source with ast — every import
statement, also those inside functions, relative ones resolved:

- printing (app/printing.py, reports/) imports no view: paper and screen share app.labels instead;
- no model imports the domain (dependencies point down: faces → domain → models);
- app/labels.py, the labels shared by views, API and printing, imports no view, API, domain, printing
  or Flask-AppBuilder module, so anything may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module name an import statement of `source` (the text of `module`) names."""
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)  # `from app import views`
    return names


def imports_of(path: Path) -> set[str]:
    return imported(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def breaking(paths, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """{file: [forbidden modules it imports]} for the files that break the rule."""
    found = {}
    for path in paths:
        bad = sorted(name for name in imports_of(path)
                     if any(name == f or name.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


# --- the checker itself finds what it should (so that the rules below can fail) --------------------

@pytest.mark.parametrize(("source", "module", "expected"), [
    ("from app.views.complaints import FIELD_LABELS", "app.printing", "app.views.complaints"),
    ("def f():\n    from app.views import base\n", "app.printing", "app.views.base"),
    ("import app.views.complaints as c", "reports.forms.complaint_record", "app.views.complaints"),
    ("from ..domain import complaints", "app.models.cases", "app.domain.complaints"),
    ("from ..domain.scope import restrict", "app.models.cases", "app.domain.scope"),
    ("from . import views", "app", "app.views"),
    ("from flask_appbuilder import Model", "app.labels", "flask_appbuilder"),
])
def test_the_checker_sees_every_kind_of_import(source, module, expected):
    assert expected in imported(source, module, is_package=module == "app")


def test_the_checker_does_not_mistake_a_name_that_only_starts_alike():
    found = imported("from app.viewsmith import x\nimport app.domainless", "app.printing")
    assert not any(n == "app.views" or n.startswith("app.views.") for n in found)
    assert not any(n == "app.domain" or n.startswith("app.domain.") for n in found)


# --- the rules -----------------------------------------------------------------------------------

def test_printing_imports_no_view():
    paths = [ROOT / "app" / "printing.py", *sorted((ROOT / "reports").rglob("*.py"))]
    assert len(paths) > 5  # reports/base.py and the forms are there
    assert breaking(paths, ("app.views",)) == {}


def test_no_model_imports_the_domain():
    paths = sorted((ROOT / "app" / "models").glob("*.py"))
    assert {p.name for p in paths} >= {"__init__.py", "complaints.py", "choices.py", "cases.py"}
    assert breaking(paths, ("app.domain",)) == {}


def test_the_labels_module_is_neutral():
    path = ROOT / "app" / "labels.py"
    assert breaking([path], ("app.views", "app.api", "app.domain", "app.printing", "reports",
                             "flask_appbuilder")) == {}


def test_pages_api_and_printing_take_their_labels_from_the_shared_module():
    for path in ("app/printing.py", "app/views/complaints.py", "app/api/complaints.py"):
        assert "app.labels" in imports_of(ROOT / path), path
