"""The SQLite store in WAL mode: one writer connection (writes serialised by a lock, so two tasks
never share a transaction) and one reader connection (reads never wait behind a long write).

Checkpoints (copying the write-ahead log back into the database file, with an fsync) run in the
background on a connection of their own, never inside a commit: SQLite's automatic checkpoint
would make an unlucky small write, such as a hook's check, wait a few hundred milliseconds. They
also wait for the writer to pause (CHECKPOINT_QUIET), up to CHECKPOINT_MAX_DELAY: on two cores a
checkpoint running beside a burst of checks slowed each of them by a fifth.

Migrations are the ordered `migrations/NNNN_*.sql` files; each runs in one transaction together
with the `PRAGMA user_version` bump, so a crash mid-migration leaves the previous version intact.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger("dupeless.store")

#: Log size that starts a background checkpoint: about SQLite's own default (1,000 pages).
CHECKPOINT_BYTES = 4 * 1024 * 1024
#: A checkpoint waits until no commit came for this long (seconds), but no longer than the max.
CHECKPOINT_QUIET = 0.25
CHECKPOINT_MAX_DELAY = 5.0
#: Size the log file is cut back to once a checkpoint has emptied it.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
#: Values per `IN (...)` list (`chunks`), well below SQLite's bound on parameters.
CHUNK = 500

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration, in order; versions run 1..N without gaps."""
    found = []
    for entry in resources.files("dupeless.core.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration versions must be 1..N without gaps, found {versions}")
    return found


def latest_version() -> int:
    """The schema version this code expects."""
    return len(migrations())


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """`items` in slices of `size`: one `IN (...)` list per statement."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: Sequence[Any]) -> str:
    """`?,?,...` for an IN clause over `items`."""
    return ",".join("?" * len(items))


def utcnow() -> str:
    """The current instant as the ISO string every timestamp column stores (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store:
    """The application's database: `await Store.open(path)`, then `await store.close()`."""

    def __init__(self, conn: aiosqlite.Connection, reader: aiosqlite.Connection, path: Path):
        self.conn = conn
        self.reader = reader
        self.path = path
        self.write_lock = asyncio.Lock()
        # True inside this store's transaction, for the task (and its awaits) that opened it.
        self._in_transaction: ContextVar[bool] = ContextVar(
            f"transaction_{id(self)}", default=False
        )
        self._busy_timeout_ms = 5000
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._checkpoint_timer: asyncio.TimerHandle | None = None
        self._checkpoint_deadline = 0.0

    @classmethod
    async def open(
        cls, path: str | Path, *, busy_timeout_ms: int = 5000, migrate: bool = True
    ) -> Store:
        """Open (creating the file and folder if needed), set the pragmas, migrate to the latest."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await _connect(path, busy_timeout_ms)
        await _run(conn, "PRAGMA journal_mode = WAL")
        await _run(conn, "PRAGMA wal_autocheckpoint = 0")  # see the module docstring
        store = cls(conn, await _connect(path, busy_timeout_ms), path)
        store._busy_timeout_ms = busy_timeout_ms
        if migrate:
            await store.migrate()
        return store

    async def close(self) -> None:
        if self._checkpoint_timer is not None:  # closing the last connection checkpoints anyway
            self._checkpoint_timer.cancel()
        if self._checkpoint is not None:
            await self._checkpoint
        if self._checkpointer is not None:
            await self._checkpointer.close()
        await self.reader.close()
        await self.conn.close()  # the last connection to close checkpoints the rest

    def _after_commit(self) -> None:
        """Once the log holds more than CHECKPOINT_BYTES, checkpoint when the writer pauses."""
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        try:
            size = self.path.with_name(self.path.name + "-wal").stat().st_size
        except OSError:
            return
        if size <= CHECKPOINT_BYTES:
            return
        loop = asyncio.get_running_loop()
        if self._checkpoint_timer is None:
            self._checkpoint_deadline = loop.time() + CHECKPOINT_MAX_DELAY
        else:  # another commit came: wait for a pause again, but not past the deadline
            self._checkpoint_timer.cancel()
        self._checkpoint_timer = loop.call_at(
            min(loop.time() + CHECKPOINT_QUIET, self._checkpoint_deadline), self._start_checkpoint
        )

    def _start_checkpoint(self) -> None:
        self._checkpoint_timer = None
        self._checkpoint = asyncio.create_task(self._run_checkpoint(), name="store-checkpoint")

    async def _run_checkpoint(self) -> None:
        """A PASSIVE checkpoint: it never blocks readers or the writer; what it cannot copy yet
        (pages a reader still needs) waits for the next one."""
        try:
            if self._checkpointer is None:
                self._checkpointer = await _connect(self.path, self._busy_timeout_ms)
            await _run(self._checkpointer, "PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # the next commit tries again; nothing is lost meanwhile
            log.warning("store: background checkpoint failed: %s", exc)

    async def schema_version(self) -> int:
        async with self.reader.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone()
        return version

    async def migrate(self, target: int | None = None) -> list[int]:
        """Apply each migration above the current version (up to `target`); return those applied."""
        current = await self.schema_version()
        target = latest_version() if target is None else target
        if current > latest_version():
            raise RuntimeError(
                f"database {self.path} has schema version {current}, newer than this dupeless"
                f" understands ({latest_version()}); upgrade dupeless"
            )
        applied = []
        async with self.write_lock:
            for version, _name, sql in migrations():
                if current < version <= target:
                    await self._apply(version, sql)
                    applied.append(version)
        return applied

    async def _apply(self, version: int, sql: str) -> None:
        script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
        try:
            await self.conn.executescript(script)
        except BaseException:
            if self.conn.in_transaction:
                await self.conn.rollback()
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE): committed on success, rolled back on any error.

        A transaction opened inside another one (by the same task) joins it, so a caller can make
        several steps that each write in their own transaction one atomic unit (a single-document
        check: one commit instead of ten). Inside a transaction `fetch*` and `execute` use the
        writer connection, so reads see the transaction's own uncommitted writes.
        """
        if self._in_transaction.get():
            yield self.conn
            return
        async with self.write_lock:
            token = self._in_transaction.set(True)
            try:
                await _run(self.conn, "BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    await self.conn.rollback()
                    raise
                else:
                    await self.conn.commit()
            finally:
                self._in_transaction.reset(token)
        self._after_commit()

    async def data_version(self) -> int:
        """A number that changes whenever the writer commits: a cheap "did anything change"."""
        return await self.fetchval("PRAGMA data_version")

    def _read_conn(self) -> aiosqlite.Connection:
        return self.conn if self._in_transaction.get() else self.reader

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        async with self._read_conn().execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        async with self._read_conn().execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchval(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one write statement (on its own, or in the current transaction); return the number
        of rows it changed."""
        if self._in_transaction.get():
            async with self.conn.execute(sql, params) as cursor:
                return cursor.rowcount
        async with self.write_lock, self.conn.execute(sql, params) as cursor:
            changed = cursor.rowcount
        self._after_commit()
        return changed

    async def tables(self) -> list[str]:
        rows = await self.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
        return [row[0] for row in rows]


async def _connect(path: Path, busy_timeout_ms: int) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    await _run(conn, "PRAGMA synchronous = NORMAL")
    # 64 MiB of page cache (the default is 2 MiB): large analyses and sorts stay off the disk.
    await _run(conn, "PRAGMA cache_size = -65536")
    await _run(conn, "PRAGMA foreign_keys = ON")
    # A 100k analysis (its pair rows published in one transaction) left a 2 GB log file behind.
    await _run(conn, f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
    await _run(conn, f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    return conn


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    """Execute and close the cursor at once: an unread result would keep the database locked."""
    async with conn.execute(sql):
        pass
