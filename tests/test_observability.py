"""Observability: Prometheus metrics move and OpenTelemetry spans nest as documented."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import pytest
from dupeless.core.config import load_settings
from dupeless.core.errors import ConfigError
from dupeless.core.hookspecs import hookimpl
from dupeless.core.jobs import JobRunner
from dupeless.core.metrics import CONTENT_TYPE, Metrics
from dupeless.core.paperless import PaperlessClient
from dupeless.core.paperless_metrics import (
    PaperlessMetricsPoller,
)
from dupeless.core.pipeline import Pipeline
from dupeless.core.telemetry import (
    Telemetry,
    batch_processor,
    build_tracer_provider,
    endpoint_template,
    install_telemetry,
)
from dupeless.server import health
from dupeless.server import metrics as metrics_api
from dupeless.server.api import routes as api_routes
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


# --- helpers ----------------------------------------------------------------------------------


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(text: str, metric: str, /, **labels: str) -> float | None:
    return parse(text).get((metric, frozenset(labels.items())))


def names(text: str) -> set[str]:
    return {name for name, _ in parse(text)}


def by_name(spans: Any, name: str) -> Any:
    found = [span for span in spans if span.name == name]
    assert found, f"no span {name!r} among {[span.name for span in spans]}"
    return found[0]


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def pipeline(settings) -> Pipeline:
    return Pipeline(settings, load={"jsonl", "ocr"}, entrypoints=False)


@pytest.fixture
def telemetry(settings, provider, pipeline) -> Telemetry:
    return install_telemetry(settings, pipeline, tracer_provider=provider)


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"id": request.path_params["id"]})


def build_app(telemetry: Telemetry | None, extra: list[Route] = ()) -> Starlette:
    """Health and metrics (not traced by default) plus a traced `/api/v1/items/{id}`."""
    operations = [*health.health.operations, *metrics_api.metrics.operations]
    app = Starlette(
        routes=[*api_routes(operations), Route("/api/v1/items/{id}", item), *extra],
        middleware=[Middleware(metrics_api.TelemetryMiddleware)],
    )
    app.state.telemetry = telemetry
    return app


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def scrape(client: httpx.AsyncClient, path: str = "/metrics") -> str:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


# --- HTTP metrics and spans ---------------------------------------------------------------------


async def test_request_duration_moves_with_route_template_labels(telemetry, exporter):
    app = build_app(telemetry)
    async with client_for(app) as client:
        before = await scrape(client)
        assert "dupeless_build_info" in names(before)
        for _ in range(2):
            assert (await client.get("/api/v1/items/7")).status_code == 200
        assert (await client.get("/nope/12345")).status_code == 404
        text = await scrape(client, "/api/v1/metrics")
    count = "dupeless_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route="/api/v1/items/{id}", status="200") == 2
    assert value(text, count, method="GET", route="unmatched", status="404") == 1
    assert value(text, count, method="GET", route="/metrics", status="200") == 1
    assert "12345" not in text  # raw paths never become labels

    span = by_name(exporter.get_finished_spans(), "GET /api/v1/items/{id}")
    assert span.kind == SpanKind.SERVER
    attributes = dict(span.attributes)
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.route"] == "/api/v1/items/{id}"
    assert attributes["url.path"] == "/api/v1/items/7"
    assert attributes["url.scheme"] == "http"
    assert attributes["http.response.status_code"] == 200
    assert attributes["server.address"] == "testserver"
    unmatched = [
        s for s in exporter.get_finished_spans() if s.attributes["url.path"] == "/nope/12345"
    ]
    assert unmatched[0].name == "GET" and "http.route" not in unmatched[0].attributes


async def test_request_span_covers_the_handler_though_recorded_after_the_response(
    telemetry, exporter
):
    """A request that asks nothing of its span gets it after the response, back-dated to the
    request's arrival; one whose handler starts a child gets it at that moment, as the parent."""
    moments: list[int] = []

    async def quiet(_: Request) -> JSONResponse:
        moments.append(time.time_ns())
        return JSONResponse({})

    async def busy(_: Request) -> JSONResponse:
        with telemetry.tracer.start_as_current_span("child"):
            moments.append(time.time_ns())
        return JSONResponse({})

    app = build_app(telemetry, [Route("/quiet", quiet), Route("/busy", busy)])
    async with client_for(app) as client:
        assert (await client.get("/quiet")).status_code == 200
        assert (await client.get("/busy")).status_code == 200
    quiet_span = by_name(exporter.get_finished_spans(), "GET /quiet")
    assert quiet_span.start_time < moments[0] < quiet_span.end_time
    busy_span = by_name(exporter.get_finished_spans(), "GET /busy")
    child = by_name(exporter.get_finished_spans(), "child")
    assert child.parent.span_id == busy_span.context.span_id
    assert busy_span.start_time <= child.start_time < moments[1] < child.end_time
    assert child.end_time <= busy_span.end_time
    assert busy_span.attributes["http.route"] == "/busy"


async def test_worker_threads_asking_at_once_share_one_request_span(telemetry, exporter):
    barrier = threading.Barrier(4)

    def ask() -> int:
        barrier.wait()
        return trace.get_current_span().get_span_context().span_id

    async def handler(_: Request) -> JSONResponse:
        ids = await asyncio.gather(*(asyncio.to_thread(ask) for _ in range(4)))
        return JSONResponse({"ids": ids})

    async with client_for(build_app(telemetry, [Route("/threads", handler)])) as client:
        ids = (await client.get("/threads")).json()["ids"]
    [span] = exporter.get_finished_spans()
    assert set(ids) == {span.context.span_id}


async def test_probes_and_scrapes_are_counted_but_not_traced_by_default(
    telemetry, provider, exporter
):
    for path in ("/api/v1/health", "/api/v1/ready", "/metrics", "/api/v1/metrics"):
        assert telemetry.untraced(path), path
    async with client_for(build_app(telemetry)) as client:
        assert (await client.get("/api/v1/health")).status_code == 200
        text = await scrape(client)
    assert exporter.get_finished_spans() == ()
    count = "dupeless_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route="/api/v1/health", status="200") == 1

    everything = load_settings(environ={"OTEL_PYTHON_EXCLUDED_URLS": ""})
    telemetry = Telemetry.from_settings(everything, tracer_provider=provider)
    async with client_for(build_app(telemetry)) as client:
        assert (await client.get("/api/v1/health")).status_code == 200
        assert (await client.get("/api/v1/items/7")).status_code == 200
    assert [span.name for span in exporter.get_finished_spans()] == [
        "GET /api/v1/health", "GET /api/v1/items/{id}"
    ]  # fmt: skip

    only_items = load_settings(environ={"OTEL_PYTHON_EXCLUDED_URLS": "/items/\\d+$"})
    telemetry = Telemetry.from_settings(only_items, tracer_provider=provider)
    assert telemetry.untraced("/api/v1/items/7") and not telemetry.untraced("/api/v1/health")


def test_an_excluded_url_pattern_must_compile():
    from dupeless.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"telemetry\.excluded_urls: '\(' is not a regular"):
        load_settings(environ={"OTEL_PYTHON_EXCLUDED_URLS": "/health$,("})


async def test_incoming_traceparent_is_honoured(telemetry, exporter):
    async with client_for(build_app(telemetry)) as client:
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        assert (await client.get("/api/v1/items/7", headers=headers)).status_code == 200
    span = by_name(exporter.get_finished_spans(), "GET /api/v1/items/{id}")
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == PARENT_ID
    assert span.parent.is_remote


async def test_sdk_sampler_variables_decide_which_requests_are_traced(monkeypatch):
    """OTEL_TRACES_SAMPLER(_ARG) reach the provider dupeless builds. A request the sampler
    drops keeps its (unsampled) span current, so work under it is dropped with it; a sampled
    incoming traceparent still wins under a parent-based sampler."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    provider = build_tracer_provider(load_settings(environ={"OTEL_TRACES_EXPORTER": "none"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = Telemetry(tracer_provider=provider)
    seen = []

    async def probe(_: Request) -> JSONResponse:
        seen.append(trace.get_current_span().get_span_context())
        with telemetry.tracer.start_as_current_span("child"):
            pass
        return JSONResponse({})

    async with client_for(build_app(telemetry, [Route("/probe", probe)])) as client:
        assert (await client.get("/probe")).status_code == 200
        assert not exporter.get_finished_spans()  # neither the request nor its child
        assert seen[0].is_valid and not seen[0].trace_flags.sampled
        headers = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        assert (await client.get("/probe", headers=headers)).status_code == 200
    request = by_name(exporter.get_finished_spans(), "GET /probe")
    assert f"{request.context.trace_id:032x}" == TRACE_ID
    assert by_name(exporter.get_finished_spans(), "child").parent.span_id == request.context.span_id


async def test_failing_handler_gives_an_error_span_and_a_500_sample(telemetry, exporter):
    async def boom(_: Request) -> JSONResponse:
        raise RuntimeError("secret document text")

    app = build_app(telemetry, [Route("/boom/{id}", boom)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
    ) as client:
        assert (await client.get("/boom/7")).status_code == 500
        text = await scrape(client)
    count = "dupeless_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route="/boom/{id}", status="500") == 1
    span = by_name(exporter.get_finished_spans(), "GET /boom/{id}")
    assert span.status.is_ok is False
    assert span.attributes["error.type"] == "RuntimeError"
    assert "secret" not in str(dict(span.attributes)) and not span.events


# --- pipeline stages and hooks ----------------------------------------------------------------


async def test_stage_and_hook_calls_are_measured_and_nested(telemetry, exporter, pipeline):
    async def normalise(_: Request) -> JSONResponse:
        with pipeline.monitor("stage", "normalise", "ocr"):
            texts = await pipeline.call("dupeless_normalise", "ocr", texts=["a b"])
        return JSONResponse(texts)

    app = build_app(telemetry, [Route("/probe/normalise", normalise)])
    async with client_for(app) as client:
        assert (await client.get("/probe/normalise")).status_code == 200
        text = await scrape(client)
    labels = {"plugin": "ocr", "outcome": "ok"}
    assert value(text, "dupeless_stage_duration_seconds_count", stage="normalise", **labels) == 1
    hook = "dupeless_normalise"
    assert value(text, "dupeless_hook_duration_seconds_count", hook=hook, **labels) == 1

    spans = exporter.get_finished_spans()
    request = by_name(spans, "GET /probe/normalise")
    stage = by_name(spans, "stage normalise")
    call = by_name(spans, "hook dupeless_normalise")
    assert stage.parent.span_id == request.context.span_id
    assert call.parent.span_id == stage.context.span_id
    assert call.attributes["dupeless.plugin"] == "ocr"
    assert {span.context.trace_id for span in (request, stage, call)} == {request.context.trace_id}
    assert "a b" not in str([dict(span.attributes) for span in spans])


async def test_offloaded_hooks_run_inside_the_hook_span(telemetry, exporter, pipeline):
    seen: dict[str, Any] = {}

    class Probe:
        @hookimpl
        def dupeless_normalise(self, texts: list[str]) -> list[str]:
            seen["span"] = trace.get_current_span().get_span_context()
            seen["thread"] = threading.get_ident()
            return texts

    pipeline.register(Probe(), "probe", "1")
    assert await pipeline.call("dupeless_normalise", "probe", offload=True, texts=["x"]) == ["x"]
    call = by_name(exporter.get_finished_spans(), "hook dupeless_normalise")
    assert seen["thread"] != threading.get_ident()  # really another thread
    assert seen["span"].span_id == call.context.span_id  # asyncio.to_thread copied the context


async def test_failing_hook_is_counted_as_error(telemetry, exporter, pipeline):
    class Broken:
        @hookimpl
        def dupeless_normalise(self, texts: list[str]) -> list[str]:
            raise ValueError(texts[0])

    pipeline.register(Broken(), "broken", "1")
    with pytest.raises(ValueError):
        await pipeline.call("dupeless_normalise", "broken", texts=["private words"])
    text = telemetry.metrics.render().decode()
    labels = {"hook": "dupeless_normalise", "plugin": "broken", "outcome": "error"}
    assert value(text, "dupeless_hook_duration_seconds_count", **labels) == 1
    span = by_name(exporter.get_finished_spans(), "hook dupeless_normalise")
    assert span.attributes["error.type"] == "ValueError"
    assert "private" not in str(span.status.description) and not span.events


async def test_metrics_work_without_tracing(settings, pipeline):
    telemetry = install_telemetry(settings, pipeline)  # OTEL_ENABLED is off by default
    assert telemetry.tracer is None and telemetry.metrics is not None
    await pipeline.call("dupeless_normalise", "ocr", texts=["a b"])
    async with client_for(build_app(telemetry)) as client:
        await client.get("/api/v1/health")
        text = await scrape(client)
    labels = {"hook": "dupeless_normalise", "plugin": "ocr", "outcome": "ok"}
    assert value(text, "dupeless_hook_duration_seconds_count", **labels) == 1
    count = "dupeless_http_request_duration_seconds_count"
    assert value(text, count, method="GET", route="/api/v1/health", status="200") == 1


# --- jobs -------------------------------------------------------------------------------------


async def test_jobs_are_counted_traced_and_refresh_the_gauges(telemetry, exporter, pipeline, store):
    runner = JobRunner(store, progress_interval=0)

    async def sync_job(ctx):
        with pipeline.monitor("stage", "normalise", "ocr"):
            await pipeline.call("dupeless_normalise", "ocr", offload=True, texts=["a"])
        return {"inserted": 2, "updated": 1, "unchanged": 5, "deleted": 0, "failed": 1}

    async def analysis_job(ctx):
        raise RuntimeError("no")

    runner.register("sync", sync_job)
    telemetry.instrument_jobs(runner)
    runner.register("analysis", analysis_job)  # registered after instrumenting: wrapped too
    try:
        with telemetry.tracer.start_as_current_span("POST /api/v1/sync") as request:
            job_id = await runner.start("sync")
        assert (await runner.wait(job_id))["status"] == "completed"
        failed = await runner.start("analysis")
        assert (await runner.wait(failed))["status"] == "failed"
    finally:
        await runner.shutdown()

    text = telemetry.metrics.render().decode()
    assert value(text, "dupeless_jobs_total", type="sync", outcome="completed") == 1
    assert value(text, "dupeless_jobs_total", type="analysis", outcome="failed") == 1
    assert value(text, "dupeless_job_duration_seconds_count", type="sync", outcome="completed") == 1
    assert value(text, "dupeless_jobs_active", type="sync") == 0
    assert value(text, "dupeless_sync_documents_total", result="inserted") == 2
    assert value(text, "dupeless_sync_documents_total", result="failed") == 1
    assert value(text, "dupeless_sync_documents_total", result="deleted") is None
    assert value(text, "dupeless_analysis_runs_total", outcome="failed") == 1
    assert value(text, "dupeless_documents") == 0  # refreshed from the store after the job
    assert value(text, "dupeless_groups", status="pending") == 0
    assert value(text, "dupeless_index_documents") == 0

    spans = exporter.get_finished_spans()
    job = by_name(spans, "job sync")
    assert job.parent is None  # a job outlives its request: a new trace ...
    assert job.links[0].context.span_id == request.get_span_context().span_id  # ... linked to it
    assert job.attributes["dupeless.job.id"] == job_id
    assert job.attributes["dupeless.result.inserted"] == 2
    stage = by_name(spans, "stage normalise")
    assert stage.parent.span_id == job.context.span_id
    assert by_name(spans, "hook dupeless_normalise").parent.span_id == stage.context.span_id
    assert by_name(spans, "job analysis").attributes["dupeless.job.outcome"] == "failed"


def test_hook_event_recording(telemetry):
    telemetry.record_hook_event("done", 1.5)
    telemetry.record_hook_event("failed")
    text = telemetry.metrics.render().decode()
    assert value(text, "dupeless_hook_events_total", outcome="done") == 1
    assert value(text, "dupeless_hook_events_total", outcome="failed") == 1
    assert value(text, "dupeless_hook_event_latency_seconds_sum", outcome="done") == 1.5


# --- Paperless --------------------------------------------------------------------------------


async def test_paperless_calls_are_client_spans_under_the_request(
    telemetry, exporter, fake_paperless, paperless_client
):
    fake_paperless.library.add_document(title="Invoice", content="hello world")
    telemetry.instrument_paperless(paperless_client)

    async def count(_: Request) -> JSONResponse:
        await paperless_client.get_document(1)
        return JSONResponse(await paperless_client.count_documents())

    app = build_app(telemetry, [Route("/probe/paperless", count)])
    async with client_for(app) as client:
        assert (await client.get("/probe/paperless")).json() == 1
        text = await scrape(client)
    labels = {"method": "GET", "status": "200"}
    assert value(text, "dupeless_paperless_requests_total", endpoint="/api/documents/", **labels)
    detail = {"endpoint": "/api/documents/{id}/", **labels}
    assert value(text, "dupeless_paperless_requests_total", **detail) == 1
    assert value(text, "dupeless_paperless_request_duration_seconds_count", **detail) == 1

    spans = exporter.get_finished_spans()
    request = by_name(spans, "GET /probe/paperless")
    calls = [span for span in spans if span.kind == SpanKind.CLIENT]
    assert {span.name for span in calls} == {"GET /api/documents/", "GET /api/documents/{id}/"}
    for span in calls:
        assert span.parent.span_id == request.context.span_id
        assert span.attributes["http.response.status_code"] == 200
        assert span.attributes["server.address"] == "127.0.0.1"
        assert "?" not in span.attributes["url.full"]


async def test_paperless_client_sends_traceparent_and_counts_failures(telemetry, exporter):
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/notes/"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"count": 0, "results": []})

    client = PaperlessClient(
        "http://paperless.local/sub",
        token="t0ken",
        max_retries=0,
        transport=httpx.MockTransport(answer),
    )
    telemetry.instrument_paperless(client)
    try:
        with telemetry.tracer.start_as_current_span("outer") as outer:
            await client.count_documents()
            with pytest.raises(Exception, match="unavailable"):
                await client.notes(5)
    finally:
        await client.aclose()
    trace_id = f"{outer.get_span_context().trace_id:032x}"
    assert all(request.headers["traceparent"].split("-")[1] == trace_id for request in seen)
    text = telemetry.metrics.render().decode()
    failed = {"endpoint": "/api/documents/{id}/notes/", "method": "GET", "status": "error"}
    assert value(text, "dupeless_paperless_requests_total", **failed) == 1
    span = by_name(exporter.get_finished_spans(), "GET /api/documents/{id}/notes/")
    assert span.attributes["error.type"] == "ConnectError"


def test_endpoint_templates_hide_ids():
    assert endpoint_template("/api/documents/12/notes/") == "/api/documents/{id}/notes/"
    assert endpoint_template("/sub/api/tags/", "/sub") == "/api/tags/"
    assert endpoint_template("/favicon.ico") == "other"


# --- switched off -----------------------------------------------------------------------------


async def test_disabled_metrics_answer_404_in_plain_text(settings, pipeline):
    settings.telemetry.prometheus_enabled = False
    telemetry = install_telemetry(settings, pipeline)
    assert not telemetry.active and pipeline.monitors == []
    for app in (build_app(telemetry), build_app(None)):
        async with client_for(app) as client:
            for path in ("/metrics", "/api/v1/metrics"):
                response = await client.get(path)
                assert response.status_code == 404
                assert response.headers["content-type"].startswith("text/plain")
                assert "OTEL_PROMETHEUS_ENABLED" in response.text
            assert (await client.get("/api/v1/health")).status_code == 200


def test_each_metrics_object_has_its_own_registry():
    first, second = Metrics(), Metrics()
    first.record_analysis("completed")
    assert value(first.render().decode(), "dupeless_analysis_runs_total", outcome="completed") == 1
    assert (
        value(second.render().decode(), "dupeless_analysis_runs_total", outcome="completed") is None
    )
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


# --- Paperless system metrics -----------------------------------------------------------------


async def test_paperless_metrics_poller_uses_the_exporter_names(
    fake_paperless, paperless_client_factory
):
    library = fake_paperless.library
    library.add_document(title="A", tags=["inbox", "bills"], correspondent="ACME")
    library.add_document(title="B", tags=["bills"], document_type="Invoice")
    metrics = Metrics(process=False)
    poller = PaperlessMetricsPoller(
        lambda: paperless_client_factory(fake_paperless), registry=metrics.registry
    )
    await poller.poll()
    text = metrics.render().decode()
    assert value(text, "paperless_documents") == 2
    tags = {
        dict(labels)["name"]: dict(labels)["id"]
        for metric, labels in parse(text)
        if metric == "paperless_tag_info"
    }
    assert value(text, "paperless_tag_document_count", id=tags["bills"]) == 2
    assert value(text, "paperless_tag_info", id=tags["inbox"], name="inbox", slug="inbox") == 1
    assert "paperless_correspondent_document_count" in names(text)
    assert "paperless_document_type_info" in names(text)
    success = "dupeless_paperless_metrics_collector_success"
    assert value(text, success, collector="tag") == 1
    assert value(text, success, collector="statistics") == 1
    assert "dupeless_paperless_metrics_last_poll_timestamp_seconds" in names(text)


async def test_paperless_statistics_collector_reports_the_statistics_endpoint(
    fake_paperless, paperless_client_factory
):
    library = fake_paperless.library
    library.ensure("tags", "inbox", is_inbox_tag=True)
    library.add_document(content="abcde", tags=["inbox", "bills"], original_file_name="a.pdf")
    library.add_document(
        content="xyz", tags=["bills"], document_type="Invoice", correspondent="ACME"
    )
    library.add_document(content="1234567", storage_path="Archive", original_file_name="c.png")
    library.delete_document(library.add_document(content="in the trash, not counted"))
    metrics = Metrics(process=False)
    poller = PaperlessMetricsPoller(
        lambda: paperless_client_factory(fake_paperless),
        collectors=["statistics"],
        registry=metrics.registry,
    )
    await poller.poll()
    text = metrics.render().decode()
    assert value(text, "paperless_statistics_documents_total") == 3
    assert value(text, "paperless_statistics_documents_inbox_count") == 1
    file_types = "paperless_statistics_documents_file_type_counts"
    assert value(text, file_types, mime_type="application/pdf") == 2
    assert value(text, file_types, mime_type="image/png") == 1
    assert value(text, "paperless_statistics_character_count") == len("abcdexyz1234567")
    assert value(text, "paperless_statistics_tag_count") == 2
    assert value(text, "paperless_statistics_correspondent_count") == 1
    assert value(text, "paperless_statistics_document_type_count") == 1
    assert value(text, "paperless_statistics_storage_path_count") == 1
    assert value(text, "dupeless_paperless_metrics_collector_success", collector="statistics") == 1
    assert "paperless_documents" not in names(text)  # only the chosen collector ran

    # A failed poll drops the numbers rather than showing stale ones as current.
    fake_paperless.faults.fail_next(4, path="/api/statistics/")  # outlasts the client's retries
    await poller.poll()
    text = metrics.render().decode()
    assert value(text, "dupeless_paperless_metrics_collector_success", collector="statistics") == 0
    assert not {name for name in names(text) if name.startswith("paperless_statistics_")}


async def test_paperless_metrics_poller_polls_on_its_interval(
    fake_paperless, paperless_client_factory
):
    poller = PaperlessMetricsPoller(
        lambda: paperless_client_factory(fake_paperless), collectors=["document"], interval=0.05
    )
    poller.start()
    await asyncio.sleep(0.3)
    await poller.stop()
    polls = [r for r in fake_paperless.requests if r.path == "/api/documents/"]
    assert 2 <= len(polls) <= 20  # a few polls, not one per scrape
    # scraping reads the snapshot only
    before = len(fake_paperless.requests)
    list(poller.collect())
    assert len(fake_paperless.requests) == before


def test_paperless_metrics_settings():
    from dupeless.core.errors import ConfigError

    assert load_settings(environ={}).paperless_metrics.enabled is False
    config = load_settings(
        environ={
            "PAPERLESS_METRICS_ENABLED": "true",
            "PAPERLESS_METRICS_COLLECTORS": "tag, document",
        }
    ).paperless_metrics
    assert config.enabled and config.collectors == ["tag", "document"]
    with pytest.raises(ConfigError, match=r"paperless_metrics\.collectors: unknown tags"):
        load_settings(environ={"PAPERLESS_METRICS_COLLECTORS": "tags"})


def test_spans_reach_the_exporter_in_batches_of_the_configured_size(monkeypatch):
    """`export_batch_size` (OTEL_BSP_MAX_EXPORT_BATCH_SIZE) is the most the batch processor
    hands over at a time, 32 by default instead of the SDK's 512."""
    assert load_settings(environ={}).telemetry.export_batch_size == 32
    settings = load_settings(environ={"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "3"})
    batches: list[int] = []

    class Counting(InMemorySpanExporter):
        def export(self, spans):
            batches.append(len(spans))
            return super().export(spans)

    exporter = Counting()
    provider = TracerProvider()
    provider.add_span_processor(batch_processor(exporter, settings.telemetry))
    for number in range(7):
        provider.get_tracer("test").start_span(f"span {number}").end()
    provider.force_flush()
    assert sum(batches) == 7 and max(batches) <= 3
    assert len(exporter.get_finished_spans()) == 7
    provider.shutdown()


def test_an_export_batch_size_out_of_range_names_the_key():
    with pytest.raises(ConfigError, match=r"telemetry\.export_batch_size"):
        load_settings(environ={"OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "0"})
