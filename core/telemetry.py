"""OpenTelemetry traces and the instrumentation that feeds both traces and Prometheus metrics.

One `Telemetry` object per app (or CLI run) holds an optional tracer and an optional `Metrics`;
every hook point records into both when they are on and costs one attribute check when they are
off:

- `monitor` is a `Pipeline` monitor: a span and a duration sample around every stage and every
  hook call, so third-party plugins are traced like built-in ones;
- `instrument_jobs(runner)` wraps each job handler: a job span (a new trace linked to whatever
  started it, since a job outlives its request), job counters, sync/analysis figures, and a
  refresh of the store gauges when a job ends;
- `instrument_paperless(client)` wraps the client's httpx transport, the single place every
  Paperless request (each retry included) goes through: a CLIENT span, a `traceparent` header,
  and the request counter and duration;
- the server side (request spans and durations) is `server/metrics.py`'s middleware.

Spans never carry document content: only ids, route and endpoint templates, plugin names and
counts. Context reaches worker threads because `asyncio.to_thread` runs the function in a copy of
the caller's contextvars (OTel's context lives in a contextvar), so spans opened in a hook that
`Pipeline.call(..., offload=True)` runs are children of the hook span.

Tracing is configured from `[telemetry]` (OTEL_ENABLED, OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER,
OTEL_EXPORTER_OTLP_ENDPOINT). Tests pass their own TracerProvider: OTel's global provider can
only be set once per process, so nothing here requires it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import __version__
from .errors import JobCancelled
from .metrics import Metrics

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor

    from .config import Settings, TelemetrySettings
    from .jobs import JobContext, JobRunner
    from .paperless import PaperlessClient
    from .pipeline import Pipeline

log = logging.getLogger("dupeless.telemetry")

TRACER_NAME = "dupeless"
#: W3C trace context (`traceparent`, `tracestate`), in and out.
PROPAGATOR = TraceContextTextMapPropagator()
_INSTRUMENTED = "__dupeless_telemetry__"
_NUMBER = re.compile(r"^\d+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

_global_provider_set = False


# --- tracer provider --------------------------------------------------------------------------


def span_exporter(settings: Settings) -> Any:
    """The exporter `[telemetry]` asks for; OTLP falls back to the console when missing."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    telemetry = settings.telemetry
    if telemetry.traces_exporter == "none":
        return None
    if telemetry.traces_exporter == "console":
        return ConsoleSpanExporter(service_name=telemetry.service_name)
    endpoint = telemetry.otlp_endpoint or None
    try:  # OTLP over HTTP (opentelemetry-exporter-otlp-proto-http)
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore
            OTLPSpanExporter,
        )

        if endpoint and not endpoint.rstrip("/").endswith("/v1/traces"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint)
    except ImportError:
        pass
    try:  # OTLP over gRPC (opentelemetry-exporter-otlp-proto-grpc)
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(endpoint=endpoint)
    except ImportError:
        log.warning(
            "OTEL_TRACES_EXPORTER=otlp but no OTLP exporter package is installed"
            " (opentelemetry-exporter-otlp-proto-http); writing spans to the console instead"
        )
        return ConsoleSpanExporter(service_name=telemetry.service_name)


def build_tracer_provider(settings: Settings) -> TracerProvider:
    """An SDK TracerProvider with `service.name` and a batching exporter from the settings."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    resource = Resource.create(
        {"service.name": settings.telemetry.service_name, "service.version": __version__}
    )
    provider = SdkTracerProvider(resource=resource)
    exporter = span_exporter(settings)
    if exporter is not None:
        provider.add_span_processor(batch_processor(exporter, settings.telemetry))
    return provider


def batch_processor(exporter: Any, telemetry: TelemetrySettings) -> SpanProcessor:
    """The SDK's BatchSpanProcessor, handing spans to `exporter` `export_batch_size` at a time.

    The SDK's 512 keeps up to 512 finished spans alive until the worker thread takes them; a
    request then allocates among them instead of reusing the memory of recent ones, and the
    review queue answered 6 % slower with tracing on. Batches of 32 bring that to about 3 %
    (docs/observability.md, Cost); an exporter gets one call per 32 spans at most, and the
    SDK's other OTEL_BSP_* variables apply as usual.
    """
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    return BatchSpanProcessor(exporter, max_export_batch_size=telemetry.export_batch_size)


def install_tracing(
    settings: Settings,
    tracer_provider: TracerProvider | None = None,
    *,
    set_global: bool = True,
) -> TracerProvider | None:
    """The provider to trace with: the one given (tests), else one built from the settings when
    `telemetry.enabled`, else None. A built one also becomes OTel's global provider (once per
    process) so plugins calling `trace.get_tracer()` join the same traces."""
    global _global_provider_set
    if tracer_provider is not None:
        return tracer_provider
    if not settings.telemetry.enabled:
        return None
    provider = build_tracer_provider(settings)
    if set_global and not _global_provider_set:
        trace.set_tracer_provider(provider)
        _global_provider_set = True
    return provider


# --- the telemetry object ---------------------------------------------------------------------


class Telemetry:
    """What the instrumentation records into: a tracer and/or metrics, each optional."""

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        metrics: Metrics | None = None,
        excluded_urls: Sequence[str] = (),
    ):
        self.tracer_provider = tracer_provider
        self.tracer: Tracer | None = (
            tracer_provider.get_tracer(TRACER_NAME, __version__) if tracer_provider else None
        )
        self.metrics = metrics
        self.excluded_urls = (
            re.compile("|".join(f"(?:{pattern})" for pattern in excluded_urls))
            if excluded_urls
            else None
        )
        self.store: Any = None  # set by `instrument_jobs` / `bind_store` for the gauges

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        tracer_provider: TracerProvider | None = None,
        metrics: Metrics | None = None,
    ) -> Telemetry:
        """Tracing when `telemetry.enabled` (or a provider is given), metrics when
        `telemetry.prometheus_enabled` (a fresh registry unless `metrics` is given)."""
        provider = install_tracing(settings, tracer_provider)
        if metrics is None and settings.telemetry.prometheus_enabled:
            metrics = Metrics()
        return cls(
            tracer_provider=provider,
            metrics=metrics,
            excluded_urls=settings.telemetry.excluded_urls,
        )

    @property
    def active(self) -> bool:
        return self.tracer is not None or self.metrics is not None

    def untraced(self, path: str) -> bool:
        """Whether requests to `path` go without a span (an `excluded_urls` pattern matches).
        Probes and scrapes are excluded by default: they arrive every few seconds, a span
        would cost them a tenth of their time, and a trace of one shows nothing."""
        return self.excluded_urls is not None and self.excluded_urls.search(path) is not None

    def shutdown(self) -> None:
        """Flush and stop the span processors of a provider this process built."""
        shutdown = getattr(self.tracer_provider, "shutdown", None)
        if shutdown is not None:
            shutdown()

    # -- pipeline ----------------------------------------------------------------------------

    def instrument_pipeline(self, pipeline: Pipeline) -> None:
        """Add `monitor` to the pipeline's monitors (once)."""
        if self.active and self.monitor not in pipeline.monitors:
            pipeline.monitors.append(self.monitor)

    @contextmanager
    def monitor(self, kind: str, name: str, plugin: str | None) -> Iterator[None]:
        """The Pipeline monitor: a span and a duration sample around one stage or hook call."""
        started = time.perf_counter()
        outcome = "error"
        try:
            if self.tracer is None:
                yield
            else:
                attributes: dict[str, Any] = {f"dupeless.{kind}": name}
                if plugin:
                    attributes["dupeless.plugin"] = plugin
                with self.tracer.start_as_current_span(
                    f"{kind} {name}",
                    attributes=attributes,
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span:
                    try:
                        yield
                    except (JobCancelled, asyncio.CancelledError):
                        raise
                    except BaseException as exc:
                        mark_error(span, exc)
                        raise
            outcome = "ok"
        except (JobCancelled, asyncio.CancelledError):
            outcome = "cancelled"
            raise
        finally:
            if self.metrics is not None:
                self.metrics.observe_call(
                    kind, name, plugin, outcome, time.perf_counter() - started
                )

    # -- jobs --------------------------------------------------------------------------------

    def instrument_jobs(self, runner: JobRunner) -> None:
        """Wrap every registered job handler, and those registered later, with `job_span`."""
        if not self.active or getattr(runner, _INSTRUMENTED, False):
            return
        from .jobs import JobType

        self.store = runner.store
        for job_type, entry in list(runner.types.items()):
            runner.types[job_type] = JobType(
                self._wrap_job(job_type, entry.handler), entry.resumable
            )
        register = runner.register

        @functools.wraps(register)
        def instrumented_register(job_type: str, handler: Any, *, resumable: bool = False) -> None:
            register(job_type, self._wrap_job(job_type, handler), resumable=resumable)

        runner.register = instrumented_register  # type: ignore[method-assign]
        setattr(runner, _INSTRUMENTED, True)

    def _wrap_job(self, job_type: str, handler: Any) -> Any:
        if getattr(handler, _INSTRUMENTED, False):
            return handler

        @functools.wraps(handler)
        async def instrumented(ctx: JobContext) -> dict[str, Any] | None:
            return await self.run_job(job_type, ctx, handler)

        setattr(instrumented, _INSTRUMENTED, True)
        return instrumented

    async def run_job(self, job_type: str, ctx: JobContext, handler: Any) -> Any:
        """Run one job handler inside its span, then record the job's outcome and figures."""
        started = time.perf_counter()
        outcome = "failed"
        result: Any = None
        if self.metrics is not None:
            self.metrics.jobs_active.labels(job_type).inc()
        try:
            if self.tracer is None:
                result = await handler(ctx)
            else:
                with self.job_span(job_type, ctx.id, resumed=ctx.checkpoint is not None) as span:
                    result = await handler(ctx)
                    if isinstance(result, Mapping):
                        span.set_attributes(_figures(result))
            outcome = "completed"
            return result
        except JobCancelled:
            outcome = "cancelled"
            raise
        except asyncio.CancelledError:
            outcome = "interrupted"  # shutdown: the row stays running for recover()
            raise
        finally:
            if self.metrics is not None:
                self.metrics.jobs_active.labels(job_type).dec()
                self.metrics.record_job(job_type, outcome, time.perf_counter() - started)
                if job_type == "sync" and isinstance(result, Mapping):
                    self.metrics.record_sync_result(result)
                elif job_type == "analysis" and outcome != "interrupted":
                    self.metrics.record_analysis(outcome)
                if outcome != "interrupted":
                    await self.refresh_store(ctx.store)

    @contextmanager
    def job_span(self, job_type: str, job_id: str, *, resumed: bool = False) -> Iterator[Any]:
        """A root span for one job run, linked to the span that started it (if any)."""
        if self.tracer is None:
            yield trace.INVALID_SPAN
            return
        starter = trace.get_current_span().get_span_context()
        links = [Link(starter)] if starter.is_valid else []
        attributes = {"dupeless.job.type": job_type, "dupeless.job.id": job_id}
        if resumed:
            attributes["dupeless.job.resumed"] = True
        with self.tracer.start_as_current_span(
            f"job {job_type}",
            context=Context(),
            links=links,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except (JobCancelled, asyncio.CancelledError):
                span.set_attribute("dupeless.job.outcome", "cancelled")
                raise
            except Exception as exc:
                span.set_attribute("dupeless.job.outcome", "failed")
                mark_error(span, exc)
                raise
            else:
                span.set_attribute("dupeless.job.outcome", "completed")

    # -- store gauges --------------------------------------------------------------------------

    def bind_store(self, store: Any) -> None:
        """The store the gauges are read from (set by `instrument_jobs` too)."""
        self.store = store

    async def refresh_store(self, store: Any = None) -> None:
        """Re-read the store gauges now (after a job, at start-up); never raises."""
        store = store if store is not None else self.store
        if self.metrics is None or store is None:
            return
        try:
            await self.metrics.refresh_store(store)
        except Exception as exc:
            log.warning("metrics: could not read the store gauges: %s", exc)

    # -- sync, analysis, hook events (for callers outside the job runner) -----------------------

    def record_sync_result(self, result: Mapping[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.record_sync_result(result)

    def record_analysis(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.record_analysis(outcome)

    def record_hook_event(self, outcome: str, latency_seconds: float | None = None) -> None:
        """For the hooks feature: one event handled (`done`, `failed`, ...) and its latency."""
        if self.metrics is not None:
            self.metrics.record_hook_event(outcome, latency_seconds)

    # -- Paperless -----------------------------------------------------------------------------

    def instrument_paperless(self, client: PaperlessClient) -> PaperlessClient:
        """Wrap the client's httpx transport(s): every request, each retry included, is traced
        and counted. Idempotent; returns the client."""
        if not self.active:
            return client
        http: httpx.AsyncClient = client._client
        base_path = httpx.URL(client.url).path.rstrip("/")
        transport = http._transport
        if not isinstance(transport, InstrumentedTransport):
            http._transport = InstrumentedTransport(transport, self, base_path)
        for pattern, mounted in list(http._mounts.items()):
            if mounted is not None and not isinstance(mounted, InstrumentedTransport):
                http._mounts[pattern] = InstrumentedTransport(mounted, self, base_path)
        return client


def mark_error(span: Any, exc: BaseException) -> None:
    """Mark a span failed with the exception's type only: messages may quote document text."""
    name = type(exc).__qualname__
    span.set_attribute("error.type", name)
    span.set_status(Status(StatusCode.ERROR, name))


def _figures(result: Mapping[str, Any]) -> dict[str, Any]:
    """A job result's plain numbers and flags as span attributes (never ids or text)."""
    return {
        f"dupeless.result.{key}": value
        for key, value in result.items()
        if isinstance(value, int | float | bool) and not key.lower().endswith("id")
    }


def endpoint_template(path: str, base_path: str = "") -> str:
    """`/api/documents/12/notes/` -> `/api/documents/{id}/notes/`: a bounded metric label."""
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    if not path.startswith("/api/"):
        return "other"
    parts = path.split("/")
    for index, part in enumerate(parts):
        if _NUMBER.match(part):
            parts[index] = "{id}"
        elif _UUID.match(part):
            parts[index] = "{uuid}"
    return "/".join(parts)


class InstrumentedTransport(httpx.AsyncBaseTransport):
    """An httpx transport wrapper: CLIENT span + metrics around each request it sends."""

    def __init__(self, inner: httpx.AsyncBaseTransport, telemetry: Telemetry, base_path: str):
        self.inner = inner
        self.telemetry = telemetry
        self.base_path = base_path

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        telemetry = self.telemetry
        endpoint = endpoint_template(request.url.path, self.base_path)
        method = request.method
        status = "error"
        started = time.perf_counter()
        span = None
        if telemetry.tracer is not None:
            url = request.url
            attributes: dict[str, Any] = {
                "http.request.method": method,
                "url.full": str(url.copy_with(query=None)),
                "url.template": endpoint,
                "server.address": url.host,
            }
            if url.port is not None:
                attributes["server.port"] = url.port
            span = telemetry.tracer.start_span(
                f"{method} {endpoint}", kind=SpanKind.CLIENT, attributes=attributes
            )
            PROPAGATOR.inject(request.headers, context=trace.set_span_in_context(span))
        try:
            response = await self.inner.handle_async_request(request)
        except BaseException as exc:
            if span is not None:
                mark_error(span, exc)
            raise
        else:
            status = str(response.status_code)
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
                if response.status_code >= 400:
                    span.set_attribute("error.type", status)
                    span.set_status(Status(StatusCode.ERROR))
            return response
        finally:
            if telemetry.metrics is not None:
                telemetry.metrics.observe_paperless(
                    endpoint, method, status, time.perf_counter() - started
                )
            if span is not None:
                span.end()

    async def aclose(self) -> None:
        await self.inner.aclose()


# --- one call to wire it all ------------------------------------------------------------------


def install_telemetry(
    settings: Settings,
    pipeline: Pipeline | None = None,
    jobs: JobRunner | None = None,
    *,
    telemetry: Telemetry | None = None,
    tracer_provider: TracerProvider | None = None,
    metrics: Metrics | None = None,
) -> Telemetry:
    """Build (or take) the Telemetry and attach it to the pipeline and the job runner.

    Paperless clients are instrumented with `telemetry.instrument_paperless(client)` where they
    are made; when core/paperless.py offers a `CLIENT_HOOKS` list, every new client is.
    """
    if telemetry is None:
        telemetry = Telemetry.from_settings(
            settings, tracer_provider=tracer_provider, metrics=metrics
        )
    if pipeline is not None:
        telemetry.instrument_pipeline(pipeline)
    if jobs is not None:
        telemetry.instrument_jobs(jobs)
    _register_client_hook(telemetry)
    return telemetry


_current: Telemetry | None = None


def _register_client_hook(telemetry: Telemetry) -> None:
    """Point paperless.CLIENT_HOOKS (if the module has it) at the latest installed Telemetry."""
    global _current
    from . import paperless

    _current = telemetry
    hooks = getattr(paperless, "CLIENT_HOOKS", None)
    if hooks is not None and instrument_new_client not in hooks:
        hooks.append(instrument_new_client)


def instrument_new_client(client: PaperlessClient) -> None:
    """A `paperless.CLIENT_HOOKS` entry: instrument each new client with the current Telemetry."""
    if _current is not None:
        _current.instrument_paperless(client)
