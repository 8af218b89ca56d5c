"""The jobs dupeless runs, wired to the job runner: sync and analysis.

Each handler is a thin adapter from a `JobContext` to the module that does the work, so the CLI and
the API start exactly the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from .analysis import Analysis
from .config import Settings
from .dedup_config import load_dedup
from .errors import JobAlreadyRunning
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


async def start_quietly(runner: JobRunner, job_type: str) -> str:
    """Start a job, or return the id of the one of that type already pending or running."""
    try:
        return await runner.start(job_type)
    except JobAlreadyRunning as running:
        return running.job_id or ""


def register_job_handlers(runner: JobRunner, pipeline: Pipeline) -> None:
    """Register every job type dupeless knows with the runner."""

    async def sync_job(ctx: JobContext) -> dict[str, Any]:
        dedup = await load_dedup(ctx.store, pipeline.settings)
        with pipeline.monitor("stage", "fetch", pipeline.provider("fetch")):
            async with open_source(pipeline, ctx.params.get("location")) as (source, key):
                result = await sync(
                    ctx.store,
                    source,
                    key,
                    force=bool(ctx.params.get("force")),
                    min_words=dedup.min_words,
                    progress=ctx.progress,
                    check_cancelled=ctx.raise_if_cancelled,
                )
        figures = result.as_dict()
        analyze = ctx.params.get("analyze")
        if analyze is None:  # not said: follow the autoAnalyze setting
            analyze = dedup.auto_analyze
        if result.changed and analyze:
            figures["analysisJobId"] = await start_quietly(runner, "analysis")
        return figures

    async def analysis_job(ctx: JobContext) -> dict[str, Any]:
        dedup = await load_dedup(ctx.store, pipeline.settings)
        analysis = Analysis(
            ctx.store,
            pipeline,
            dedup,
            progress=ctx.progress,
            check_cancelled=ctx.raise_if_cancelled,
        )
        result = await analysis.run(force=bool(ctx.params.get("force")))
        return result.as_dict()

    runner.register("sync", sync_job)
    runner.register("analysis", analysis_job)
