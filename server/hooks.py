"""`POST /api/v1/hooks/document-consumed`: Paperless tells dupeless about a new document.

One handler serves the post-consume script (`hooks/post_consume.py`, JSON with `document_id`)
and Paperless workflow webhooks (JSON, form or text bodies carrying `doc_id`, or a `doc_url` /
download URL ending in `/documents/<id>/`). It is authenticated by the hook token
(`Authorization: Bearer <token>` or `X-Hook-Token: <token>`, compared in constant time), not by
the API key, so list these paths as public for the API-key middleware.

The event is recorded in `hook_events` before the answer, so it is never lost: 202
`{"data": {"eventId": N, "status": "queued"}}` at once, or with `?wait=SECONDS` (at most 30) 200
with the verdict when it is ready in time (202 otherwise).
"""

from __future__ import annotations

import hmac
import json
import math
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.hook_queue import HookQueue, record_event
from .envelope import ApiError, error, ok
from .params import MAX_ID

PATH = "/api/v1/hooks/document-consumed"
#: The same handler under a name that reads better in a Paperless workflow.
WEBHOOK_PATH = "/api/v1/hooks/paperless-webhook"
PUBLIC_PATHS = (PATH, WEBHOOK_PATH)
MAX_WAIT = 30.0
MAX_BODY = 64 * 1024
#: Keys that may carry the document id, most specific first.
ID_KEYS = ("document_id", "DOCUMENT_ID", "doc_id", "documentId", "id")
#: Keys that may carry a URL ending in /documents/<id>/...
URL_KEYS = ("doc_url", "document_url", "download_url", "DOCUMENT_DOWNLOAD_URL", "url")
_DOCUMENT_URL = re.compile(r"/documents/([0-9]+)(?:/|$|\?)")
NO_TOKEN = (
    "Hooks are disabled: set DUPELESS_HOOK_TOKEN on dupeless (and the same value for the"
    " post-consume script or the webhook's Authorization header)"
)


def _queue(request: Request) -> HookQueue:
    queue = getattr(request.app.state, "hook_queue", None)
    if queue is None:
        raise ApiError("NOT_READY", "The hook queue is not running")
    return queue


def _authorised(request: Request, token: str) -> bool:
    expected = token.encode()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    offered = [request.headers.get("x-hook-token", "").strip().encode()]
    if scheme.lower() in ("bearer", "token"):
        offered.append(credentials.strip().encode())
    # Compare every offered token, so which header was used does not change the timing.
    return any([hmac.compare_digest(candidate, expected) for candidate in offered])


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        "VALIDATION_FAILED",
        f"Invalid request: {field} {message}",
        [{"field": field, "message": message}],
    )


async def read_body(request: Request) -> dict[str, Any]:
    """The body as a flat dict: JSON object, form (urlencoded or multipart) or text of either."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise _invalid("body", f"is larger than {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise _invalid("body", "is not UTF-8 text") from None
    if not text:
        raise _invalid("body", "is empty: send doc_id or doc_url")
    if text.startswith("{") or content_type.endswith("json"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise _invalid("body", f"is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise _invalid("body", "must be a JSON object")
        return body
    return dict(parse_qsl(text, keep_blank_values=True))


def document_id_of(body: dict[str, Any]) -> int:
    """The document id an event names; VALIDATION_FAILED when there is none or it is bad."""
    for key in ID_KEYS:
        value = body.get(key)
        if value is None or value == "" or value == "None":
            continue
        if isinstance(value, bool):
            raise _invalid(key, "must be a document id (a positive whole number)")
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if not _is_id(text):
            raise _invalid(key, f"must be a document id (a positive whole number), got {value!r}")
        return int(text)
    for key in URL_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value and value != "None":
            match = _DOCUMENT_URL.search(value)
            if match is None or not _is_id(match.group(1)):
                raise _invalid(key, f"must end in /documents/<id>/, got {value!r}")
            return int(match.group(1))
    raise _invalid("doc_id", "is required: send document_id, doc_id or a doc_url")


def _is_id(text: str) -> bool:
    """ASCII digits naming an id from 1 to MAX_ID (`str.isdigit` also takes "²", which int()
    refuses, and a larger number would overflow SQLite)."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID


def _wait_seconds(request: Request) -> float:
    value = request.query_params.get("wait")
    if value is None or value == "":
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        raise _invalid("wait", f"must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise _invalid("wait", f"must be between 0 and {MAX_WAIT:g}")
    return min(seconds, MAX_WAIT)


def _source(body: dict[str, Any]) -> str:
    if body.get("source") == "post_consume" or "DOCUMENT_ID" in body or "task_id" in body:
        return "post_consume"
    return "webhook"


async def document_consumed(request: Request) -> Response:
    queue = _queue(request)
    token = queue.hooks.token
    if not token:
        return error("UNAUTHORIZED", NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    if not _authorised(request, token):
        return error(
            "UNAUTHORIZED",
            "Missing or invalid hook token: send 'Authorization: Bearer <token>'"
            " or 'X-Hook-Token: <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    wait = _wait_seconds(request)
    body = await read_body(request)
    document_id = document_id_of(body)
    event_id = await record_event(queue.store, document_id, _source(body), body)
    queue.submit(event_id)
    if wait > 0:
        event = await queue.wait(event_id, wait)
        if event is not None and (event["status"] in ("done", "failed") or event["verdict"]):
            return ok(event)  # a verdict still writing back to Paperless is "processing"
        status = "processing" if event and event["status"] == "processing" else "queued"
        return ok({"eventId": event_id, "documentId": document_id, "status": status}, status=202)
    return ok({"eventId": event_id, "documentId": document_id, "status": "queued"}, status=202)


async def hook_event(request: Request) -> Response:
    """GET an event by id (hook token), e.g. to follow one answered 202."""
    queue = _queue(request)
    if not queue.hooks.token:
        return error("UNAUTHORIZED", NO_TOKEN, headers={"WWW-Authenticate": "Bearer"})
    if not _authorised(request, queue.hooks.token):
        return error("UNAUTHORIZED", "Missing or invalid hook token")
    event = await queue.wait(request.path_params["event_id"], _wait_seconds(request))
    if event is None:
        return error("NOT_FOUND", f"No hook event {request.path_params['event_id']}")
    return ok(event)


routes = [
    Route(PATH, document_consumed, methods=["POST"]),
    Route(WEBHOOK_PATH, document_consumed, methods=["POST"]),
    Route("/api/v1/hooks/events/{event_id:int}", hook_event, methods=["GET"]),
]
