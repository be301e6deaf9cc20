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


def validate(instance, schema, cls=None, *args, **kwargs) -> None:
    """`jsonschema.validate` with the checked validator cached per schema object."""
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
