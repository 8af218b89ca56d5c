"""What tracing and metrics cost per request: latency with observability off, metrics only,
metrics plus tracing of every request, metrics plus tracing of a sampled share of traces
(`--ratio`, default one in ten), and tracing with nothing excluded, on the probe endpoint
(`/api/v1/health`, untraced by default), a store-backed one (a job by id) and the review queue
(`/api/v1/duplicates`, 200 groups).

    .venv/bin/python -m bench.observability [--requests 200] [--rounds 30] [--ratio 0.1]
                                            [--mode asgi|http|both]

Two measures:

- `http`: request latency as a client sees it, the number the <= 5 % target is about (for the
  configurations a user gets by switching tracing on; `tracing all paths` is the opt-in that
  traces probes and scrapes too). Each configuration is served by uvicorn on 127.0.0.1 in a
  process of its own; this process keeps a keep-alive `http.client` connection to each and sends
  one request to every configuration in a shuffled order, `--requests` times per round, so all
  configurations see the same moment's load. A round's figure is each configuration's median
  request (this VM's scheduler adds millisecond stalls that would swamp a mean); the overhead is
  the median over rounds of a configuration's figure minus `off`'s in the same round, and the
  spread shown is the middle half of those differences. Taking turns also means every request
  finds its server's caches cold, as on a box that runs Paperless next to dupeless; a client
  thread inside the server's process would instead wait for the server's GIL after every
  response. The client runs on the first CPU and the servers on the others (`--no-pin` lets
  the kernel place them): on loopback the kernel wakes the client on the CPU the server is still
  running on (a "sync" wake-up, which assumes the sender is about to sleep), so the client
  waited for whatever the server did after sending the response, here the request span that is
  recorded after the response. A real client is on another machine or CPU; pinned, the
  figure is the latency it sees.
- `asgi`: the app called in-process through ASGI (no sockets, no HTTP parsing): the
  microseconds the middleware, the span and the histogram cost against the smallest possible
  request, one request repeated in a tight loop with warm caches, rounds of `--requests` per
  configuration in shuffled cycles.

`tracing` uses the default `excluded_urls` and the sampler the SDK reads from
OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (unset: parentbased_always_on, every request
traced); `tracing all paths` the same with OTEL_PYTHON_EXCLUDED_URLS empty; `tracing N%` uses
what `OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=<ratio>` builds.
Spans go through the BatchSpanProcessor dupeless builds (`core.telemetry.batch_processor`,
batches of `export_batch_size`, 32 unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says otherwise) to an
exporter that drops them: the process pays for creating, ending and queueing spans, not for
encoding them (an OTLP exporter does that in the batch processor's thread, which adds to this).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from dupeless.core.config import TelemetrySettings, load_settings
from dupeless.core.fake_paperless import serve
from dupeless.core.jobs import JobRunner
from dupeless.core.metrics import Metrics
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store, utcnow
from dupeless.core.telemetry import Telemetry, batch_processor
from dupeless.server import duplicates, health, jobs
from dupeless.server import metrics as metrics_api
from dupeless.server.api import routes
from dupeless.server.state import AppState
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, Sampler, TraceIdRatioBased
from starlette.applications import Starlette
from starlette.middleware import Middleware

from bench.api import fill

ALL_PATHS = "tracing all paths"
ALL_CPUS = sorted(os.sched_getaffinity(0))  # read at import: a pinned client's children see less
CLIENT_CPUS = set(ALL_CPUS[:1])
SERVER_CPUS = set(ALL_CPUS[1:])
SHUFFLE = random.Random(1).shuffle


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def build_app(state: AppState, telemetry: Telemetry | None) -> Starlette:
    operations = [
        *health.health.operations,
        *jobs.jobs.operations,
        *duplicates.duplicates.operations,
        *metrics_api.metrics.operations,
    ]
    app = Starlette(
        routes=routes(operations), middleware=[Middleware(metrics_api.TelemetryMiddleware)]
    )
    app.state.dupeless = state
    app.state.telemetry = telemetry
    return app


async def request(app: Starlette, target: str) -> int:
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode(),
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


def report(
    title: str, results: dict[str, dict[str, list[float]]], *, target: bool
) -> dict[str, float]:
    """Print each configuration's median round and its overhead paired against `off` (see the
    module docstring); return the worst overhead per configuration, in %. `target`: this is the
    measure the <= 5 % target is about."""
    print(title)
    print(
        f"  {'endpoint':<20}{'config':<16}{'median µs':>10}{'+µs':>9}{'overhead':>10}"
        f"{'middle half of +µs':>22}"
    )
    worst: dict[str, float] = {}
    for label, by_config in results.items():
        base = by_config["off"]
        for name, rounds in by_config.items():
            median = statistics.median(rounds)
            if name == "off":
                print(f"  {label:<20}{name:<16}{median:>10.1f}")
                continue
            extra = sorted(a - b for a, b in zip(rounds, base, strict=True))
            added = statistics.median(extra)
            overhead = added / statistics.median(base) * 100
            worst[name] = max(worst.get(name, overhead), overhead)
            quarter, three = extra[len(extra) // 4], extra[(3 * len(extra)) // 4]
            print(
                f"  {label:<20}{name:<16}{median:>10.1f}{added:>+9.1f}{overhead:>+9.1f}%"
                f"{quarter:>+13.1f} .. {three:+.1f}"
            )
    verdicts = ", ".join(
        f"{name} {value:+.1f}%{' (over)' if target and value > 5 else ''}"
        for name, value in worst.items()
        if name != ALL_PATHS
    )
    print(f"  worst overhead{' (target <= 5%)' if target else ''}: {verdicts}")
    return worst


def traced(sampler: Sampler | None, excluded_urls: Sequence[str]) -> Telemetry:
    """Metrics plus tracing; `sampler=None` lets the SDK read OTEL_TRACES_SAMPLER(_ARG)."""
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(batch_processor(DropExporter(), load_settings().telemetry))
    return Telemetry(tracer_provider=provider, metrics=Metrics(), excluded_urls=excluded_urls)


def config_names(ratio: float) -> list[str]:
    return ["off", "metrics", "tracing", f"tracing {ratio:.0%}", ALL_PATHS]


def telemetry_for(name: str, ratio: float) -> Telemetry | None:
    if name == "off":
        return None
    if name == "metrics":
        return Telemetry(metrics=Metrics())
    if name == ALL_PATHS:
        return traced(None, ())
    excluded = TelemetrySettings().excluded_urls
    return traced(None if name == "tracing" else ParentBased(TraceIdRatioBased(ratio)), excluded)


def schedule(names: Sequence[str], rounds: int) -> Iterator[str]:
    """`rounds` cycles of one round per configuration, each cycle in a shuffled order."""
    order = list(names)
    for _ in range(rounds):
        SHUFFLE(order)
        yield from order


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


async def bench_asgi(
    settings: Any, paths: dict[str, str], n: int, rounds: int, ratio: float
) -> dict[str, float]:
    store = await Store.open(settings.database_path)
    pipeline = Pipeline(settings, load=set(), entrypoints=False)
    state = AppState(settings, store, pipeline, JobRunner(store))
    configs = {name: telemetry_for(name, ratio) for name in config_names(ratio)}
    apps = {name: build_app(state, telemetry) for name, telemetry in configs.items()}
    for app in apps.values():  # warm up, and check the endpoints answer 200
        for path in paths.values():
            assert await request(app, path) == 200, path
            await timed(app, path, 200)
    results: dict[str, dict[str, list[float]]] = {}
    for label, path in paths.items():
        results[label] = {name: [] for name in apps}
        for name in schedule(list(apps), rounds):
            results[label][name].append(await timed(apps[name], path, n))
    for telemetry in configs.values():
        if telemetry is not None:
            telemetry.shutdown()
    await store.close()
    title = f"in-process ASGI: {rounds} cycles x {n} requests per configuration"
    return report(title, results, target=False)


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


def serve_one(name: str, database: str, ratio: float, cpus: str | None) -> None:
    """The child side of `server_process`: serve one configuration (on `cpus`, a comma-separated
    list, when given), print its URL and run until stdin closes."""
    if cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    settings = load_settings(environ={"DATABASE_URL": database})
    telemetry = telemetry_for(name, ratio)
    with serve(served_app(settings, telemetry)) as url:
        print(url, flush=True)
        sys.stdin.read()
    if telemetry is not None:
        telemetry.shutdown()


@contextlib.contextmanager
def server_process(name: str, database: str, ratio: float, pin: bool) -> Iterator[SplitResult]:
    """One configuration served by uvicorn in a process of its own, so the client never
    competes with the server for a GIL (a real client never does)."""
    command = [sys.executable, "-m", "bench.observability", "--serve", name]
    command += ["--database", database, "--ratio", str(ratio)]
    if pin:
        command += ["--cpus", ",".join(map(str, sorted(SERVER_CPUS)))]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()  # type: ignore[union-attr]
        if not url:
            raise RuntimeError(f"the {name!r} server did not start")
        yield urlsplit(url)
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def get(connection: http.client.HTTPConnection, path: str) -> float:
    """One GET on a keep-alive connection; its latency in seconds."""
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    return time.perf_counter() - started


def interleaved_round(servers: dict[str, SplitResult], path: str, n: int) -> dict[str, float]:
    """n requests to every configuration, one configuration after another in a shuffled order
    per request, so all of them see the same moment's load; each one's median in µs. Fresh
    keep-alive connections (uvicorn drops idle ones after 5 s), each opened by one untimed
    request."""
    connections = {
        name: http.client.HTTPConnection(url.hostname, url.port) for name, url in servers.items()
    }
    latencies: dict[str, list[float]] = {name: [] for name in servers}
    order = list(servers)
    try:
        for connection in connections.values():
            get(connection, path)
        for _ in range(n):
            SHUFFLE(order)
            for name in order:
                latencies[name].append(get(connections[name], path))
    finally:
        for connection in connections.values():
            connection.close()
    return {name: statistics.median(values) * 1e6 for name, values in latencies.items()}


def bench_http(
    settings: Any, paths: dict[str, str], n: int, rounds: int, ratio: float, pin: bool
) -> dict[str, float]:
    if pin:
        os.sched_setaffinity(0, CLIENT_CPUS)
    database = str(settings.database_path)
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(server_process(name, database, ratio, pin))
            for name in config_names(ratio)
        }
        results: dict[str, dict[str, list[float]]] = {}
        for label, path in paths.items():
            interleaved_round(servers, path, 100)  # warm up
            results[label] = {name: [] for name in servers}
            for _ in range(rounds):
                for name, median in interleaved_round(servers, path, n).items():
                    results[label][name].append(median)
    placement = f"client on CPU {min(CLIENT_CPUS)}, servers on the others" if pin else "not pinned"
    title = (
        f"HTTP via uvicorn on loopback: {rounds} rounds of {n} requests to each configuration,"
        f" interleaved; {placement}"
    )
    return report(title, results, target=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--rounds", type=int, default=30, help="rounds per endpoint")
    parser.add_argument(
        "--ratio", type=float, default=0.1, help="share of traces the sampled config keeps"
    )
    parser.add_argument("--mode", choices=("asgi", "http", "both"), default="both")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="let the kernel place client and servers (see the module docstring)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the server processes' entry
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--cpus", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0 < args.ratio <= 1:
        parser.error("--ratio must be in (0, 1]")
    if args.pin and len(ALL_CPUS) < 2:
        args.pin = False  # one CPU: nothing to pin apart
    if args.serve:
        serve_one(args.serve, args.database, args.ratio, args.cpus)
        return
    logging.getLogger("dupeless").setLevel(logging.WARNING)
    sampler = TracerProvider().sampler.get_description()
    print(
        f"`tracing` samples with {sampler} (OTEL_TRACES_SAMPLER; unset means parentbased_always_on)"
    )

    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(environ={"DATABASE_URL": str(Path(folder) / "bench.db")})
        job_id = asyncio.run(seed(settings))
        asyncio.run(fill(settings.database_path, documents=2_000, groups=200))
        paths = {
            "health": "/api/v1/health",
            "store (job by id)": f"/api/v1/jobs/{job_id}",
            "duplicates (list)": "/api/v1/duplicates?limit=50",
        }
        if args.mode in ("http", "both"):
            bench_http(settings, paths, args.requests, args.rounds, args.ratio, args.pin)
        if args.mode in ("asgi", "both"):
            asyncio.run(bench_asgi(settings, paths, args.requests, args.rounds, args.ratio))


if __name__ == "__main__":
    main()
