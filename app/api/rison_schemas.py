"""FAB's `@rison(schema)` validates the query argument of every API read with `jsonschema.validate`,
which first re-checks the *schema itself* against the JSON Schema meta-schema — about a third of a
list request's time (measured: `make bench`, docs/benchmarks.md). FAB's schemas are module
constants, so the meta-check is done once per schema here and its validator kept; an argument is
judged exactly as before (the same validator class and `best_match` error, so the same 400 text).
"""

from __future__ import annotations

from types import SimpleNamespace

import jsonschema
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

_validators: dict[int, tuple[dict, object]] = {}


def _lone_surrogate(value) -> bool:
    """A string holding half of a UTF-16 pair (`\\ud83d` in the argument's JSON): no database can
    store or compare it (SQLite's driver cannot even encode it), so it is refused before any query."""
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_lone_surrogate(v) for v in value)
    return False


def validate(instance, schema, cls=None, *args, **kwargs) -> None:
    """`jsonschema.validate` with the checked validator cached per schema object."""
    if _lone_surrogate(instance):
        from flask_babel import gettext

        raise jsonschema.ValidationError(gettext("The query argument holds characters that are not text "
                                                 "(half of a UTF-16 pair)."))
    if cls is not None or args or kwargs:
        return jsonschema.validate(instance, schema, cls, *args, **kwargs)
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:  # keep the schema alive so its id stays its own
        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        cached = _validators[id(schema)] = (schema, validator_class(schema))
    error = best_match(cached[1].iter_errors(instance))
    if error is not None:
        raise error


def install() -> None:
    """Point FAB's API module at the cached `validate` (its `rison` decorator looks the name up at
    call time: `jsonschema.validate(...)`, `jsonschema.ValidationError`)."""
    import flask_appbuilder.api as fab_api

    fab_api.jsonschema = SimpleNamespace(validate=validate, ValidationError=jsonschema.ValidationError)
