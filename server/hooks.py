"""`POST /api/v1/hooks/document-consumed`: Paperless tells dupeless about a new document.

One handler serves the post-consume script (`hooks/post_consume.py`, JSON with `document_id`)
and Paperless workflow webhooks (JSON, form or text bodies carrying `doc_id`, or a `doc_url` /
download URL ending in `/documents/<id>/`), under two paths. It is authenticated by the hook
token (`Authorization: Bearer <token>` or `X-Hook-Token: <token>`, compared in constant time),
not by the API key, so these paths are public for the API-key middleware. The token is a
`Guard`: checked before anything else is read.

The event is recorded in `hook_events` before the answer, so it is never lost: 202
`{"data": {"eventId": N, "status": "queued"}}` at once, or with `?wait=SECONDS` (at most 30) 200
with the verdict when it is ready in time (202 otherwise). `GET /api/v1/hooks/events/{eventId}`
follows an event (hook token, and the API key when one is set).

The operations are declared like every other resource (server/api.py), so routing and
openapi.json come from the same place. Undeclared query parameters are ignored rather than
refused: a webhook URL is typed into Paperless by hand.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from ..core.hook_queue import SOURCES, HookQueue, record_event
from .api import Call, Guard, Reply, Resource
from .envelope import ApiError, error, ok
from .params import MAX_ID, Body, Param, invalid
from .schemas import array, boolean, enum, integer, nullable, number, obj, string

hooks = Resource("Hooks")

PATH = "/api/v1/hooks/document-consumed"
#: The same handler under a name that reads better in a Paperless workflow.
WEBHOOK_PATH = "/api/v1/hooks/paperless-webhook"
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
CHALLENGE = {"WWW-Authenticate": "Bearer"}


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


def check_token(request: Request) -> Response | None:
    """The hook token's guard: 503 while the queue is not running, 401 without the token (or
    when none is configured, with a hint), None to let the request in."""
    token = _queue(request).hooks.token
    if not token:
        return error("UNAUTHORIZED", NO_TOKEN, headers=CHALLENGE)
    if not _authorised(request, token):
        return error(
            "UNAUTHORIZED",
            "Missing or invalid hook token: send 'Authorization: Bearer <token>'"
            " or 'X-Hook-Token: <token>'",
            headers=CHALLENGE,
        )
    return None


HOOK_TOKEN = Guard(
    check_token,
    {
        "hookBearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "The hook token (DUPELESS_HOOK_TOKEN); `Authorization: Token <token>`"
            " works too.",
        },
        "hookTokenHeader": {"type": "apiKey", "in": "header", "name": "X-Hook-Token"},
    },
)


async def read_body(request: Request) -> dict[str, Any]:
    """The body as a flat dict: JSON object, form (urlencoded or multipart) or text of either."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise invalid("body", f"is larger than {MAX_BODY} bytes")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise invalid("body", "is not UTF-8 text") from None
    if not text:
        raise invalid("body", "is empty: send doc_id or doc_url")
    if text.startswith("{") or content_type.endswith("json"):
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise invalid("body", f"is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise invalid("body", "must be a JSON object")
        return body
    return dict(parse_qsl(text, keep_blank_values=True))


def document_id_of(body: dict[str, Any]) -> int:
    """The document id an event names; VALIDATION_FAILED when there is none or it is bad."""
    for key in ID_KEYS:
        value = body.get(key)
        if value is None or value == "" or value == "None":
            continue
        if isinstance(value, bool):
            raise invalid(key, "must be a document id (a positive whole number)")
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if not _is_id(text):
            raise invalid(key, f"must be a document id (a positive whole number), got {value!r}")
        return int(text)
    for key in URL_KEYS:
        value = body.get(key)
        if isinstance(value, str) and value and value != "None":
            match = _DOCUMENT_URL.search(value)
            if match is None or not _is_id(match.group(1)):
                raise invalid(key, f"must end in /documents/<id>/, got {value!r}")
            return int(match.group(1))
    raise invalid("doc_id", "is required: send document_id, doc_id or a doc_url")


def _is_id(text: str) -> bool:
    """ASCII digits naming an id from 1 to MAX_ID (`str.isdigit` also takes "²", which int()
    refuses, and a larger number would overflow SQLite)."""
    return text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID


def _wait(call: Call) -> float:
    """The `wait` asked for, capped at MAX_WAIT (a longer one is shortened, not refused)."""
    return min(call.query["wait"], MAX_WAIT)


def _source(body: dict[str, Any]) -> str:
    if body.get("source") == "post_consume" or "DOCUMENT_ID" in body or "task_id" in body:
        return "post_consume"
    return "webhook"


# --- declarations -------------------------------------------------------------------------------

WAIT = Param(
    "wait",
    number(0, default=0),
    f"Seconds to wait for the verdict (at most {MAX_WAIT:g} are waited); 0 answers at once.",
)
_KEY_RULE = (
    "The document id is taken from the first of these keys that is present and not empty:"
    f" {', '.join(ID_KEYS)} (a positive whole number, or its digits as text), else from the"
    f" first of {', '.join(URL_KEYS)} (a URL ending in /documents/<id>/). Keys after the one"
    " used are not looked at; other keys are stored with the event."
)
_ID = {"anyOf": [integer(1, MAX_ID), string(pattern=r"^\s*[0-9]+\s*$")]}
_URL = string(pattern=_DOCUMENT_URL.pattern)
#: A JSON event: one branch per key the id may come from (keys are looked at in order, so a
#: schema on every key at once would refuse bodies the endpoint takes).
_JSON_EVENT = obj(
    description=_KEY_RULE,
    anyOf=[obj({key: _ID}, required=(key,)) for key in ID_KEYS]
    + [obj({key: _URL}, required=(key,)) for key in URL_KEYS],
)
#: Form fields arrive as text, whatever their type was: the same keys, described only.
_FORM_EVENT = obj(
    {
        **{key: {"description": "A document id."} for key in ID_KEYS},
        **{key: {"description": "A URL ending in /documents/<id>/."} for key in URL_KEYS},
    },
    description=_KEY_RULE,
)
EVENT_BODY = Body(
    _JSON_EVENT,
    description="What the post-consume script or a workflow webhook sends. " + _KEY_RULE,
    reader=read_body,
    media={
        "application/json": _JSON_EVENT,
        "application/x-www-form-urlencoded": _FORM_EVENT,
        "multipart/form-data": _FORM_EVENT,
        "text/plain": string(
            description="A JSON object or urlencoded pairs, as a Paperless webhook's text body"
        ),
    },
)
VERDICT = obj(
    {
        "document_id": integer(1),
        "found": boolean(description="False when Paperless has no such document."),
        "duplicate": boolean(),
        "groups": array(string()),
        "matches": array(integer(1)),
        "best_match": nullable(integer(1)),
        "confidence": nullable(number()),
    },
    required=("document_id", "found", "duplicate", "groups", "matches"),
)
EVENT = obj(
    {
        "eventId": integer(1),
        "documentId": integer(1),
        "source": enum(*SOURCES),
        "status": enum("pending", "processing", "done", "failed"),
        "attempts": integer(0),
        "verdict": nullable(VERDICT),
        "line": nullable(string(description="The verdict as one line for Paperless' log.")),
        "error": nullable(string()),
        "receivedAt": string(),
        "processedAt": nullable(string()),
    },
    required=("eventId", "documentId", "source", "status", "verdict", "line"),
)
QUEUED = obj(
    {"eventId": integer(1), "documentId": integer(1), "status": enum("queued", "processing")},
    required=("eventId", "documentId", "status"),
)
#: Both receiving paths declare exactly this.
_RECEIVE: dict[str, Any] = {
    "reply": Reply(202, data=QUEUED, description="Recorded; no verdict (yet)"),
    "also": (Reply(200, data=EVENT, description="The verdict, ready within `wait` seconds"),),
    "query": (WAIT,),
    "body": EVENT_BODY,
    "errors": ("NOT_READY",),
    "public": True,  # the hook token, not the API key
    "guard": HOOK_TOKEN,
    "extra_query": True,
}


async def receive_event(call: Call) -> Response:
    """Record the event, hand it to the workers, and answer at once or with the verdict."""
    queue = _queue(call.request)
    document_id = document_id_of(call.body)
    event_id = await record_event(queue.store, document_id, _source(call.body), call.body)
    queue.submit(event_id)
    wait = _wait(call)
    if wait > 0:
        event = await queue.wait(event_id, wait)
        if event is not None and (event["status"] in ("done", "failed") or event["verdict"]):
            return ok(event)  # a verdict still writing back to Paperless is "processing"
        status = "processing" if event and event["status"] == "processing" else "queued"
        return ok({"eventId": event_id, "documentId": document_id, "status": status}, status=202)
    return ok({"eventId": event_id, "documentId": document_id, "status": "queued"}, status=202)


@hooks.post(PATH, "A document was consumed (post-consume script or webhook)", **_RECEIVE)
async def document_consumed(call: Call) -> Response:
    """Paperless' post-consume script (hooks/post_consume.py) or a workflow webhook reports a
    new document; it is checked for duplicates at once. See docs/paperless-integration.md."""
    return await receive_event(call)


@hooks.post(WEBHOOK_PATH, "A document was added (Paperless workflow webhook)", **_RECEIVE)
async def paperless_webhook(call: Call) -> Response:
    """The same as /api/v1/hooks/document-consumed, under a name for Paperless workflows."""
    return await receive_event(call)


@hooks.get(
    "/api/v1/hooks/events/{eventId}",
    "One hook event",
    path_params=(Param("eventId", string(), location="path"),),
    query=(WAIT,),
    reply=Reply(data=EVENT),
    errors=("NOT_FOUND", "NOT_READY"),
    guard=HOOK_TOKEN,
    extra_query=True,
)
async def hook_event(call: Call) -> Response:
    """An event by id, e.g. to follow one answered 202; with `wait`, once it is done (or when
    the wait is over). Needs the hook token, and the API key when one is configured."""
    raw = call.path["eventId"]
    event = None
    if _is_id(raw):  # anything else names no event: 404, as for a number never issued
        event = await _queue(call.request).wait(int(raw), _wait(call))
    if event is None:
        return error("NOT_FOUND", f"No hook event {raw}")
    return ok(event)
