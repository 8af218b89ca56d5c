"""GET /api/v1/openapi.json: OpenAPI 3.1, generated from the operations' own declarations.

Nothing here lists endpoints by hand: every path, parameter, body and reply comes from the
`Resource` declarations next to the handlers (server/api.py), the schemas from server/schemas.py.
API-key requirements appear when an API key is configured, because only then are they enforced;
an operation's own `Guard` (the hook token) is always listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import JSONResponse, Response

from ..core import __version__
from .api import Call, Operation, Reply, Resource
from .envelope import ERROR_STATUS
from .schemas import COMPONENTS, Schema, array, component, enum, obj, string

ERROR = component(
    "Error",
    obj(
        {
            "error": obj(
                {
                    "code": enum(*ERROR_STATUS),
                    "message": string(),
                    "details": array({}),
                },
                required=("code", "message"),
            )
        },
        required=("error",),
    ),
)
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The API key."},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
}


def document(operations: Iterable[Operation], *, secured: bool) -> dict[str, Any]:
    """The whole OpenAPI document for these operations."""
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, None] = {}
    schemes = dict(SECURITY_SCHEMES)
    for operation in operations:
        tags[operation.tag] = None
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, secured=secured and not operation.public
        )
        if operation.guard is not None:
            schemes.update(operation.guard.schemes)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dupeless",
            "version": __version__,
            "description": "Finds near-duplicate documents in a Paperless-ngx library.",
        },
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {"schemas": dict(COMPONENTS), "securitySchemes": schemes},
    }


def _operation(operation: Operation, *, secured: bool) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.handler.__name__,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": _responses(operation, secured=secured),
    }
    if operation.description:
        described["description"] = operation.description
    parameters = [param.describe() for param in (*operation.path_params, *operation.query)]
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        body = {
            "required": operation.body.required,
            "content": {
                media: {"schema": schema} for media, schema in operation.body.content.items()
            },
        }
        if operation.body.description:
            body["description"] = operation.body.description
        described["requestBody"] = body
    security = _security(operation, secured=secured)
    if security:
        described["security"] = security
    return described


def _security(operation: Operation, *, secured: bool) -> list[dict[str, list[str]]]:
    """Each way to be let in: one API-key scheme (when `secured`) together with one of the
    guard's schemes, never two that need the same header."""
    ways: list[dict[str, dict[str, Any]]] = [{}]
    if secured:
        ways = [{name: SECURITY_SCHEMES[name]} for name in SECURITY_SCHEMES]
    if operation.guard is not None:
        ways = [
            {**way, name: scheme}
            for way in ways
            for name, scheme in operation.guard.schemes.items()
            if _header(scheme) not in {_header(used) for used in way.values()}
        ]
    return [{name: [] for name in way} for way in ways if way]


def _header(scheme: dict[str, Any]) -> str:
    """The request header a security scheme is sent in."""
    return scheme["name"].lower() if scheme["type"] == "apiKey" else "authorization"


def _responses(operation: Operation, *, secured: bool) -> dict[str, Any]:
    responses = {
        str(reply.status): {"description": reply.description, "content": _content(reply)}
        for reply in operation.replies
    }
    codes = dict.fromkeys(operation.error_codes + (["UNAUTHORIZED"] if secured else []))
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_STATUS[code], []).append(code)
    for status, named in sorted(by_status.items()):
        responses[str(status)] = {
            "description": " or ".join(named),
            "content": {"application/json": {"schema": ERROR}},
        }
    return responses


def _content(reply: Reply) -> dict[str, Any]:
    if reply.media is not None:
        return {media: {"schema": schema} for media, schema in reply.media.items()}
    envelope: Schema = obj({"data": reply.data or {}}, required=("data",))
    if reply.meta is not None:
        envelope["properties"]["meta"] = reply.meta
    return {"application/json": {"schema": envelope}}


meta = Resource("Meta")


@meta.get(
    "/api/v1/openapi.json",
    "This OpenAPI document",
    reply=Reply(media={"application/json": obj()}, description="OpenAPI 3.1"),
)
async def openapi(call: Call) -> Response:
    """Every endpoint, parameter and schema of this server."""
    operations = call.request.app.state.operations
    return JSONResponse(document(operations, secured=bool(call.app.settings.server.api_key)))
