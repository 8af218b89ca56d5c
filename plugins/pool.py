"""A small process pool for the per-document CPU work of the built-in plugins.

Normalising, signing, extracting template features and comparing them are pure Python or numpy
per item and hold the GIL, so a thread cannot spread them over the cores. `pool_map` cuts a
*large* batch into one chunk per worker and runs the chunks in a lazily created
`ProcessPoolExecutor` (start method "forkserver": safe in a process that already runs threads,
unlike "fork"). Small batches, such as a single-document check, always run in-process: a round
trip to a worker costs a few milliseconds, and starting the pool costs a second.

Like every "spawn"/"forkserver" pool, the workers import the main module as `__mp_main__`: a
script that runs an analysis must do so under `if __name__ == "__main__":` (the `dupeless`
command, the server and `python -m bench....` do). A child process never starts a pool itself.

The pool is module-level and shared by every plugin of the process. `DUPELESS_POOL_WORKERS`
sets its size (default: the number of cores, at most 4); 0 or 1 turns it off. If a worker dies,
the pool is dropped and the batch runs in-process, so the result is always the same.
Each worker ends by itself once the host process is gone (checked every HOST_CHECK_SECONDS), so
a killed host, or a server stopped without shutting the pool down, leaves no workers behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("dupeless.plugins")

WORKERS_ENV = "DUPELESS_POOL_WORKERS"
#: Batches with fewer items than this run in-process.
MIN_ITEMS = 400
#: How often a worker checks that its host process still runs (see `_exit_with`).
HOST_CHECK_SECONDS = 1.0

T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def workers() -> int:
    """Pool size: $DUPELESS_POOL_WORKERS, else the number of cores (at most 4)."""
    value = os.environ.get(WORKERS_ENV)
    if value is not None and value.strip():
        return max(int(value), 0)
    return min(os.cpu_count() or 1, 4)


def _executor() -> ProcessPoolExecutor | None:
    global _pool
    if multiprocessing.parent_process() is not None:
        return None  # a worker (or any child process) never starts a pool of its own
    with _lock:
        if _pool is None and workers() > 1:
            context = multiprocessing.get_context("forkserver")
            _pool = ProcessPoolExecutor(
                workers(), mp_context=context, initializer=_exit_with, initargs=(os.getpid(),)
            )
        return _pool


def _exit_with(host: int) -> None:
    """Worker initializer: end this worker once the host process is gone, however it ended.

    A worker waits for work on a pipe it holds both ends of, and keeps the forkserver alive, so
    the workers of a killed host (or of a server stopped before its pool was shut down) would
    wait forever, 80 MB each.
    """
    threading.Thread(target=_watch, args=(host,), name="dupeless-host-watch", daemon=True).start()


def _watch(host: int) -> None:
    while True:
        time.sleep(HOST_CHECK_SECONDS)
        try:
            os.kill(host, 0)  # signal 0: only asks whether the process exists
        except (ProcessLookupError, PermissionError):  # gone, or its pid is another user's now
            os._exit(0)


def start() -> None:
    """Start the workers now, in the background, instead of at the first large batch (whose
    caller would wait a quarter of a second for them)."""
    pool = _executor()
    if pool is not None:
        for _ in range(workers()):
            pool.submit(_ready)


def _ready() -> None:
    """A worker's first task: nothing, once the process runs."""


def shutdown() -> None:
    """Stop the worker processes (a later large batch starts them again)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def pool_map(
    func: Callable[..., T],
    items: Sequence[Any],
    *args: Any,
    min_items: int | None = None,
) -> list[T]:
    """`[func(chunk, *args) for chunk in chunks]` over consecutive chunks of `items`.

    `func` must be a module-level function (it is pickled by name). With fewer than `min_items`
    items (default `MIN_ITEMS`), or without a pool, it is one in-process call:
    `[func(items, *args)]`.
    """
    pool = _executor() if len(items) >= (MIN_ITEMS if min_items is None else min_items) else None
    if pool is None:
        return [func(items, *args)]
    size = -(-len(items) // workers())
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    try:
        futures = [pool.submit(func, chunk, *args) for chunk in chunks]
        return [future.result() for future in futures]
    except BrokenProcessPool:
        log.warning("plugin worker pool broke; running the batch in-process", exc_info=True)
        shutdown()
        return [func(items, *args)]
