"""GET /api/v1/health: process liveness."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.store import utcnow
from .envelope import ok


async def health(_: Request) -> Response:
    return ok({"status": "ok", "timestamp": utcnow()})


routes = [Route("/api/v1/health", health, methods=["GET"])]
