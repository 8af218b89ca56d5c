"""The SERVER span of one HTTP request, recorded once the response has gone out.

Most requests start no child span and call no Paperless, so nothing needs their span while they
run. `RequestSpan` stands in as the current span; only when something asks for its context (a
child span or the `traceparent` of a Paperless call) does it start the real SDK span,
back-dated to the request's arrival. Otherwise the span is started and ended in
`finish`, after the last byte of the response was sent: the client does not wait for the SDK.
The span is the same either way (name, times, attributes, parent), and samplers still see the
request attributes, because they go into `start_span`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from opentelemetry import context
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import Attributes
from starlette.types import Scope

from ..core.telemetry import PROPAGATOR

_SPAN_HEADERS = (b"traceparent", b"tracestate", b"host", b"user-agent")


class RequestSpan(Span):
    """A stand-in for the request's span that starts the real one when first used."""

    def __init__(self, tracer: Tracer, scope: Scope, method: str):
        self._tracer = tracer
        self._scope = scope
        self._method = method
        self._start = time.time_ns()
        self._outer = context.get_current()
        self._span: Span | None = None
        self._lock = threading.Lock()  # a handler's worker threads may ask at the same moment

    def started(self) -> Span:
        """The SDK span, started now (back-dated to the request's arrival) if not yet."""
        if self._span is not None:
            return self._span
        with self._lock:
            if self._span is None:
                headers = _headers(self._scope)
                self._span = self._tracer.start_span(
                    self._method,
                    _parent(headers, self._outer),
                    SpanKind.SERVER,
                    _request_attributes(self._scope, self._method, headers),
                    start_time=self._start,
                    record_exception=False,
                    set_status_on_exception=False,
                )
        return self._span

    def finish(self, route: str | None, status: int, failure: BaseException | None) -> None:
        """Name the span after its route, add the outcome and end it now.

        The outcome goes in one `set_attributes` call (each `set_attribute` takes the span's lock
        and validates on its own); a span the sampler dropped records nothing.
        """
        span = self.started()
        if span.is_recording():
            attributes: dict[str, Any] = {"http.response.status_code": 500 if failure else status}
            if route is not None:
                attributes["http.route"] = route
                span.update_name(f"{self._method} {route}")
            if failure is not None:
                attributes["error.type"] = type(failure).__qualname__
                span.set_status(Status(StatusCode.ERROR, type(failure).__qualname__))
            elif status >= 500:
                attributes["error.type"] = str(status)
                span.set_status(Status(StatusCode.ERROR))
            span.set_attributes(attributes)
        span.end()

    # -- the Span interface, passed on to the started span --------------------------------------

    def get_span_context(self) -> SpanContext:
        return self.started().get_span_context()

    def is_recording(self) -> bool:
        return self.started().is_recording()

    def set_attribute(self, key: str, value: Any) -> None:
        self.started().set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.started().set_attributes(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        self.started().add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        self.started().add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self.started().update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self.started().set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self.started().record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time: int | None = None) -> None:
        self.started().end(end_time)


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers a span reads, decoded, in one pass over the ASGI header list."""
    return {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope["headers"]
        if key in _SPAN_HEADERS
    }


def _parent(headers: dict[str, str], outer: Context) -> Context:
    """The incoming W3C trace context, else the context the request arrived in."""
    return PROPAGATOR.extract(headers, outer) if "traceparent" in headers else outer


def _request_attributes(scope: Scope, method: str, headers: dict[str, str]) -> dict[str, Any]:
    """The stable HTTP semantic-convention attributes known when a request arrives."""
    host = headers.get("host", "")
    agent = headers.get("user-agent", "")
    attributes: dict[str, Any] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if host:
        address, _, port = host.rpartition(":") if not host.endswith("]") else ("", "", "")
        attributes["server.address"] = address or host
        if port.isdigit():
            attributes["server.port"] = int(port)
    elif server := scope.get("server"):
        attributes["server.address"] = server[0]
        if server[1] is not None:
            attributes["server.port"] = server[1]
    if client := scope.get("client"):
        attributes["client.address"] = client[0]
    if agent:
        attributes["user_agent.original"] = agent
    if method != scope["method"]:
        attributes["http.request.method_original"] = scope["method"]
    return attributes
