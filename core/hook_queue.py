"""The hook queue: checks every document Paperless reports, one durable event at a time.

The endpoint records each event as a `hook_events` row (status `pending`) before it answers, then
`submit`s its id. A few workers (`HookSettings.workers`) take ids from a bounded in-memory queue;
when it is full the event simply stays `pending` in the database and is read back as soon as
there is room, so a burst never loses an event and never grows memory. Each worker keeps one
fetch source open for its whole life.

Processing an event: claim it (`pending` -> `processing`, attempts + 1), fetch the document
(concurrently across workers), run `check()` (the store-and-analyse part one at a time, so two
checks never regroup the same part of the graph together, and in the order the events were
taken, so the later of two copies is the one reported as a duplicate), write back to Paperless
when enabled, then `done` with the verdict. An error puts the event back to `pending` for a retry
after a short backoff; after `max_attempts` it is `failed` with the error. On start-up, rows
left `processing` by a crash are made `pending` again and every pending row is queued, so events
survive restarts.
Checking a document twice changes nothing (check and write-back are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from .check import Verdict, check
from .config import Settings
from .dedup_config import load_dedup
from .hook_settings import HookSettings
from .hookspecs.fetch import FetchSource
from .models import SourceDocument
from .paperless import PaperlessClient
from .pipeline import Pipeline
from .store import Store, utcnow
from .tasks import open_source
from .writeback import WriteBack

log = logging.getLogger("dupeless.hooks")

TERMINAL = ("done", "failed")
SOURCES = ("post_consume", "webhook", "cli")
#: Seconds before retry n (1-based) of a failed event, and before reopening a broken source.
RETRY_BACKOFF = (0.5, 2.0, 5.0, 15.0)
REOPEN_DELAY = 5.0
#: Payload keys whose values never reach the database.
SECRET_MARKERS = ("token", "authorization", "password", "secret", "api_key", "apikey")

OpenSource = Callable[[Pipeline], contextlib.AbstractAsyncContextManager[tuple[FetchSource, str]]]


# --- events in the store ----------------------------------------------------------------------


def scrub(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without anything that looks like a credential."""
    return {
        key: value
        for key, value in payload.items()
        if not any(marker in str(key).lower() for marker in SECRET_MARKERS)
    }


async def record_event(
    store: Store, document_id: int, source: str, payload: dict[str, Any] | None = None
) -> int:
    """Store a new pending event; returns its id."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    text = json.dumps(scrub(payload or {}), ensure_ascii=False, default=str)
    async with (
        store.transaction() as conn,
        conn.execute(
            "INSERT INTO hook_events (document_id, source, payload, received_at)"
            " VALUES (?, ?, ?, ?)",
            (int(document_id), source, text, utcnow()),
        ) as cursor,
    ):
        return int(cursor.lastrowid)


async def get_event(store: Store, event_id: int) -> dict[str, Any] | None:
    """An event as the API shows it, or None when there is no such event."""
    row = await store.fetchone(
        "SELECT id, document_id, source, status, attempts, verdict, error, received_at,"
        " processed_at FROM hook_events WHERE id = ?",
        (int(event_id),),
    )
    if row is None:
        return None
    verdict = json.loads(row["verdict"]) if row["verdict"] else None
    return {
        "eventId": row["id"],
        "documentId": row["document_id"],
        "source": row["source"],
        "status": row["status"],
        "attempts": row["attempts"],
        "verdict": verdict,
        "line": Verdict(**verdict).line() if verdict else None,
        "error": row["error"],
        "receivedAt": row["received_at"],
        "processedAt": row["processed_at"],
    }


class _Fetched:
    """A fetch source that hands `check()` a document fetched beforehand."""

    def __init__(self, document: SourceDocument | None):
        self._document = document

    async def document(self, document_id: int) -> SourceDocument | None:
        return self._document


# --- the queue --------------------------------------------------------------------------------


class Turn:
    """One event's place in the analysis order: it waits for the event taken before it."""

    def __init__(self, before: asyncio.Future[None] | None):
        self._before = before
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def wait(self) -> None:
        if self._before is not None:
            await asyncio.shield(self._before)  # our cancellation must not end the other's turn

    def end(self) -> None:
        """Let the next event go (after the analysis, or whenever this one gives up)."""
        if not self.done.done():
            self.done.set_result(None)


class Turns:
    """Events are analysed in the order workers took them, while their documents are fetched
    concurrently: so of two copies consumed one after the other, the later one is reported as
    the duplicate, however the fetches happen to finish."""

    def __init__(self) -> None:
        self._last: asyncio.Future[None] | None = None

    def take(self) -> Turn:
        turn = Turn(self._last)
        self._last = turn.done
        return turn


class HookQueue:
    """Durable hook events, bounded memory, a few workers; see the module docstring."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        hooks: HookSettings,
        *,
        paperless: Callable[[], PaperlessClient] | None = None,
        source_opener: OpenSource = open_source,
    ):
        self.store = store
        self.pipeline = pipeline
        self.settings: Settings = pipeline.settings
        self.hooks = hooks
        self._open_source = source_opener
        self._client_factory = paperless
        self._own_client: PaperlessClient | None = None
        self._writeback: WriteBack | None = None
        self._queue: asyncio.Queue[int] = asyncio.Queue(maxsize=max(1, hooks.queue_size))
        self._queued: set[int] = set()
        self._overflow = False
        self._refilling = asyncio.Lock()
        self._analysis = asyncio.Lock()
        self._turns = Turns()
        self._waiters: dict[int, set[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self._ready = asyncio.Event()
        self._claimed: set[int] = set()
        self._stopped = False
        #: Verdicts of events still writing back, for `wait`.
        self._verdicts: dict[int, Verdict] = {}
        self.processed = 0
        self.failed = 0

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> HookQueue:
        """Recover what a previous run left and start the workers (needs a running loop)."""
        self._tasks.append(asyncio.create_task(self._recover(), name="hooks-recover"))
        for number in range(max(1, self.hooks.workers)):
            task = asyncio.create_task(self._worker(number), name=f"hooks-worker-{number}")
            self._tasks.append(task)
        return self

    async def stop(self) -> None:
        """Stop the workers; unfinished events stay in the database for the next start."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._claimed:  # interrupted here: checked again by the next start
            ids = sorted(self._claimed)
            with contextlib.suppress(Exception):
                await self.store.execute(
                    "UPDATE hook_events SET status = 'pending'"
                    f" WHERE status = 'processing' AND id IN ({','.join('?' * len(ids))})",
                    ids,
                )
            self._claimed.clear()
        self._stopped = True
        for event_id in list(self._waiters):
            self._finished(event_id)
        if self._own_client is not None:
            await self._own_client.aclose()
            self._own_client = None

    async def _recover(self) -> None:
        reset = await self.store.execute(
            "UPDATE hook_events SET status = 'pending' WHERE status = 'processing'"
        )
        if reset:
            log.warning("hooks: %d events were interrupted by a stop; checking them again", reset)
        self._overflow = True
        await self._refill()
        pending = len(self._queued)
        if pending:
            log.info("hooks: %d pending events queued at start-up", pending)
        self._ready.set()

    # -- submitting and waiting ------------------------------------------------------------------

    def submit(self, event_id: int) -> bool:
        """Queue a recorded event; False when memory is full (it stays pending and is read back
        from the database as soon as there is room)."""
        event_id = int(event_id)
        if event_id in self._queued:
            return True
        try:
            self._queue.put_nowait(event_id)
        except asyncio.QueueFull:
            self._overflow = True
            return False
        self._queued.add(event_id)
        return True

    async def wait(
        self,
        event_id: int,
        timeout: float,  # noqa: ASYNC109 - the endpoint's `?wait=` is a duration, not a deadline
    ) -> dict[str, Any] | None:
        """The event once it is done or failed, or as it stands after `timeout` seconds; None
        when there is no such event."""
        event_id = int(event_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            future = loop.create_future()
            self._waiters.setdefault(event_id, set()).add(future)
            try:
                event = await get_event(self.store, event_id)
                early = self._verdicts.get(event_id)
                if event is not None and early is not None and event["status"] == "processing":
                    verdict = early.as_dict()
                    return {**event, "verdict": verdict, "line": early.line()}
                left = deadline - loop.time()
                if event is None or event["status"] in TERMINAL or left <= 0 or self._stopped:
                    return event
                with contextlib.suppress(TimeoutError):
                    # Woken after every attempt; a failed one with retries left loops again.
                    await asyncio.wait_for(future, left)
            finally:
                waiting = self._waiters.get(event_id)
                if waiting is not None:
                    waiting.discard(future)
                    if not waiting:
                        del self._waiters[event_id]

    def _finished(self, event_id: int) -> None:
        for future in self._waiters.get(event_id, ()):
            if not future.done():
                future.set_result(None)

    async def pending(self) -> int:
        """Events not yet done or failed (for health reports)."""
        return await self.store.fetchval(
            "SELECT COUNT(*) FROM hook_events WHERE status IN ('pending', 'processing')"
        )

    # -- workers ---------------------------------------------------------------------------------

    async def _next(self) -> int:
        if self._queue.empty() and self._overflow:
            await self._refill()
        return await self._queue.get()

    async def _refill(self) -> None:
        """Queue pending events the memory queue could not take."""
        async with self._refilling:
            if not self._overflow:
                return
            self._overflow = False
            # Ids in `_queued` (queued or being claimed) come back too: ask for that many more.
            limit = self._queue.maxsize - self._queue.qsize() + len(self._queued)
            rows = await self.store.fetchall(
                "SELECT id FROM hook_events WHERE status = 'pending' ORDER BY id LIMIT ?",
                (limit,),
            )
            for row in rows:
                if not self.submit(row[0]):
                    break
            if len(rows) >= limit:
                self._overflow = True  # there may be more than the page read

    async def _worker(self, number: int) -> None:
        """Take events one by one; the fetch source is opened when the first event arrives (an
        idle dupeless without Paperless configured never tries) and reopened after a failure."""
        await self._ready.wait()
        event_id = await self._next()
        while True:
            try:
                async with self._open_source(self.pipeline) as (source, _key):
                    while True:
                        try:
                            await self.process(event_id, source)
                        finally:
                            self._queued.discard(event_id)
                        event_id = await self._next()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("hooks worker %d: cannot open the fetch source: %s", number, exc)
                await asyncio.sleep(REOPEN_DELAY)

    async def process(self, event_id: int, source: FetchSource) -> dict[str, Any] | None:
        """Claim, check, write back and finish one event; returns the event afterwards (None
        when another worker or an earlier run has it already)."""
        turn = self._turns.take()
        try:
            return await self._process(event_id, source, turn)
        finally:
            turn.end()

    async def _process(
        self, event_id: int, source: FetchSource, turn: Turn
    ) -> dict[str, Any] | None:
        claimed = await self.store.execute(
            "UPDATE hook_events SET status = 'processing', attempts = attempts + 1"
            " WHERE id = ? AND status = 'pending'",
            (event_id,),
        )
        if not claimed:
            return None
        self._claimed.add(event_id)
        row = await self.store.fetchone(
            "SELECT document_id, attempts FROM hook_events WHERE id = ?", (event_id,)
        )
        document_id, attempts = row["document_id"], row["attempts"]
        try:
            verdict = await self.check(document_id, source, event_id, turn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(event_id, document_id, attempts, exc)
        else:
            await self.store.execute(
                "UPDATE hook_events SET status = 'done', verdict = ?, error = NULL,"
                " processed_at = ? WHERE id = ?",
                (json.dumps(verdict.as_dict()), utcnow(), event_id),
            )
            self.processed += 1
            log.info("%s (event %d)", verdict.line(), event_id)
        self._claimed.discard(event_id)
        self._verdicts.pop(event_id, None)
        self._finished(event_id)
        return await get_event(self.store, event_id)

    async def check(
        self, document_id: int, source: FetchSource, event_id: int | None, turn: Turn
    ) -> Verdict:
        """Fetch (concurrently), check (one at a time, in the order the events were taken) and
        write back one document.

        Whoever waits for the event hears the verdict before the write-back (which does not change
        it), so the post-consume script is not held up by the calls that tag and note.
        """
        document = await source.document(document_id)
        await turn.wait()
        try:
            async with self._analysis:
                dedup = await load_dedup(self.store, self.settings)
                verdict = await check(
                    self.store, self.pipeline, _Fetched(document), dedup, document_id
                )
        finally:
            turn.end()
        if event_id is not None:
            self._verdicts[event_id] = verdict
            self._finished(event_id)
        if verdict.duplicate and self.writes_back:
            done = await self.writeback().apply(verdict)
            if any(done.values()):
                log.info("hooks: wrote back to document %d: %s", document_id, done)
        return verdict

    async def _failed(self, event_id: int, document_id: int, attempts: int, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempts >= self.hooks.max_attempts:
            await self.store.execute(
                "UPDATE hook_events SET status = 'failed', error = ?, processed_at = ?"
                " WHERE id = ?",
                (error, utcnow(), event_id),
            )
            self.failed += 1
            log.error(
                "hooks: event %d (document %d) failed after %d attempts: %s",
                event_id,
                document_id,
                attempts,
                error,
            )
            return
        await self.store.execute(
            "UPDATE hook_events SET status = 'pending', error = ? WHERE id = ?", (error, event_id)
        )
        delay = RETRY_BACKOFF[min(attempts, len(RETRY_BACKOFF)) - 1]
        log.warning(
            "hooks: event %d (document %d) attempt %d failed: %s; retrying in %.1fs",
            event_id,
            document_id,
            attempts,
            error,
            delay,
        )
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def again() -> None:
            self._timers.discard(timer)  # type: ignore[arg-type]
            self.submit(event_id)

        timer = loop.call_later(delay, again)
        self._timers.add(timer)

    # -- write-back ------------------------------------------------------------------------------

    @property
    def writes_back(self) -> bool:
        """Write-back is on and the documents come from Paperless."""
        return (
            self.hooks.write_back
            and self.settings.pipeline.fetch == "paperless"
            and bool(self.settings.paperless.url)
        )

    def writeback(self) -> WriteBack:
        if self._writeback is None:
            if self._client_factory is not None:
                client = self._client_factory()
            else:
                self._own_client = PaperlessClient.from_settings(self.settings.paperless)
                client = self._own_client
            self._writeback = WriteBack(client, self.hooks)
        return self._writeback


def start(app_state: Any, hooks: HookSettings | None = None) -> HookQueue:
    """Build and start the queue for the app (`app_state` has `settings`, `store`, `pipeline`,
    and optionally the shared `paperless()` client); call from the lifespan."""
    hooks = hooks or HookSettings.from_settings(app_state.settings)
    shared = getattr(app_state, "paperless", None)
    queue = HookQueue(
        app_state.store,
        app_state.pipeline,
        hooks,
        paperless=shared if callable(shared) else None,
    )
    return queue.start()


@contextlib.asynccontextmanager
async def running(app_state: Any, hooks: HookSettings | None = None) -> AsyncIterator[HookQueue]:
    """`start` and `stop` around a block."""
    queue = start(app_state, hooks)
    try:
        yield queue
    finally:
        await queue.stop()
