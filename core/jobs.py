"""The job runner shared by sync, analysis, batch and AI work.

Jobs are durable rows; the database itself allows one pending or running job per type (a partial
unique index), so the rule holds across processes too. A job cancels cooperatively: its handler
calls `ctx.raise_if_cancelled()` inside long loops. On start-up `recover()` resumes jobs that
support it and marks every other job left `running` by a crash as failed, with the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from attrs import define

from .errors import JobAlreadyRunning, JobCancelled, JobFinished, JobNotFound
from .store import Store, utcnow

log = logging.getLogger("dupeless.jobs")

ACTIVE = ("pending", "running")
TERMINAL = ("completed", "failed", "cancelled")
INTERRUPTED = "interrupted: dupeless stopped while this job was running; start it again"

Handler = Callable[["JobContext"], Awaitable[dict[str, Any] | None]]


@define
class JobType:
    handler: Handler
    resumable: bool


class JobContext:
    """What a running job sees: its parameters, progress reporting, cancellation, checkpoints."""

    def __init__(self, runner: JobRunner, job_id: str, params: dict[str, Any], checkpoint: Any):
        self.runner = runner
        self.id = job_id
        self.params = params
        self.checkpoint = checkpoint
        self.cancel_requested = asyncio.Event()
        self.progress_value = 0.0
        self.message: str | None = None
        self._last_write = 0.0

    @property
    def store(self) -> Store:
        return self.runner.store

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1); written to the database at most every `progress_interval`."""
        self.progress_value = min(max(fraction, 0.0), 1.0)
        self.message = message if message is not None else self.message
        now = time.monotonic()
        if now - self._last_write >= self.runner.progress_interval:
            self._last_write = now
            await self.store.execute(
                "UPDATE jobs SET progress = ?, progress_message = ? WHERE id = ?",
                (self.progress_value, self.message, self.id),
            )

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested.is_set()

    def raise_if_cancelled(self) -> None:
        """Call inside long loops: stops the job here when the user cancelled it."""
        if self.cancelled:
            raise JobCancelled(f"job {self.id} was cancelled")

    async def save_checkpoint(self, checkpoint: Any) -> None:
        """Durably record how far the job got, so a resumed job can skip finished work."""
        self.checkpoint = checkpoint
        await self.store.execute(
            "UPDATE jobs SET checkpoint = ? WHERE id = ?", (json.dumps(checkpoint), self.id)
        )

    async def run_cpu(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run CPU-heavy work in a worker thread (with this context's variables, e.g. the span)."""
        return await asyncio.to_thread(function, *args)


class JobRunner:
    """Starts, tracks, cancels and recovers jobs. Register a handler per job type first."""

    def __init__(self, store: Store, *, progress_interval: float = 0.25):
        self.store = store
        self.progress_interval = progress_interval
        self.types: dict[str, JobType] = {}
        self.running: dict[str, tuple[asyncio.Task[None], JobContext]] = {}

    def register(self, job_type: str, handler: Handler, *, resumable: bool = False) -> None:
        """Make `job_type` startable; a resumable one re-runs from its checkpoint after a crash."""
        self.types[job_type] = JobType(handler, resumable)

    async def start(self, job_type: str, params: dict[str, Any] | None = None) -> str:
        """Create the job row and run it in the background; raises JobAlreadyRunning."""
        if job_type not in self.types:
            raise ValueError(f"unknown job type {job_type!r}")
        job_id = str(uuid.uuid4())
        params = params or {}
        try:
            await self.store.execute(
                "INSERT INTO jobs (id, type, status, params, created_at)"
                " VALUES (?, ?, 'pending', ?, ?)",
                (job_id, job_type, json.dumps(params), utcnow()),
            )
        except sqlite3.IntegrityError:
            active = await self.store.fetchval(
                "SELECT id FROM jobs WHERE type = ? AND status IN ('pending', 'running')",
                (job_type,),
            )
            raise JobAlreadyRunning(job_type, active) from None
        self._launch(job_id, job_type, params, None)
        return job_id

    def _launch(self, job_id: str, job_type: str, params: dict[str, Any], checkpoint: Any) -> None:
        context = JobContext(self, job_id, params, checkpoint)
        task = asyncio.create_task(self._run(job_type, context), name=f"job-{job_type}-{job_id}")
        self.running[job_id] = (task, context)

    async def _run(self, job_type: str, ctx: JobContext) -> None:
        try:
            await self.store.execute(
                "UPDATE jobs SET status = 'running', started_at = COALESCE(started_at, ?)"
                " WHERE id = ?",
                (utcnow(), ctx.id),
            )
            ctx.raise_if_cancelled()
            result = await self.types[job_type].handler(ctx)
            await self._finish(ctx, "completed", result=result, progress=1.0)
        except JobCancelled:
            await self._finish(ctx, "cancelled")
        except asyncio.CancelledError:
            # The process is shutting down: leave the row `running` for recover() to handle.
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed", ctx.id, job_type)
            await self._finish(ctx, "failed", error=str(exc) or type(exc).__name__)
        finally:
            self.running.pop(ctx.id, None)

    async def _finish(
        self,
        ctx: JobContext,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        progress: float | None = None,
    ) -> None:
        await self.store.execute(
            "UPDATE jobs SET status = ?, result_json = ?, error_message = ?, completed_at = ?,"
            " progress = COALESCE(?, progress), progress_message = COALESCE(?, progress_message)"
            " WHERE id = ?",
            (
                status,
                None if result is None else json.dumps(result),
                error,
                utcnow(),
                progress,
                ctx.message,
                ctx.id,
            ),
        )

    async def cancel(self, job_id: str) -> str:
        """Ask a pending or running job to stop; raises JobNotFound or JobFinished."""
        job = await self.get(job_id)
        if job["status"] in TERMINAL:
            raise JobFinished(f"Job '{job_id}' is already in a terminal state")
        if job_id in self.running:
            self.running[job_id][1].cancel_requested.set()
        else:  # not running in this process (e.g. left pending): cancel the row directly
            await self.store.execute(
                "UPDATE jobs SET status = 'cancelled', completed_at = ? WHERE id = ?"
                " AND status IN ('pending', 'running')",
                (utcnow(), job_id),
            )
        return "cancelled"

    async def wait(self, job_id: str) -> dict[str, Any]:
        """Wait for a job started in this process to end; return its row."""
        entry = self.running.get(job_id)
        if entry is not None:
            await asyncio.shield(entry[0])
        return await self.get(job_id)

    async def get(self, job_id: str) -> dict[str, Any]:
        row = await self.store.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            raise JobNotFound(f"Job '{job_id}' not found")
        return dict(row)

    async def list(
        self, *, job_type: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        clauses, params = [], []
        if job_type:
            clauses.append("type = ?")
            params.append(job_type)
        if status:
            clauses.append("status = ?")
            params.append(status)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self.store.fetchall(
            f"SELECT * FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (*params, limit),
        )
        return [dict(row) for row in rows]

    async def active(self, job_type: str) -> dict[str, Any] | None:
        """The pending or running job of this type, if any."""
        row = await self.store.fetchone(
            "SELECT * FROM jobs WHERE type = ? AND status IN ('pending', 'running')", (job_type,)
        )
        return None if row is None else dict(row)

    async def recover(self) -> dict[str, list[str]]:
        """After a crash: resume resumable jobs, fail the rest with a reason. Call at start-up."""
        outcome: dict[str, list[str]] = {"resumed": [], "failed": []}
        rows = await self.store.fetchall(
            "SELECT id, type, params, checkpoint FROM jobs WHERE status IN ('pending', 'running')"
        )
        for row in rows:
            if row["id"] in self.running:
                continue
            job_type = self.types.get(row["type"])
            if job_type is not None and job_type.resumable:
                checkpoint = json.loads(row["checkpoint"]) if row["checkpoint"] else None
                self._launch(row["id"], row["type"], json.loads(row["params"]), checkpoint)
                outcome["resumed"].append(row["id"])
            else:
                await self.store.execute(
                    "UPDATE jobs SET status = 'failed', error_message = ?, completed_at = ?"
                    " WHERE id = ?",
                    (INTERRUPTED, utcnow(), row["id"]),
                )
                outcome["failed"].append(row["id"])
        for job_id in outcome["resumed"]:
            log.info("resuming job %s", job_id)
        for job_id in outcome["failed"]:
            log.warning("job %s was interrupted by a restart and is marked failed", job_id)
        return outcome

    async def shutdown(self, *, interrupted: bool = False) -> None:
        """Stop every job task. Their rows stay `running` so that the server's next start
        recovers them, unless `interrupted` (a CLI run ending): then they are marked failed."""
        contexts = [context for _, context in self.running.values()]
        tasks = [task for task, _ in self.running.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for context in contexts if interrupted else ():
            await self._finish(context, "failed", error=INTERRUPTED)
