"""Sync: start one (POST 202 `{jobId}`) and see the last one and the one running."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.store import Store
from .api import Call, Reply, Resource
from .envelope import ok
from .jobs import FORCE_BODY, JOB_STATUS_PROPERTIES, job_status, start_job
from .schemas import boolean, integer, nullable, obj, string
from .shapes import JOB_STARTED

sync = Resource("Sync and analysis")

_LAST_SYNC = {
    "lastSyncAt": nullable(string()),
    "lastFullSyncAt": nullable(string()),
    "lastSyncDocumentCount": integer(0),
}
SYNC_STATUS = obj(
    {
        **_LAST_SYNC,
        "totalDocuments": integer(0),
        "isSyncing": boolean(),
        **JOB_STATUS_PROPERTIES,
    },
    required=("lastSyncAt", "totalDocuments", "isSyncing", "currentJobId"),
)


async def last_sync(store: Store) -> dict[str, Any]:
    """The most recent sync of any source (a library may have been synced from several)."""
    row = await store.fetchone(
        "SELECT last_sync_at, last_full_sync_at, last_document_count FROM sync_state"
        " ORDER BY last_sync_at DESC LIMIT 1"
    )
    return {
        "lastSyncAt": row["last_sync_at"] if row else None,
        "lastFullSyncAt": row["last_full_sync_at"] if row else None,
        "lastSyncDocumentCount": row["last_document_count"] if row else 0,
    }


@sync.post(
    "/api/v1/sync",
    "Start a sync from Paperless",
    body=FORCE_BODY,
    reply=Reply(202, data=JOB_STARTED),
    errors=("JOB_ALREADY_RUNNING",),
)
async def start_sync(call: Call) -> Response:
    """Incremental by default; `force` re-reads every document."""
    force = bool((call.body or {}).get("force"))
    return await start_job(call.app, "sync", {"force": force})


@sync.get("/api/v1/sync/status", "Last sync and the running one", reply=Reply(data=SYNC_STATUS))
async def sync_status(call: Call) -> Response:
    store = call.app.store
    status = await job_status(call.app, "sync")
    return ok(
        {
            **await last_sync(store),
            "totalDocuments": await store.fetchval("SELECT COUNT(*) FROM documents"),
            "isSyncing": status["currentJobId"] is not None,
            **status,
        }
    )
