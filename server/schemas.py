"""JSON Schema (2020-12, the dialect of OpenAPI 3.1) written in Python, and a small validator.

Each request part is declared once as a schema: openapi.json publishes it and the server checks
requests against it, so the reference cannot drift from what is accepted. The validator covers
the keywords the declarations use (type, const, enum, bounds, lengths, pattern, items, properties,
required, additionalProperties, propertyNames, minProperties, anyOf, $ref) and names every bad
field, e.g. `groupIds[3]`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from attrs import frozen

Schema = dict[str, Any]

#: Named schemas, published under `components/schemas` and reachable by `$ref`.
COMPONENTS: dict[str, Schema] = {}
REF_PREFIX = "#/components/schemas/"


def component(name: str, schema: Schema) -> Schema:
    """Register a named schema; returns the `$ref` to use in its place."""
    COMPONENTS[name] = schema
    return {"$ref": REF_PREFIX + name}


def string(**keywords: Any) -> Schema:
    return {"type": "string", **keywords}


def integer(minimum: int | None = None, maximum: int | None = None, **keywords: Any) -> Schema:
    return _bounded("integer", minimum, maximum, keywords)


def number(minimum: float | None = None, maximum: float | None = None, **keywords: Any) -> Schema:
    return _bounded("number", minimum, maximum, keywords)


def _bounded(kind: str, minimum: Any, maximum: Any, keywords: dict[str, Any]) -> Schema:
    schema: Schema = {"type": kind, **keywords}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def boolean(**keywords: Any) -> Schema:
    return {"type": "boolean", **keywords}


def enum(*values: str, **keywords: Any) -> Schema:
    return {"type": "string", "enum": list(values), **keywords}


def array(items: Schema, **keywords: Any) -> Schema:
    return {"type": "array", "items": items, **keywords}


def nullable(schema: Schema) -> Schema:
    """The schema or null."""
    if isinstance(schema.get("type"), str) and "$ref" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: dict[str, Schema] | None = None,
    *,
    required: tuple[str, ...] | list[str] = (),
    additional: bool | Schema = True,
    **keywords: Any,
) -> Schema:
    """An object; `required` defaults to none, `additional=False` rejects unknown keys."""
    schema: Schema = {"type": "object", "properties": properties or {}, **keywords}
    if required:
        schema["required"] = list(required)
    if additional is not True:
        schema["additionalProperties"] = additional
    return schema


def strict(properties: dict[str, Schema], *, required: tuple[str, ...] = (), **kw: Any) -> Schema:
    """A request object: only the declared keys are accepted."""
    return obj(properties, required=required, additional=False, **kw)


# --- validation -----------------------------------------------------------------------------


@frozen
class Problem:
    """One reason a value was refused: the field (as the client named it) and what is wrong."""

    field: str
    message: str

    def as_detail(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def validate(schema: Schema, value: Any, field: str = "body") -> list[Problem]:
    """Every problem of `value` against `schema`, each naming its field (empty: valid)."""
    if "$ref" in schema:
        return validate(COMPONENTS[schema["$ref"].removeprefix(REF_PREFIX)], value, field)
    if "anyOf" in schema:
        branches = [validate(option, value, field) for option in schema["anyOf"]]
        return [] if any(not found for found in branches) else min(branches, key=len)
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(kind, value) for kind in allowed):
            return [Problem(field, "must be " + " or ".join(_TYPE_NAMES[k] for k in allowed))]
    if "const" in schema and not _same(value, schema["const"]):
        return [Problem(field, f"must be {json.dumps(schema['const'])}")]
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        return [Problem(field, "must be one of " + ", ".join(map(str, schema["enum"])))]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return _check_number(schema, value, field)
    if isinstance(value, str):
        return _check_string(schema, value, field)
    if isinstance(value, list):
        return _check_array(schema, value, field)
    if isinstance(value, dict):
        return _check_object(schema, value, field)
    return []


def _is(kind: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "integer":
        return number and value == int(value)
    if kind == "number":
        return number
    types = {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}
    return isinstance(value, types[kind])


def _same(value: Any, option: Any) -> bool:
    return type(value) is type(option) and value == option


def _check_number(schema: Schema, value: float, field: str) -> list[Problem]:
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            return [Problem(field, f"must be between {low} and {high}")]
        if low is not None:
            return [Problem(field, f"must be at least {low}")]
        return [Problem(field, f"must be at most {high}")]
    return []


def _check_string(schema: Schema, value: str, field: str) -> list[Problem]:
    if len(value) < schema.get("minLength", 0):
        return [Problem(field, f"must have at least {schema['minLength']} characters")]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return [Problem(field, f"must have at most {schema['maxLength']} characters")]
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return [Problem(field, f"must match {schema['pattern']}")]
    return []


def _check_array(schema: Schema, value: list[Any], field: str) -> list[Problem]:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    if len(value) < low or (high is not None and len(value) > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return [Problem(field, f"must have {bounds} items")]
    problems = []
    if "items" in schema:
        for index, item in enumerate(value):
            problems += validate(schema["items"], item, f"{field}[{index}]")
    return problems


def _check_object(schema: Schema, value: dict[str, Any], field: str) -> list[Problem]:
    def name(key: str) -> str:
        return key if field == "body" else f"{field}.{key}"

    problems = [
        Problem(name(key), "is required") for key in schema.get("required", ()) if key not in value
    ]
    if len(value) < schema.get("minProperties", 0):
        problems.append(Problem(field, f"must have at least {schema['minProperties']} keys"))
    names = schema.get("propertyNames")
    if names is not None:
        problems += [
            Problem(name(key), f"is not a valid key ({p.message})")
            for key in value
            for p in validate(names, key, name(key))
        ]
    properties = schema.get("properties", {})
    additional = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            problems += validate(properties[key], item, name(key))
        elif additional is False:
            problems.append(Problem(name(key), "is not a known field"))
        elif isinstance(additional, dict):
            problems += validate(additional, item, name(key))
    return problems
