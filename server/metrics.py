"""GET /metrics and GET /api/v1/metrics, and the ASGI middleware that times and traces requests.

The endpoints answer in the Prometheus text exposition format 0.0.4; when Prometheus is disabled
(OTEL_PROMETHEUS_ENABLED=false) they answer 404 with a plain-text message. Both are public, like
health and ready, so a scraper needs no API key.

`TelemetryMiddleware` is a pure ASGI middleware (streamed responses pass through untouched): per
HTTP request one SERVER span named `METHOD route-template` with the stable HTTP semantic-convention
attributes, the incoming W3C `traceparent` honoured (no span for paths `telemetry.excluded_urls`
matches: health, ready and metrics by default; see `request_span` for when the span is
recorded), and one sample of
`dupeless_http_request_duration_seconds{method,route,status}`. Requests that match no route are
labelled `unmatched`, so raw paths never become label values.

It finds the Telemetry on `app.state.telemetry` (set it in create_app) unless one is passed.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import context, trace
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.metrics import CONTENT_TYPE, UNMATCHED, method_label
from ..core.telemetry import Telemetry
from .api import Call, Reply, Resource
from .request_span import RequestSpan
from .schemas import string

DISABLED_MESSAGE = (
    "Metrics are disabled. Set OTEL_PROMETHEUS_ENABLED=true (telemetry.prometheus_enabled) to"
    " serve them.\n"
)

metrics = Resource("Metrics")

_REPLY = Reply(
    media={CONTENT_TYPE: string(description="Prometheus text exposition format 0.0.4")},
    description="Prometheus metrics (404 with a plain-text message when disabled)",
)


def telemetry_of(app: Any) -> Telemetry | None:
    return getattr(app.state, "telemetry", None)


async def render_metrics(request: Request) -> Response:
    """The metrics of `request.app`, or a plain-text 404 when Prometheus is disabled."""
    telemetry = telemetry_of(request.app)
    if telemetry is None or telemetry.metrics is None:
        return PlainTextResponse(DISABLED_MESSAGE, status_code=404)
    store = telemetry.store
    if store is None:
        state = getattr(request.app.state, "dupeless", None)
        store = getattr(state, "store", None)
    if store is not None:
        await telemetry.metrics.maybe_refresh_store(store)
    return Response(telemetry.metrics.render(), media_type=CONTENT_TYPE)


@metrics.get("/api/v1/metrics", "Prometheus metrics", reply=_REPLY, public=True)
async def get_metrics(call: Call) -> Response:
    """Application metrics in the Prometheus text format; see docs/observability.md."""
    return await render_metrics(call.request)


@metrics.get("/metrics", "Prometheus metrics (conventional path)", reply=_REPLY, public=True)
async def get_root_metrics(call: Call) -> Response:
    """The same as /api/v1/metrics, at the path Prometheus scrapes by default."""
    return await render_metrics(call.request)


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return None
    if not isinstance(route, Route):  # a Mount: its prefix, whatever lies below
        return f"{path}/{{path}}"
    return path


class TelemetryMiddleware:
    """Times and traces every HTTP request; see the module docstring."""

    def __init__(self, app: ASGIApp, *, telemetry: Telemetry | None = None):
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        telemetry = self.telemetry
        if telemetry is None:
            app = scope.get("app")
            telemetry = telemetry_of(app) if app is not None else None
        if telemetry is None or (telemetry.tracer is None and telemetry.metrics is None):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        span = token = None
        if telemetry.tracer is not None and not telemetry.untraced(scope["path"]):
            span = RequestSpan(telemetry.tracer, scope, method_label(method))
            token = context.attach(trace.set_span_in_context(span))
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            route = _route_template(scope)
            if span is not None:
                context.detach(token)
                span.finish(route, status, failure)
            if telemetry.metrics is not None:
                telemetry.metrics.observe_http(
                    method, route or UNMATCHED, status, time.perf_counter() - started
                )
