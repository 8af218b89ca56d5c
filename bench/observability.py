"""What tracing and metrics cost per request: latency with observability off, metrics only, and
metrics plus tracing, on a hot endpoint and on a store-backed one.

    .venv/bin/python -m bench.observability --requests 3000 --rounds 7 [--mode asgi|http|both]

Two measures:

- `http`: request latency as a client sees it: uvicorn on 127.0.0.1 (one server per
  configuration, in threads), a keep-alive `http.client` connection, sequential requests. This is
  the number the <= 5 % target is about.
- `asgi`: the app called in-process through ASGI (no sockets, no HTTP parsing), the strictest
  view: it shows the absolute microseconds the middleware, the span and the histogram add against
  the smallest possible request.

Tracing uses the SDK with a BatchSpanProcessor and an exporter that drops spans (what the process
pays, minus the collector's network). Rounds are interleaved so drift hits every configuration
alike; the median round is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dupeless.core.config import load_settings
from dupeless.core.fake_paperless import serve
from dupeless.core.jobs import JobRunner
from dupeless.core.metrics import Metrics
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store, utcnow
from dupeless.core.telemetry import Telemetry
from dupeless.server import health, jobs
from dupeless.server import metrics as metrics_api
from dupeless.server.api import routes
from dupeless.server.state import AppState
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.applications import Starlette
from starlette.middleware import Middleware


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def build_app(state: AppState, telemetry: Telemetry | None) -> Starlette:
    operations = [*health.health.operations, *jobs.jobs.operations, *metrics_api.metrics.operations]
    app = Starlette(
        routes=routes(operations), middleware=[Middleware(metrics_api.TelemetryMiddleware)]
    )
    app.state.dupeless = state
    app.state.telemetry = telemetry
    return app


async def request(app: Starlette, path: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench.local"), (b"user-agent", b"bench")],
        "client": ("127.0.0.1", 50000),
        "server": ("bench.local", 80),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def timed(app: Starlette, path: str, n: int) -> float:
    """Mean microseconds per request over n sequential requests."""
    started = time.perf_counter()
    for _ in range(n):
        await request(app, path)
    return (time.perf_counter() - started) / n * 1e6


def report(title: str, results: dict[str, dict[str, list[float]]]) -> float:
    """Print median µs per request and overhead against `off`; return the worst overhead."""
    print(title)
    header = f"{'median µs':>11}{'overhead':>10}{'best µs':>10}{'overhead':>10}{'+µs':>8}"
    print(f"  {'endpoint':<20}{'config':<17}{header}")
    worst = 0.0
    for label, by_config in results.items():
        base = statistics.median(by_config["off"])
        best_base = min(by_config["off"])
        for name, rounds in by_config.items():
            median, best = statistics.median(rounds), min(rounds)
            overhead = (median / base - 1) * 100
            best_overhead = (best / best_base - 1) * 100
            if name != "off":
                worst = max(worst, overhead)
            print(
                f"  {label:<20}{name:<17}{median:>11.1f}{overhead:>+9.1f}%"
                f"{best:>10.1f}{best_overhead:>+9.1f}%{best - best_base:>+8.1f}"
            )
    print(f"  worst median overhead: {worst:+.1f}% (target <= 5%)")
    return worst


def telemetries() -> tuple[dict[str, Telemetry | None], TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter()))
    configs: dict[str, Telemetry | None] = {
        "off": None,
        "metrics": Telemetry(metrics=Metrics()),
        "metrics+tracing": Telemetry(tracer_provider=provider, metrics=Metrics()),
    }
    return configs, provider


async def seed(settings: Any) -> str:
    store = await Store.open(settings.database_path)
    job_id = str(uuid.uuid4())
    await store.execute(
        "INSERT INTO jobs (id, type, status, params, created_at, result_json)"
        " VALUES (?, 'sync', 'completed', '{}', ?, ?)",
        (job_id, utcnow(), json.dumps({"inserted": 1})),
    )
    await store.close()
    return job_id


async def bench_asgi(settings: Any, paths: dict[str, str], n: int, rounds: int) -> float:
    store = await Store.open(settings.database_path)
    pipeline = Pipeline(settings, load=set(), entrypoints=False)
    state = AppState(settings, store, pipeline, JobRunner(store))
    configs, provider = telemetries()
    apps = {name: build_app(state, telemetry) for name, telemetry in configs.items()}
    for app in apps.values():  # warm up, and check the endpoints answer 200
        for path in paths.values():
            assert await request(app, path) == 200, path
            await timed(app, path, 200)
    results: dict[str, dict[str, list[float]]] = {}
    for label, path in paths.items():
        results[label] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                results[label][name].append(await timed(app, path, n))
    provider.shutdown()
    await store.close()
    return report(f"in-process ASGI: {rounds} rounds x {n} requests, median round", results)


def served_app(settings: Any, telemetry: Telemetry | None) -> Starlette:
    """An app whose lifespan opens the store in the server's own event loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(settings.database_path)
        pipeline = Pipeline(settings, load=set(), entrypoints=False)
        app.state.dupeless = AppState(settings, store, pipeline, JobRunner(store))
        yield
        await store.close()

    app = build_app(None, telemetry)  # type: ignore[arg-type]
    app.router.lifespan_context = lifespan
    return app


def bench_http(settings: Any, paths: dict[str, str], n: int, rounds: int) -> float:
    configs, provider = telemetries()
    with contextlib.ExitStack() as stack:
        servers = {
            name: urlsplit(stack.enter_context(serve(served_app(settings, telemetry))))
            for name, telemetry in configs.items()
        }

        def timed_http(name: str, path: str, count: int) -> float:
            # A fresh keep-alive connection per round (uvicorn drops idle ones after 5 s),
            # opened by one untimed request.
            url = servers[name]
            connection = http.client.HTTPConnection(url.hostname, url.port)
            try:
                for timing in (False, True):
                    started = time.perf_counter()
                    for _ in range(count if timing else 1):
                        connection.request("GET", path)
                        response = connection.getresponse()
                        response.read()
                        assert response.status == 200, (path, response.status)
            finally:
                connection.close()
            return (time.perf_counter() - started) / count * 1e6

        for name in servers:
            for path in paths.values():
                timed_http(name, path, 200)
        results: dict[str, dict[str, list[float]]] = {}
        for label, path in paths.items():
            results[label] = {name: [] for name in servers}
            for _ in range(rounds):
                for name in servers:
                    results[label][name].append(timed_http(name, path, n))
    provider.shutdown()
    title = f"HTTP via uvicorn on loopback: {rounds} rounds x {n} requests, median round"
    return report(title, results)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--mode", choices=("asgi", "http", "both"), default="both")
    args = parser.parse_args(argv)
    logging.getLogger("dupeless").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(environ={"DATABASE_URL": str(Path(folder) / "bench.db")})
        job_id = asyncio.run(seed(settings))
        paths = {"health": "/api/v1/health", "store (job by id)": f"/api/v1/jobs/{job_id}"}
        if args.mode in ("http", "both"):
            bench_http(settings, paths, args.requests, args.rounds)
        if args.mode in ("asgi", "both"):
            asyncio.run(bench_asgi(settings, paths, args.requests, args.rounds))


if __name__ == "__main__":
    main()
