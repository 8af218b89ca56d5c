"""The job runner: one active job per type, progress, cancellation, failures and crash recovery."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from dupeless.core.errors import JobAlreadyRunning, JobFinished, JobNotFound
from dupeless.core.jobs import INTERRUPTED, JobRunner


@pytest.fixture
async def runner(store):
    runner = JobRunner(store, progress_interval=0)
    yield runner
    await runner.shutdown()


async def test_job_runs_to_completion_with_progress_and_result(runner):
    async def handler(ctx):
        await ctx.progress(0.5, "half way")
        row = await ctx.store.fetchone("SELECT status, progress FROM jobs WHERE id = ?", (ctx.id,))
        assert (row["status"], row["progress"]) == ("running", 0.5)
        return {"answer": 42, "params": ctx.params}

    runner.register("sync", handler)
    job_id = await runner.start("sync", {"force": True})
    job = await runner.wait(job_id)
    assert job["status"] == "completed"
    assert job["progress"] == 1.0
    assert job["progress_message"] == "half way"
    assert json.loads(job["result_json"]) == {"answer": 42, "params": {"force": True}}
    assert job["started_at"] and job["completed_at"]


async def test_one_active_job_per_type(runner):
    release = asyncio.Event()

    async def handler(ctx):
        await release.wait()

    runner.register("sync", handler)
    runner.register("analysis", handler)
    first = await runner.start("sync")
    with pytest.raises(JobAlreadyRunning) as caught:
        await runner.start("sync")
    assert caught.value.job_id == first
    assert str(caught.value) == "A job of type sync is already running"
    other = await runner.start("analysis")  # another type may run alongside
    release.set()
    await runner.wait(first)
    await runner.wait(other)
    second = await runner.start("sync")  # and the type is free again once finished
    assert (await runner.wait(second))["status"] == "completed"


async def test_cooperative_cancellation(runner):
    started = asyncio.Event()
    loops = 0

    async def handler(ctx):
        nonlocal loops
        started.set()
        while True:
            ctx.raise_if_cancelled()
            loops += 1
            await asyncio.sleep(0.01)

    runner.register("analysis", handler)
    job_id = await runner.start("analysis")
    await started.wait()
    assert await runner.cancel(job_id) == "cancelled"
    job = await runner.wait(job_id)
    assert job["status"] == "cancelled" and job["completed_at"]
    assert loops >= 1
    with pytest.raises(JobFinished, match="already in a terminal state"):
        await runner.cancel(job_id)


async def test_failure_is_recorded_with_its_message(runner):
    async def handler(ctx):
        raise RuntimeError("Paperless said no")

    runner.register("sync", handler)
    job = await runner.wait(await runner.start("sync"))
    assert (job["status"], job["error_message"]) == ("failed", "Paperless said no")


async def test_cpu_work_runs_off_the_event_loop(runner):
    import threading

    async def handler(ctx):
        return {"thread": await ctx.run_cpu(lambda: threading.current_thread().name)}

    runner.register("analysis", handler)
    job = await runner.wait(await runner.start("analysis"))
    assert json.loads(job["result_json"])["thread"] != threading.current_thread().name


async def test_unknown_job(runner):
    with pytest.raises(JobNotFound):
        await runner.get("nope")
    with pytest.raises(JobNotFound):
        await runner.cancel("nope")


async def test_list_filters(runner):
    async def handler(ctx):
        return None

    runner.register("sync", handler)
    runner.register("analysis", handler)
    for job_type in ("sync", "analysis"):
        await runner.wait(await runner.start(job_type))
    assert [job["type"] for job in await runner.list(job_type="sync")] == ["sync"]
    assert len(await runner.list(status="completed")) == 2
    assert len(await runner.list(limit=1)) == 1


CRASHING_PROCESS = textwrap.dedent(
    """
    import asyncio, sys
    from dupeless.core.jobs import JobRunner
    from dupeless.core.store import Store

    async def main():
        store = await Store.open(sys.argv[1])
        runner = JobRunner(store, progress_interval=0)

        async def handler(ctx):
            await ctx.save_checkpoint({"done": [1, 2]})
            await ctx.progress(0.3, "working")
            print("started", flush=True)
            await asyncio.sleep(3600)

        runner.register(sys.argv[2], handler)
        await runner.start(sys.argv[2])
        await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


def crash_in_the_middle_of_a_job(database: str, job_type: str) -> None:
    """Start a job in a real process and kill it with SIGKILL while the job runs."""
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_PROCESS, database, job_type],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "started"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


async def test_job_left_running_by_a_killed_process_is_marked_failed(settings, store):
    crash_in_the_middle_of_a_job(str(settings.database_path), "sync")
    assert await store.fetchval("SELECT status FROM jobs") == "running"
    runner = JobRunner(store)
    runner.register("sync", lambda ctx: None)
    outcome = await runner.recover()
    job = (await runner.list())[0]
    assert outcome == {"resumed": [], "failed": [job["id"]]}
    assert (job["status"], job["error_message"]) == ("failed", INTERRUPTED)
    assert job["progress"] == 0.3  # what it had done stays visible
    await runner.start("sync")  # and the type is free again
    await runner.shutdown()


async def test_resumable_job_resumes_from_its_checkpoint(settings, store):
    crash_in_the_middle_of_a_job(str(settings.database_path), "batch_operation")
    runner = JobRunner(store)
    seen = []

    async def resume(ctx):
        seen.append(ctx.checkpoint)
        return {"resumed": True}

    runner.register("batch_operation", resume, resumable=True)
    outcome = await runner.recover()
    job = await runner.wait(outcome["resumed"][0])
    assert seen == [{"done": [1, 2]}]
    assert job["status"] == "completed"
