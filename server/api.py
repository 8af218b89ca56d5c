"""Endpoint declarations: each handler states its method, path, parameters, body and replies.

    documents = Resource("Documents")

    @documents.get("/api/v1/documents/{id}", "One document", reply=Reply(data=DOCUMENT),
                   errors=("NOT_FOUND",))
    async def get_document(call: Call) -> Response: ...

The router is built from these declarations (`routes`) and so is openapi.json (server/openapi.py),
so the reference always lists exactly what the server answers. Before a handler runs, its query,
path and body are parsed and validated; the handler receives them in a `Call`. An operation with
a `Guard` (the Paperless hooks and their token) has it checked first, before anything is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from functools import partialmethod
from typing import Any

from attrs import define, field, frozen
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .envelope import ERROR_STATUS
from .params import Body, Param, parse_params
from .schemas import Schema, string
from .state import AppState

Handler = Callable[["Call"], Awaitable[Response]]
_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


@frozen
class Reply:
    """A successful answer: `data` (and `meta`) inside the envelope, or raw `media` when the
    endpoint does not use the envelope (media type -> schema)."""

    status: int = 200
    data: Schema | None = None
    meta: Schema | None = None
    media: dict[str, Schema] | None = None
    description: str = "Success"


@frozen
class Guard:
    """A credential an operation checks itself, apart from the API key: `check` answers the
    refusal (or raises ApiError), None to let the request in. It runs before the request is
    parsed, so a caller without the credential learns nothing about what the inputs should be.
    `schemes` are its OpenAPI security schemes; any one of them will do."""

    check: Callable[[Request], Response | None]
    schemes: dict[str, dict[str, Any]]


@frozen
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    reply: Reply
    query: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()
    body: Body | None = None
    errors: tuple[str, ...] = ()
    public: bool = False
    description: str = ""
    #: Other successful answers than `reply` (e.g. 200 when a result was ready, 202 when not).
    also: tuple[Reply, ...] = ()
    guard: Guard | None = None
    #: Ignore undeclared query parameters instead of refusing them: for callers whose URL a
    #: user types into another program (Paperless webhooks).
    extra_query: bool = False

    @property
    def replies(self) -> tuple[Reply, ...]:
        return (self.reply, *self.also)

    @property
    def error_codes(self) -> list[str]:
        """Declared error codes plus those every operation of its kind can answer."""
        codes = list(self.errors)
        if self.query or self.path_params or self.body:
            codes.append("VALIDATION_FAILED")
        if self.guard is not None:
            codes.append("UNAUTHORIZED")
        return sorted(set(codes), key=lambda code: (ERROR_STATUS[code], code))

    async def bind(self, request: Request) -> Call:
        """Parse and validate the request for this operation (400 VALIDATION_FAILED if not)."""
        path = parse_params(self.path_params, request.path_params, strict=False)
        query = parse_params(self.query, request.query_params, strict=not self.extra_query)
        body = await self.body.parse(request) if self.body is not None else None
        return Call(request, query, path, body)


@define
class Call:
    """One validated request as its handler sees it."""

    request: Request
    query: dict[str, Any]
    path: dict[str, Any]
    body: Any

    @property
    def app(self) -> AppState:
        return self.request.app.state.dupeless


@define
class Resource:
    """The operations of one resource (its tag in openapi.json)."""

    tag: str
    operations: list[Operation] = field(factory=list)

    def endpoint(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        reply: Reply,
        query: Iterable[Param] = (),
        path_params: Iterable[Param] = (),
        body: Body | None = None,
        errors: Iterable[str] = (),
        public: bool = False,
        description: str = "",
        also: Iterable[Reply] = (),
        guard: Guard | None = None,
        extra_query: bool = False,
    ) -> Callable[[Handler], Handler]:
        declared = {param.name: param for param in path_params}
        for name in _PATH_PARAM.findall(path):
            declared.setdefault(name, Param(name, string(), location="path"))

        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=self.tag,
                    reply=reply,
                    query=tuple(query),
                    path_params=tuple(declared.values()),
                    body=body,
                    errors=tuple(errors),
                    public=public,
                    description=description or (handler.__doc__ or "").strip(),
                    also=tuple(also),
                    guard=guard,
                    extra_query=extra_query,
                )
            )
            return handler

        return register

    get = partialmethod(endpoint, "GET")
    post = partialmethod(endpoint, "POST")
    put = partialmethod(endpoint, "PUT")
    delete = partialmethod(endpoint, "DELETE")


def routes(operations: Iterable[Operation]) -> list[Route]:
    """One Starlette route per path (so a wrong method is a 405 listing the right ones); fixed
    paths come before parameterised ones, so `/documents/stats` is not read as a document id."""
    by_path: dict[str, dict[str, Operation]] = {}
    for operation in operations:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    ordered = sorted(by_path, key=lambda path: _PATH_PARAM.sub("\uffff", path))
    return [Route(path, _dispatch(by_path[path]), methods=list(by_path[path])) for path in ordered]


def _dispatch(by_method: dict[str, Operation]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        operation = by_method.get(request.method) or by_method["GET"]  # HEAD answers like GET
        if operation.guard is not None:
            refused = operation.guard.check(request)
            if refused is not None:
                return refused
        return await operation.handler(await operation.bind(request))

    return endpoint
