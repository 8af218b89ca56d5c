"""Jobs: list, get, cancel, and follow one live over Server-Sent Events.

The SSE stream (`/jobs/{jobId}/progress`) sends `event: progress` every 500 ms while the job is
pending or running, then exactly one `event: complete` and closes; a job already finished gets
the `complete` event at once. A comment line every 15 s keeps proxies from closing an idle
connection, and `X-Accel-Buffering: no` stops nginx from holding the events back.

`start_job` and `job_status` are shared by the sync and analysis resources.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from ..core.jobs import TERMINAL
from .api import Call, Reply, Resource
from .envelope import ok
from .params import Body, Param
from .schemas import array, boolean, integer, nullable, obj, strict, string
from .shapes import JOB, JOB_STATUS, JOB_TYPE, job_json
from .state import AppState

jobs = Resource("Jobs")

PROGRESS_INTERVAL = 0.5
KEEP_ALIVE_INTERVAL = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
FORCE_BODY = Body(
    strict({"force": boolean(description="Reprocess everything, not only changes.")}),
    required=False,
)
JOB_ID = Param("jobId", string(), location="path")


async def start_job(app: AppState, job_type: str, params: dict[str, Any]) -> Response:
    """Start a job and answer 202 `{jobId}`; 409 JOB_ALREADY_RUNNING comes from the runner."""
    return ok({"jobId": await app.jobs.start(job_type, params)}, status=202)


async def job_status(app: AppState, job_type: str) -> dict[str, Any]:
    """The active job of a type: `currentJobId` and `currentJob` (both null when idle)."""
    active = await app.jobs.active(job_type)
    return {
        "currentJobId": active["id"] if active else None,
        "currentJob": job_json(active) if active else None,
    }


#: The schema of `job_status`' keys, for the status endpoints that include them.
JOB_STATUS_PROPERTIES = {"currentJobId": nullable(string()), "currentJob": nullable(JOB)}


@jobs.get(
    "/api/v1/jobs",
    "List jobs, newest first",
    query=(
        Param("type", JOB_TYPE),
        Param("status", JOB_STATUS),
        Param("limit", integer(1, 200, default=50), "At most this many jobs."),
    ),
    reply=Reply(data=array(JOB)),
)
async def list_jobs(call: Call) -> Response:
    rows = await call.app.jobs.list(
        job_type=call.query["type"], status=call.query["status"], limit=call.query["limit"]
    )
    return ok([job_json(row) for row in rows])


@jobs.get(
    "/api/v1/jobs/{jobId}",
    "One job",
    path_params=(JOB_ID,),
    reply=Reply(data=JOB),
    errors=("NOT_FOUND",),
)
async def get_job(call: Call) -> Response:
    return ok(job_json(await call.app.jobs.get(call.path["jobId"])))


@jobs.post(
    "/api/v1/jobs/{jobId}/cancel",
    "Cancel a pending or running job",
    path_params=(JOB_ID,),
    reply=Reply(data=obj({"jobId": string(), "status": string()}, required=("jobId", "status"))),
    errors=("NOT_FOUND", "CONFLICT"),
)
async def cancel_job(call: Call) -> Response:
    """Cancellation is cooperative: the job stops at its next check and is then `cancelled`."""
    job_id = call.path["jobId"]
    return ok({"jobId": job_id, "status": await call.app.jobs.cancel(job_id)})


@jobs.get(
    "/api/v1/jobs/{jobId}/progress",
    "Follow a job (Server-Sent Events)",
    path_params=(JOB_ID,),
    reply=Reply(
        media={"text/event-stream": string()},
        description="`progress` events every 500 ms, then one `complete` event.",
    ),
    errors=("NOT_FOUND",),
)
async def job_progress(call: Call) -> Response:
    job = await call.app.jobs.get(call.path["jobId"])  # 404 before the stream starts
    return StreamingResponse(
        _events(call.app, job), media_type="text/event-stream", headers=SSE_HEADERS
    )


async def _events(app: AppState, job: dict[str, Any]) -> AsyncIterator[str]:
    kept_alive = time.monotonic()
    yield ": connected\n\n"
    while job["status"] not in TERMINAL:
        yield _event("progress", job)
        await asyncio.sleep(PROGRESS_INTERVAL)
        if time.monotonic() - kept_alive >= KEEP_ALIVE_INTERVAL:
            kept_alive = time.monotonic()
            yield ": keep-alive\n\n"
        job = await app.jobs.get(job["id"])
    yield _event("complete", job)


def _event(name: str, job: dict[str, Any]) -> str:
    data = {
        "progress": job["progress"],
        "message": job["progress_message"],
        "status": job["status"],
    }
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"
