"""Store writes that run in the background, one after another, while the caller goes on.

An analysis hands each batch on to the next step first and writes it second: the normalise
stage's texts go to the signature stage, and scored pairs to the next score batch, while SQLite
writes the previous ones (it releases the GIL while it steps through rows). Writes run in the
order they were put, each after the one before, so a failure stops every later one and is the
error `settle` reports.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable


class WriteBehind:
    """A queue of store writes; `put` waits while more than `limit` are pending."""

    def __init__(self, limit: int):
        self.limit = limit
        self._pending: deque[asyncio.Task[None]] = deque()

    async def put(self, write: Callable[[], Awaitable[None]]) -> None:
        """Queue `write()` behind the writes already queued; raise the error of a failed one."""
        previous = self._pending[-1] if self._pending else None
        self._pending.append(asyncio.create_task(_after(previous, write)))
        while self._pending and (self._pending[0].done() or len(self._pending) > self.limit):
            await self._pending.popleft()

    async def settle(self) -> BaseException | None:
        """Wait for every queued write (also when the caller is failing); the first error."""
        outcomes = await asyncio.gather(*self._pending, return_exceptions=True)
        self._pending.clear()
        return next((error for error in outcomes if isinstance(error, BaseException)), None)


async def _after(previous: asyncio.Task[None] | None, write: Callable[[], Awaitable[None]]) -> None:
    if previous is not None:
        await previous
    await write()
