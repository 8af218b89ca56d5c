"""GET /api/v1/health: process liveness (public, no API key)."""

from __future__ import annotations

from starlette.responses import Response

from ..core.store import utcnow
from .api import Call, Reply, Resource
from .envelope import ok
from .schemas import enum, obj, string

health = Resource("Health")

HEALTH = obj({"status": enum("ok"), "timestamp": string()}, required=("status", "timestamp"))


@health.get("/api/v1/health", "Process liveness", reply=Reply(data=HEALTH), public=True)
async def get_health(_: Call) -> Response:
    """Answers as long as the process serves requests; checks nothing else."""
    return ok({"status": "ok", "timestamp": utcnow()})
