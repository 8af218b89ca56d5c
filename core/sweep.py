"""The reconciliation sweep: an incremental sync at start-up and then on an interval.

Paperless emits nothing when a document is deleted and a webhook can be lost, so a periodic cheap
incremental sync (which reconciles deletions and, with `autoAnalyze`, runs the analysis) keeps the
library right whatever events were missed.
"""

from __future__ import annotations

import asyncio
import logging

from .errors import JobAlreadyRunning
from .jobs import JobRunner

log = logging.getLogger("dupeless.sweep")


async def sweep(runner: JobRunner, interval_minutes: int) -> None:
    """Start a sync job now and every `interval_minutes`; a sync already running is left alone."""
    while True:
        try:
            await runner.start("sync", {"force": False, "reason": "sweep"})
        except JobAlreadyRunning:
            log.info("sweep: a sync is already running")
        await asyncio.sleep(interval_minutes * 60)
