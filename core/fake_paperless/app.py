"""A fake Paperless-ngx server (Starlette) that behaves like the real one where dupeless cares.

It answers versions, authentication, pagination, filters, trash and errors the way
paperless-facts.md describes them, for 3.x (`version="3.0.5"`, API 9-10) or 2.x
(`version="2.20.15"`, API 1-9). The demo serves it at run time; tests serve it over loopback:

    fake = FakePaperless()
    fake.library.add_document(title="Invoice", content="...", tags=["inbox"])
    with fake.serve() as url:
        ...
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .faults import FaultInjector, Faults, RequestRecord
from .queries import ApiError, DocumentQuery, paginate, project
from .serve import serve
from .state import KINDS, SINGLE_LINKS, Flavour, Invalid, Library, NotFound

DEFAULT_TOKEN = "fake-paperless-token"
#: A 1x1 WebP, served as every thumbnail.
THUMBNAIL = base64.b64decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
INVALID_VERSION = {"detail": 'Invalid version in "Accept" header.'}
NOT_PROVIDED = "Authentication credentials were not provided."

Handler = Callable[[Request], Awaitable[Response]]


class FakePaperless:
    """One fake server: its library, its faults and its request log; an ASGI app itself."""

    def __init__(
        self,
        *,
        version: str = "3.0.5",
        token: str = DEFAULT_TOKEN,
        username: str = "admin",
        password: str = "admin",
        utc_offset: timedelta = timedelta(0),
    ):
        self.flavour = Flavour(version)
        self.library = Library(self.flavour, utc_offset=utc_offset, user=username)
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.tokens = {token: username}
        self.users = {username: password}
        #: The base URL while `serve()` runs.
        self.url: str | None = None
        starlette = Starlette(routes=_routes())
        starlette.state.fake = self
        self.injector = FaultInjector(starlette, self.faults, self.requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.injector(scope, receive, send)

    def set_version(self, version: str) -> None:
        """Upgrade or downgrade the running server (pinned clients then meet a 406)."""
        self.flavour = Flavour(version)
        self.library.set_flavour(self.flavour)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on 127.0.0.1 with an ephemeral port; yields (and sets `url` to) the base URL."""
        with serve(self) as url:
            self.url = url
            try:
                yield url
            finally:
                self.url = None

    # -- what every authenticated endpoint checks ---------------------------------------------

    def api_version(self, request: Request) -> int:
        """The version the `Accept` header asks for (the newest when none); 406 otherwise."""
        accepted = self.flavour.api_versions
        for media_range in request.headers.get("accept", "").split(","):
            for parameter in media_range.split(";")[1:]:
                name, _, value = parameter.partition("=")
                if name.strip() == "version":
                    if not value.strip().isdigit() or int(value) not in accepted:
                        raise ApiError(406, INVALID_VERSION)
                    return int(value)
        return accepted[-1]

    def user(self, request: Request) -> str | None:
        """The user the credentials name, None without credentials; bad ones are a 401."""
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if not scheme:
            return None
        if scheme.lower() == "token":
            if credentials.strip() not in self.tokens:
                raise _unauthorized("Invalid token.")
            return self.tokens[credentials.strip()]
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _unauthorized(
                    "Invalid basic header. Credentials not correctly base64 encoded."
                ) from None
            if self.users.get(username) != password:
                raise _unauthorized("Invalid username/password.")
            return username
        return None

    def version_headers(self) -> dict[str, str]:
        return {
            "X-Api-Version": str(self.flavour.api_versions[-1]),
            "X-Version": self.flavour.version,
        }


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, {"detail": detail}, {"WWW-Authenticate": "Token"})


def api(handler: Handler) -> Handler:
    """Wrap an endpoint: version check (406 comes first, as in DRF), then authentication."""

    async def endpoint(request: Request) -> Response:
        fake: FakePaperless = request.app.state.fake
        try:
            user = fake.user(request)
            refused = None if user else _unauthorized(NOT_PROVIDED)
        except ApiError as exc:
            user, refused = None, exc
        try:
            request.state.version = fake.api_version(request)
            if refused is not None:
                raise refused
            response = await handler(request)
        except ApiError as exc:
            response = JSONResponse(exc.body, exc.status, exc.headers)
        except NotFound:
            response = JSONResponse({"detail": "No Document matches the given query."}, 404)
        except Invalid as exc:
            response = JSONResponse(exc.errors, 400)
        if user is not None:
            response.headers.update(fake.version_headers())
        return response

    return endpoint


def _fake(request: Request) -> FakePaperless:
    return request.app.state.fake


def _library(request: Request) -> Library:
    return _fake(request).library


def _page(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(paginate(request, items, with_all=request.state.version < 10))


async def _body(request: Request) -> dict[str, Any]:
    """A JSON or form body, as DRF's parsers accept both."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode()))
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None
    if not isinstance(body, dict):
        raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
    return body


def _doc_id(request: Request) -> int:
    return int(request.path_params["doc_id"])


# --- endpoints ------------------------------------------------------------------------------


async def token(request: Request) -> Response:
    """POST /api/token/: username and password (JSON or form) for the user's token."""
    fake = _fake(request)
    body = await _body(request)
    username = str(body.get("username", ""))
    if not username or fake.users.get(username) != body.get("password"):
        error = {"non_field_errors": ["Unable to log in with provided credentials."]}
        return JSONResponse(error, 400)
    key = next((k for k, user in fake.tokens.items() if user == username), None)
    if key is None:
        key = secrets.token_hex(20)
        fake.tokens[key] = username
    return JSONResponse({"token": key})


@api
async def documents(request: Request) -> Response:
    library = _library(request)
    query = DocumentQuery.parse(request.query_params, library.tz)
    return _page(request, library.query(query, query))


@api
async def document(request: Request) -> Response:
    library, doc_id = _library(request), _doc_id(request)
    if request.method == "DELETE":
        library.delete_document(doc_id)
        return Response(status_code=204)
    if request.method == "PATCH":
        library.update_document(doc_id, **_document_changes(library, await _body(request)))
    found = library.document_json(doc_id, detail=True)
    return JSONResponse(project([found], request.query_params)[0])


def _document_changes(library: Library, body: dict[str, Any]) -> dict[str, Any]:
    """The writable fields of a PATCH body, with their links checked as the serializer does."""
    changes = {
        k: body[k] for k in ("title", "content", "created", "archive_serial_number") if k in body
    }
    for name, kind in SINGLE_LINKS.items():
        if name in body:
            value = body[name]
            if value is not None:
                _check_exists(library, kind, name, [value])
            changes[name] = value
    if "tags" in body:
        changes["tags"] = _check_exists(library, "tags", "tags", body["tags"])
    if "custom_fields" in body:
        items = body["custom_fields"]
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ApiError(400, {"custom_fields": ["Expected a list of items."]})
        _check_exists(library, "custom_fields", "custom_fields", [i.get("field") for i in items])
        changes["custom_fields"] = [{"field": i["field"], "value": i.get("value")} for i in items]
    return changes


def _check_exists(library: Library, kind: str, name: str, ids: Any) -> list[int]:
    if not isinstance(ids, list):
        raise ApiError(400, {name: ["Expected a list of items."]})
    for value in ids:
        if not isinstance(value, int) or value not in library.entities[kind]:
            raise ApiError(400, {name: [f'Invalid pk "{value}" - object does not exist.']})
    return ids


@api
async def metadata(request: Request) -> Response:
    return JSONResponse(_library(request).metadata(_doc_id(request)))


@api
async def notes(request: Request) -> Response:
    library, doc_id = _library(request), _doc_id(request)
    if request.method == "POST":
        text = (await _body(request)).get("note")
        if not text:
            raise ApiError(400, {"detail": "error"})
        return JSONResponse(library.add_note(doc_id, str(text)))
    return JSONResponse(library.notes(doc_id))


@api
async def preview(request: Request) -> Response:
    return _file(request, disposition="inline")


@api
async def download(request: Request) -> Response:
    return _file(request, disposition="attachment")


def _file(request: Request, *, disposition: str) -> Response:
    """The archived version when there is one, unless `original=true` asks for the original."""
    original = request.query_params.get("original", "").lower() == "true"
    content, media_type, name = _library(request).file(_doc_id(request), original=original)
    headers = {"Content-Disposition": f'{disposition}; filename="{name}"'}
    return Response(content, media_type=media_type, headers=headers)


@api
async def thumb(request: Request) -> Response:
    _library(request).file(_doc_id(request), original=True)  # 404 for a missing document
    return Response(THUMBNAIL, media_type="image/webp")


@api
async def entities(request: Request) -> Response:
    library, kind = _library(request), request.url.path.split("/")[2]
    if request.method == "POST":
        return JSONResponse(library.create_entity(kind, await _body(request)), 201)
    return _page(request, library.list_entities(kind))


@api
async def entity(request: Request) -> Response:
    library, kind = _library(request), request.url.path.split("/")[2]
    try:
        return JSONResponse(library.get_entity(kind, int(request.path_params["entity_id"])))
    except NotFound:
        raise ApiError(404, {"detail": "No such object."}) from None


@api
async def trash(request: Request) -> Response:
    """GET lists the trash; POST restores or empties it (all of it without `documents`)."""
    library = _library(request)
    if request.method == "GET":
        return _page(request, library.list_trash())
    body = await _body(request)
    action = body.get("action")
    if action not in ("restore", "empty"):
        raise ApiError(400, {"action": [f'"{action}" is not a valid choice.']})
    ids = body.get("documents")
    if ids is not None:
        _check_ids(ids)
    done = library.restore(ids) if action == "restore" else library.empty_trash(ids)
    return JSONResponse({"result": "OK", "doc_ids": done})


def _check_ids(ids: Any) -> None:
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise ApiError(400, {"documents": ["A list of document ids is required."]})


@api
async def statistics(request: Request) -> Response:
    return JSONResponse(_library(request).statistics())


@api
async def tasks(request: Request) -> Response:
    """Consume tasks: a page under API 10, a plain list before."""
    found = _library(request).list_tasks(request.query_params.get("task_id"))
    if request.state.version >= 10:
        return _page(request, found)
    return JSONResponse(found)


def _routes() -> list[Route]:
    doc = "/api/documents/{doc_id:int}"
    routes = [
        Route("/api/token/", token, methods=["POST"]),
        Route("/api/documents/", documents, methods=["GET"]),
        Route(f"{doc}/", document, methods=["GET", "PATCH", "DELETE"]),
        Route(f"{doc}/metadata/", metadata, methods=["GET"]),
        Route(f"{doc}/notes/", notes, methods=["GET", "POST"]),
        Route(f"{doc}/preview/", preview, methods=["GET"]),
        Route(f"{doc}/download/", download, methods=["GET"]),
        Route(f"{doc}/thumb/", thumb, methods=["GET"]),
        Route("/api/trash/", trash, methods=["GET", "POST"]),
        Route("/api/tasks/", tasks, methods=["GET"]),
        Route("/api/statistics/", statistics, methods=["GET"]),
    ]
    for kind in KINDS:
        routes.append(Route(f"/api/{kind}/", entities, methods=["GET", "POST"]))
        routes.append(Route(f"/api/{kind}/{{entity_id:int}}/", entity, methods=["GET"]))
    return routes
