"""Request validation shared by every resource: query and path parameters, JSON bodies.

A parameter is declared once (`Param`, `Body`) next to its handler; the same declaration parses
the request, produces the 400 VALIDATION_FAILED details naming each bad field, and is published
in openapi.json. Query strings are coerced by the schema's type before validation, so `limit=abc`
and `limit=0` both answer with `{"field": "limit", "message": ...}`. Unknown query parameters are
refused too: a misspelt filter must not silently return everything. So is a parameter given
twice (`?wait=x&wait=1`): none is a list, and taking one of the values would hide the other.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from attrs import frozen
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request

from ..core.errors import InvalidValues
from .envelope import ApiError
from .schemas import Problem, Schema, integer, validate

_INTEGER = re.compile(r"^[+-]?\d{1,30}$")
#: The largest id SQLite can hold.
MAX_ID = 2**63 - 1


@frozen
class Param:
    """A query (or path) parameter: its name, its JSON schema and one line of documentation."""

    name: str
    schema: Schema
    description: str = ""
    required: bool = False
    location: str = "query"

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    def describe(self) -> dict[str, Any]:
        """The OpenAPI Parameter Object."""
        described = {"name": self.name, "in": self.location, "schema": self.schema}
        if self.description:
            described["description"] = self.description
        if self.required or self.location == "path":
            described["required"] = True
        return described


@frozen
class Body:
    """A JSON request body; `required=False` lets a client send nothing at all.

    A body that may come in other forms than JSON (Paperless webhooks: JSON, form or text)
    names its own `reader`, which returns the parsed body or raises ApiError, and lists each
    media type it accepts with its schema in `media` (for openapi.json)."""

    schema: Schema
    required: bool = True
    description: str = ""
    reader: Callable[[Request], Awaitable[Any]] | None = None
    media: dict[str, Schema] | None = None

    @property
    def content(self) -> dict[str, Schema]:
        """Media type -> schema, as openapi.json lists them."""
        return self.media if self.media is not None else {"application/json": self.schema}

    async def parse(self, request: Request) -> Any:
        """The validated body (see `parse_body`), or what the `reader` makes of it."""
        if self.reader is not None:
            return await self.reader(request)
        return await parse_body(request, self)


def page_params(maximum: int = 100) -> tuple[Param, Param]:
    """The contract's pagination: `limit` 1..maximum (default 50), `offset` >= 0."""
    return (
        Param("limit", integer(1, maximum, default=50), "Items per page."),
        Param("offset", integer(0, MAX_ID, default=0), "Items to skip."),
    )


def problem_error(problems: Iterable[Problem]) -> ApiError:
    """The contract's 400 VALIDATION_FAILED, with one detail per bad field."""
    found = list(problems)
    summary = "; ".join(f"{p.field} {p.message}" for p in found[:3])
    return ApiError(
        "VALIDATION_FAILED", f"Invalid request: {summary}", [p.as_detail() for p in found]
    )


def invalid(field: str, message: str) -> ApiError:
    return problem_error([Problem(field, message)])


def from_invalid_values(exc: InvalidValues) -> ApiError:
    return problem_error(Problem(field, message) for field, message in exc.problems)


def parse_params(
    params: Iterable[Param], raw: Mapping[str, str], *, strict: bool
) -> dict[str, Any]:
    """Coerce and validate; with `strict`, names not declared are problems too."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    declared = {param.name: param for param in params}
    if strict:
        problems += [
            Problem(name, "is not a known parameter") for name in raw if name not in declared
        ]
    for name, param in declared.items():
        if isinstance(raw, ImmutableMultiDict) and len(raw.getlist(name)) > 1:
            problems.append(Problem(name, "must be given once"))  # no parameter is a list
            continue
        text = raw.get(name)
        if text is None:
            if param.required:
                problems.append(Problem(name, "is required"))
            values[name] = param.default
            continue
        try:
            value = _coerce(param.schema, text)
        except ValueError as exc:
            problems.append(Problem(name, str(exc)))
            continue
        problems += validate(param.schema, value, name)
        values[name] = value
    if problems:
        raise problem_error(problems)
    return values


def _coerce(schema: Schema, text: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if not _INTEGER.match(text):
            raise ValueError("must be an integer")
        return int(text)
    if kind == "number":
        try:
            value = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError("must be true or false")
        return text.lower() == "true"
    return text


async def parse_body(request: Request, body: Body) -> Any:
    """The validated JSON body, or None when it is optional and absent."""
    raw = await request.body()
    if not raw:  # absent; whitespace alone is a body, and not valid JSON
        if body.required:
            raise invalid("body", "a JSON body is required")
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise invalid("body", "Content-Type must be application/json")
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", f"is not valid JSON ({exc})") from None
    problems = validate(body.schema, value)
    if problems:
        raise problem_error(problems)
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def document_id(raw: str) -> int:
    """A document's API id (the Paperless id as a string) -> int; 404 for anything else."""
    if not (raw.isascii() and raw.isdigit() and len(raw) < 20 and 0 < int(raw) <= MAX_ID):
        raise ApiError("NOT_FOUND", f"Document not found: {raw}")
    return int(raw)
