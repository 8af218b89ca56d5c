"""The Starlette application: resources are mounted from their own modules.

Each resource module declares its operations (server/api.py); the router, the API-key middleware's
public paths and openapi.json are all derived from those declarations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware

from ..core import deletion, hook_queue
from ..core.config import Settings
from ..core.jobs import JobRunner
from ..core.paperless_metrics import start_paperless_metrics
from ..core.pipeline import Pipeline
from ..core.store import Store
from ..core.sweep import sweep
from ..core.tasks import register_job_handlers
from ..core.telemetry import Telemetry, install_telemetry
from . import (
    analysis,
    api,
    batch,
    config,
    dashboard,
    dedup,
    documents,
    duplicates,
    errors,
    export,
    health,
    hooks,
    jobs,
    metrics,
    openapi,
    proxy,
    ready,
    sync,
)
from .auth import ApiKeyMiddleware
from .metrics import TelemetryMiddleware
from .state import AppState

log = logging.getLogger("dupeless.server")

#: Every resource, in the order openapi.json lists them.
RESOURCES = (
    health.health,
    ready.ready,
    dashboard.dashboard,
    sync.sync,
    analysis.analysis,
    jobs.jobs,
    config.config,
    dedup.dedup,
    documents.documents,
    duplicates.duplicates,
    batch.batch,
    export.transfer,
    proxy.proxy,
    hooks.hooks,
    metrics.metrics,
    openapi.meta,
)


def operations() -> list[api.Operation]:
    return [operation for resource in RESOURCES for operation in resource.operations]


def create_app(
    settings: Settings, *, pipeline: Pipeline | None = None, demo: bool = False
) -> Starlette:
    """Build the app; the store opens (and migrates) and crashed jobs are recovered at start-up.

    `demo` marks the Paperless behind `settings` as the built-in sample library (for /ready).
    """

    telemetry = Telemetry.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        plugins = pipeline or Pipeline(settings)
        plugins.check()
        plugins.start()
        store = await Store.open(
            settings.database_path, busy_timeout_ms=settings.database.busy_timeout_ms
        )
        runner = JobRunner(store)
        register_job_handlers(runner, plugins)
        deletion.register(runner, settings)
        install_telemetry(settings, plugins, runner, telemetry=telemetry)
        await telemetry.refresh_store(store)
        state = AppState(settings, store, plugins, runner, demo=demo)
        app.state.dupeless = state
        await runner.recover()
        queue = app.state.hook_queue = hook_queue.start(state)
        background = []
        if settings.sync.interval_minutes:
            background.append(asyncio.create_task(sweep(runner, settings.sync.interval_minutes)))
        poller = (
            start_paperless_metrics(
                settings, telemetry.metrics.registry, instrument=telemetry.instrument_paperless
            )
            if telemetry.metrics
            else None
        )
        log.info("dupeless ready, database %s", settings.database_path)
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            if poller is not None:
                await poller.stop()
            await queue.stop()
            await runner.shutdown()
            await state.aclose()
            await store.close()
            telemetry.shutdown()

    declared = operations()
    public = [op.path for op in declared if op.public]
    app = Starlette(
        routes=api.routes(declared),
        exception_handlers=errors.HANDLERS,
        middleware=[
            Middleware(TelemetryMiddleware),
            Middleware(ApiKeyMiddleware, api_key=settings.server.api_key, public_paths=public),
        ],
        lifespan=lifespan,
    )
    app.state.operations = declared
    app.state.telemetry = telemetry
    return app
