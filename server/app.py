"""The Starlette application: resources are mounted from their own modules."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from attrs import define
from starlette.applications import Starlette

from ..core.config import Settings
from ..core.jobs import JobRunner
from ..core.pipeline import Pipeline
from ..core.store import Store
from ..core.tasks import register_job_handlers
from . import errors, health

log = logging.getLogger("dupeless.server")


@define
class AppState:
    """What every request handler can reach through `request.app.state.dupeless`."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    jobs: JobRunner


def create_app(settings: Settings, *, pipeline: Pipeline | None = None) -> Starlette:
    """Build the app; the store opens (and migrates) and crashed jobs are recovered at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        plugins = pipeline or Pipeline(settings)
        plugins.check()
        store = await Store.open(
            settings.database_path, busy_timeout_ms=settings.database.busy_timeout_ms
        )
        jobs = JobRunner(store)
        register_job_handlers(jobs, plugins)
        app.state.dupeless = AppState(settings, store, plugins, jobs)
        await jobs.recover()
        log.info("dupeless ready, database %s", settings.database_path)
        try:
            yield
        finally:
            await jobs.shutdown()
            await store.close()

    return Starlette(
        routes=[*health.routes],
        exception_handlers=errors.HANDLERS,
        lifespan=lifespan,
    )
