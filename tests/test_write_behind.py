"""Background store writes run in order, one at a time, and a failure stops the later ones."""

from __future__ import annotations

import asyncio

import pytest
from dupeless.core.write_behind import WriteBehind


async def test_writes_run_in_order_one_at_a_time_while_the_caller_goes_on():
    log, running = [], []

    def write(n):
        async def run():
            running.append(n)
            assert len(running) == 1  # never two at once
            await asyncio.sleep(0.01 if n % 2 else 0)
            log.append(n)
            running.remove(n)

        return run

    writes = WriteBehind(limit=3)
    for n in range(8):
        await writes.put(write(n))
        assert len(writes._pending) <= 3
    assert log != list(range(8))  # the caller got ahead of the writes
    assert await writes.settle() is None
    assert log == list(range(8))


async def test_a_failed_write_stops_the_later_ones_and_is_the_error_reported():
    log = []

    async def fail():
        raise ValueError("disk full")

    async def ok():
        log.append("written")

    writes = WriteBehind(limit=10)
    await writes.put(fail)
    await writes.put(ok)
    error = await writes.settle()
    assert isinstance(error, ValueError) and log == []


async def test_put_raises_the_error_of_a_write_it_waits_for():
    async def fail():
        raise ValueError("disk full")

    writes = WriteBehind(limit=1)
    await writes.put(fail)
    with pytest.raises(ValueError, match="disk full"):
        await writes.put(fail)  # over the limit: waits for the first, which failed
    assert isinstance(await writes.settle(), ValueError)
