"""Paperless proxy: previews and thumbnails streamed through, and the Paperless trash.

Files are streamed as they arrive (never held in memory) with Paperless' content type, length and
disposition. Emptying the trash deletes documents for good, so by default it only touches what
dupeless itself moved there; the whole trash needs an explicit `"scope": "all"`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from ..core import deletion
from ..core.paperless import ByteStream, PaperlessNotFound
from .api import Call, Reply, Resource
from .envelope import ApiError, ok
from .params import MAX_ID, Body, Param
from .schemas import boolean, enum, integer, obj, strict, string

proxy = Resource("Paperless")

PAPERLESS_ID = Param(
    "paperlessId", integer(1, MAX_ID), "The Paperless document id.", location="path"
)
FILE = Reply(media={"*/*": string(format="binary")}, description="The file, as Paperless sends it.")
CACHE = "private, max-age=300"


async def _stream(call: Call, open_file: Callable[[int], Awaitable[ByteStream]]) -> Response:
    document = call.path["paperlessId"]
    try:
        stream = await open_file(document)
    except PaperlessNotFound:
        raise ApiError("NOT_FOUND", f"Paperless has no document {document}") from None
    headers = {"Cache-Control": CACHE}
    if stream.content_length is not None:
        headers["Content-Length"] = str(stream.content_length)
    if stream.content_disposition:
        headers["Content-Disposition"] = stream.content_disposition
    return StreamingResponse(
        stream,
        media_type=stream.content_type,
        headers=headers,
        background=BackgroundTask(stream.aclose),
    )


@proxy.get(
    "/api/v1/paperless/documents/{paperlessId}/preview",
    "The document's preview (archived PDF, or the original)",
    path_params=(PAPERLESS_ID,),
    reply=FILE,
    errors=("NOT_FOUND", "BAD_GATEWAY"),
)
async def preview(call: Call) -> Response:
    return await _stream(call, call.app.paperless().stream_preview)


@proxy.get(
    "/api/v1/paperless/documents/{paperlessId}/thumb",
    "The document's thumbnail",
    path_params=(PAPERLESS_ID,),
    reply=FILE,
    errors=("NOT_FOUND", "BAD_GATEWAY"),
)
async def thumb(call: Call) -> Response:
    return await _stream(call, call.app.paperless().stream_thumb)


@proxy.get(
    "/api/v1/paperless/trash",
    "How many documents are in the Paperless trash",
    reply=Reply(
        data=obj(
            {"count": integer(0), "dupelessCount": integer(0)}, required=("count", "dupelessCount")
        )
    ),
    errors=("BAD_GATEWAY",),
)
async def trash_count(call: Call) -> Response:
    """`count`: the whole trash; `dupelessCount`: those dupeless moved there."""
    count, ours = await deletion.trash_counts(call.app.store, call.app.paperless())
    return ok({"count": count, "dupelessCount": ours})


@proxy.post(
    "/api/v1/paperless/trash",
    "Empty the Paperless trash (only what dupeless moved there, unless scope is all)",
    body=Body(
        strict(
            {
                "action": enum("empty"),
                "scope": enum(
                    "dupeless",
                    "all",
                    default="dupeless",
                    description="dupeless: only documents dupeless trashed; all: everything.",
                ),
            },
            required=("action",),
        )
    ),
    reply=Reply(
        data=obj(
            {"emptied": boolean(), "documentCount": integer(0)},
            required=("emptied", "documentCount"),
        )
    ),
    errors=("BAD_GATEWAY",),
)
async def empty_trash(call: Call) -> Response:
    """Deletes for good; documents restored since dupeless trashed them are left alone."""
    everything = call.body.get("scope") == "all"
    count = await deletion.empty_trash(call.app.store, call.app.paperless(), everything=everything)
    return ok({"emptied": True, "documentCount": count})
