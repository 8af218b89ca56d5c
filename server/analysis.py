"""Analysis: start one (POST 202 `{jobId}`) and see the last one and the one running."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.store import Store
from .api import Call, Reply, Resource
from .envelope import ok
from .jobs import FORCE_BODY, JOB_STATUS_PROPERTIES, job_status, start_job
from .schemas import boolean, integer, nullable, obj, string
from .shapes import JOB_STARTED

analysis = Resource("Sync and analysis")

ANALYSIS_STATUS = obj(
    {
        "lastAnalysisAt": nullable(string()),
        "lastAnalysisJobId": nullable(string()),
        "totalDuplicateGroups": integer(0),
        "pendingDocuments": integer(0),
        "isAnalyzing": boolean(),
        **JOB_STATUS_PROPERTIES,
    },
    required=("lastAnalysisAt", "totalDuplicateGroups", "isAnalyzing", "currentJobId"),
)


async def last_analysis(store: Store) -> dict[str, Any]:
    """When the last analysis completed (analyses that failed or were cancelled do not count)."""
    row = await store.fetchone(
        "SELECT id, completed_at FROM jobs WHERE type = 'analysis' AND status = 'completed'"
        " ORDER BY created_at DESC LIMIT 1"
    )
    return {
        "lastAnalysisAt": row["completed_at"] if row else None,
        "lastAnalysisJobId": row["id"] if row else None,
    }


@analysis.post(
    "/api/v1/analysis",
    "Start a duplicate analysis",
    body=FORCE_BODY,
    reply=Reply(202, data=JOB_STARTED),
    errors=("JOB_ALREADY_RUNNING",),
)
async def start_analysis(call: Call) -> Response:
    """Incremental by default; `force` recomputes every signature and score."""
    force = bool((call.body or {}).get("force"))
    return await start_job(call.app, "analysis", {"force": force})


@analysis.get(
    "/api/v1/analysis/status",
    "Last analysis and the running one",
    reply=Reply(data=ANALYSIS_STATUS),
)
async def analysis_status(call: Call) -> Response:
    store = call.app.store
    status = await job_status(call.app, "analysis")
    return ok(
        {
            **await last_analysis(store),
            "totalDuplicateGroups": await store.fetchval("SELECT COUNT(*) FROM duplicate_groups"),
            "pendingDocuments": await store.fetchval(
                "SELECT COUNT(*) FROM documents WHERE processing_status = 'pending'"
            ),
            "isAnalyzing": status["currentJobId"] is not None,
            **status,
        }
    )
