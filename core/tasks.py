"""The jobs dupeless runs, wired to the job runner: sync now, analysis and others as they land.

Each handler is a thin adapter from a `JobContext` to the module that does the work, so the CLI and
the API start exactly the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .config import Settings
from .hookspecs.fetch import FetchSource
from .jobs import JobContext, JobRunner
from .pipeline import Pipeline
from .sync import sync


@asynccontextmanager
async def open_source(
    pipeline: Pipeline, location: str | None = None
) -> AsyncIterator[tuple[FetchSource, str]]:
    """Open the configured fetch source; yields it with the key its sync state is stored under."""
    provider = pipeline.provider("fetch")
    source = await pipeline.call(
        "dupeless_fetch_source", provider, settings=pipeline.settings, location=location
    )
    key = f"{provider}:{location or source_location(pipeline.settings, provider)}"
    try:
        yield source, key
    finally:
        await source.aclose()


def source_location(settings: Settings, provider: str) -> str:
    """What identifies the library a provider reads, for the sync cursor (never a secret)."""
    if provider == "paperless":
        return settings.paperless.url
    return str(settings.plugin_config(provider).get("path", ""))


def register_job_handlers(runner: JobRunner, pipeline: Pipeline) -> None:
    """Register every job type dupeless knows with the runner."""

    async def sync_job(ctx: JobContext) -> dict[str, Any]:
        with pipeline.monitor("stage", "fetch", pipeline.provider("fetch")):
            async with open_source(pipeline, ctx.params.get("location")) as (source, key):
                result = await sync(
                    ctx.store,
                    source,
                    key,
                    force=bool(ctx.params.get("force")),
                    progress=ctx.progress,
                    check_cancelled=ctx.raise_if_cancelled,
                )
        return result.as_dict()

    runner.register("sync", sync_job)
