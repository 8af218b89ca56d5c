"""GET /api/v1/dashboard: the summary cards and the correspondents with most unresolved groups."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.store import Store
from .analysis import last_analysis
from .api import Call, Reply, Resource
from .duplicates import TOP_CORRESPONDENTS, top_correspondents
from .envelope import ok
from .schemas import integer, nullable, obj, string
from .sync import last_sync

dashboard = Resource("Dashboard")

_CARDS = {
    "totalDocuments": integer(0),
    "unresolvedGroups": integer(0),
    "storageSavingsBytes": integer(0),
    "pendingAnalysis": integer(0),
    "lastSyncAt": nullable(string()),
    "lastSyncDocumentCount": integer(0),
    "lastAnalysisAt": nullable(string()),
    "totalDuplicateGroups": integer(0),
    "topCorrespondents": TOP_CORRESPONDENTS,
}
DASHBOARD = obj(_CARDS, required=tuple(_CARDS))


@dashboard.get("/api/v1/dashboard", "Summary cards", reply=Reply(data=DASHBOARD))
async def get_dashboard(call: Call) -> Response:
    """`unresolvedGroups` are the pending ones; `storageSavingsBytes` is what deleting their
    non-primary documents would free (original file sizes)."""
    return ok(await call.app.aggregates.get("dashboard", call.app.store, dashboard_cards))


async def dashboard_cards(store: Store) -> dict[str, Any]:
    """The dashboard figures, computed from the store."""
    sync, analysis = await last_sync(store), await last_analysis(store)
    return {
        "totalDocuments": await store.fetchval("SELECT COUNT(*) FROM documents"),
        "unresolvedGroups": await store.fetchval(
            "SELECT COUNT(*) FROM duplicate_groups WHERE status = 'pending'"
        ),
        "storageSavingsBytes": await store.fetchval(
            "SELECT COALESCE(SUM(d.original_size), 0) FROM duplicate_groups g"
            " JOIN group_members gm ON gm.group_id = g.id"
            " JOIN documents d ON d.id = gm.document_id"
            " WHERE g.status = 'pending' AND d.id IS NOT g.primary_document_id"
        ),
        "pendingAnalysis": await store.fetchval(
            "SELECT COUNT(*) FROM documents WHERE processing_status = 'pending'"
        ),
        "lastSyncAt": sync["lastSyncAt"],
        "lastSyncDocumentCount": sync["lastSyncDocumentCount"],
        "lastAnalysisAt": analysis["lastAnalysisAt"],
        "totalDuplicateGroups": await store.fetchval("SELECT COUNT(*) FROM duplicate_groups"),
        "topCorrespondents": await top_correspondents(store, status="pending"),
    }
