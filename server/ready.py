"""GET /api/v1/ready: can dupeless do its work? The database answers and Paperless is reachable.

Public (no API key), like health, so orchestrators can probe it. Paperless is asked once, without
retries and with a short timeout. In demo mode the Paperless check says so (`"mode": "demo"`).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import Response

from ..core.paperless import PaperlessError
from .api import Call, Reply, Resource
from .envelope import error, ok
from .schemas import enum, obj, string
from .state import AppState, probe_client

log = logging.getLogger("dupeless.server")

ready = Resource("Health")

CHECK = obj(
    {"status": enum("ok", "error"), "mode": enum("demo"), "error": string()},
    required=("status",),
)
READY = obj(
    {"status": enum("ready"), "checks": obj({"database": CHECK, "paperless": CHECK})},
    required=("status", "checks"),
)


@ready.get(
    "/api/v1/ready",
    "Readiness: database and Paperless",
    reply=Reply(data=READY),
    errors=("NOT_READY",),
    public=True,
)
async def get_ready(call: Call) -> Response:
    """503 NOT_READY, with every check as the error details, when one fails."""
    checks = {"database": await _database(call.app), "paperless": await _paperless(call.app)}
    if all(check["status"] == "ok" for check in checks.values()):
        return ok({"status": "ready", "checks": checks})
    return error("NOT_READY", "One or more checks failed", [checks])


async def _database(app: AppState) -> dict[str, Any]:
    try:
        await app.store.fetchval("SELECT 1 FROM app_config LIMIT 1")
    except Exception as exc:  # any failure means not ready; the probe reports it, not raises
        log.warning("readiness: database check failed: %s", exc)
        return {"status": "error", "error": str(exc) or type(exc).__name__}
    return {"status": "ok"}


async def _paperless(app: AppState) -> dict[str, Any]:
    paperless = app.settings.paperless
    if not paperless.url:
        return {"status": "ok", "mode": "demo"}
    demo = {"mode": "demo"} if app.demo else {}
    try:
        async with probe_client(paperless) as client:
            await client.test_connection()
    except PaperlessError as exc:
        return {"status": "error", "error": str(exc), **demo}
    return {"status": "ok", **demo}
