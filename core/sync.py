"""Sync: bring the store in line with the document source, cheaply enough to run often.

- Incremental by default: only documents modified after a cursor are listed. The cursor is an
  instant (never a string), no later than the moment the sync started, minus an overlap window,
  so an edit made while a sync runs is picked up by the next one.
- A document whose fingerprint (title, content, tags, correspondent, type, storage path, custom
  fields, created date) is unchanged is skipped; a changed one is marked for re-analysis.
- Every sync reconciles deletions from the cheap id listing: documents gone from the source leave
  the store and their groups.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from attrs import asdict, define

from .hookspecs.fetch import FetchSource
from .models import SourceDocument
from .store import Store, utcnow

#: Edits up to this long before the cursor are listed again (clock skew, in-flight transactions).
OVERLAP = timedelta(minutes=5)
#: Documents are written in transactions of this many.
WRITE_BATCH = 500

Progress = Callable[[float, str], Awaitable[None]]


@define
class SyncResult:
    """The figures a sync job reports."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    full: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint(document: SourceDocument) -> str:
    """A hash of everything a sync compares; equal fingerprints mean nothing worth re-reading."""
    fields = [
        document.title,
        document.content,
        sorted(document.tags),
        document.correspondent,
        document.document_type,
        document.storage_path,
        sorted(document.custom_fields),
        document.created.isoformat() if document.created else None,
        document.checksum,
    ]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def instant(value: datetime | None) -> str | None:
    """Store instants in UTC so that comparing them as text is comparing them in time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def sync(
    store: Store,
    source: FetchSource,
    source_key: str,
    *,
    force: bool = False,
    min_words: int = 20,
    progress: Progress | None = None,
    check_cancelled: Callable[[], None] = lambda: None,
) -> SyncResult:
    """Run one sync of `source` (identified by `source_key`) into `store`."""
    started = datetime.now(UTC)
    state = await store.fetchone("SELECT * FROM sync_state WHERE source = ?", (source_key,))
    cursor = None if force or state is None else parse_instant(state["cursor"])
    result = SyncResult(full=cursor is None)
    report = progress or _no_progress
    since = cursor - OVERLAP if cursor else None

    await report(0.0, "Listing documents" + (" (full sync)" if since is None else ""))
    newest = cursor
    async for batch in source.documents(modified_after=since):
        check_cancelled()
        for start in range(0, len(batch), WRITE_BATCH):
            written = await store_documents(store, batch[start : start + WRITE_BATCH], result)
            await store_checksums(store, source, written, min_words)
        for document in batch:
            if document.modified and (newest is None or document.modified > newest):
                newest = document.modified
        seen = result.inserted + result.updated + result.unchanged
        await report(0.1, f"Synced {seen} documents")

    check_cancelled()
    await report(0.9, "Reconciling deletions")
    result.deleted = await _reconcile_deletions(store, await source.document_ids())

    new_cursor = min(newest, started) if newest else cursor
    now = utcnow()
    count = await store.fetchval("SELECT COUNT(*) FROM documents")
    await store.execute(
        "INSERT INTO sync_state (source, cursor, last_sync_at, last_full_sync_at,"
        " last_document_count) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor,"
        " last_sync_at = excluded.last_sync_at,"
        " last_full_sync_at = COALESCE(excluded.last_full_sync_at, last_full_sync_at),"
        " last_document_count = excluded.last_document_count",
        (source_key, instant(new_cursor), now, now if result.full else None, count),
    )
    await report(1.0, _summary(result))
    return result


async def _no_progress(fraction: float, message: str) -> None:
    """Progress sink for callers that do not report progress."""


def _summary(result: SyncResult) -> str:
    return (
        f"Sync complete: {result.inserted} new, {result.updated} updated,"
        f" {result.unchanged} unchanged, {result.deleted} deleted, {result.failed} failed"
    )


async def store_documents(
    store: Store, batch: list[SourceDocument], result: SyncResult
) -> list[SourceDocument]:
    """Insert new and update changed documents (marking them for analysis); count each kind.

    Returns the documents written."""
    ids = [document.id for document in batch]
    marks = ",".join("?" * len(ids))
    known = {
        row[0]: row[1]
        for row in await store.fetchall(
            f"SELECT id, fingerprint FROM documents WHERE id IN ({marks})", ids
        )
    }
    written, prints = [], []
    for document in batch:
        printed = fingerprint(document)
        if known.get(document.id) == printed:
            result.unchanged += 1
            continue
        written.append(document)
        prints.append(printed)
        if document.id in known:
            result.updated += 1
        else:
            result.inserted += 1
    if written:
        async with store.transaction() as conn:
            await _upsert(conn, written, prints, utcnow())
    return written


async def store_checksums(
    store: Store, source: FetchSource, documents: list[SourceDocument], min_words: int
) -> None:
    """Ask the source for the original checksums of documents too short for their text to decide.

    Byte-identical files give identical text, so the content hash already groups them; only
    where the text is empty or short does the checksum add anything, and it costs a request each.
    """
    short = [d.id for d in documents if not d.checksum and len(d.content.split()) < min_words]
    if not short:
        return
    found = await source.checksums(short)
    if found:
        async with store.transaction() as conn:
            await conn.executemany(
                "UPDATE documents SET original_checksum = ? WHERE id = ?",
                [(checksum, document_id) for document_id, checksum in found.items()],
            )


async def _upsert(conn: Any, documents: list[SourceDocument], prints: list[str], now: str) -> None:
    """Write new or changed documents (with their fingerprints) and mark them for (re-)analysis.

    One statement per table for the whole batch: each call crosses to the database thread."""
    await conn.executemany(
        "INSERT INTO documents (id, title, correspondent, document_type, storage_path, tags,"
        " custom_fields, created_date, added_at, modified_at, original_file_name, mime_type,"
        " original_checksum, original_size, archive_size, fingerprint, processing_status,"
        " synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)"
        " ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
        " correspondent = excluded.correspondent, document_type = excluded.document_type,"
        " storage_path = excluded.storage_path, tags = excluded.tags,"
        " custom_fields = excluded.custom_fields, created_date = excluded.created_date,"
        " added_at = excluded.added_at, modified_at = excluded.modified_at,"
        " original_file_name = excluded.original_file_name, mime_type = excluded.mime_type,"
        " original_checksum = COALESCE(excluded.original_checksum, original_checksum),"
        " original_size = COALESCE(excluded.original_size, original_size),"
        " archive_size = COALESCE(excluded.archive_size, archive_size),"
        " fingerprint = excluded.fingerprint, processing_status = 'pending',"
        " synced_at = excluded.synced_at",
        [
            (
                document.id,
                document.title,
                document.correspondent,
                document.document_type,
                document.storage_path,
                json.dumps(list(document.tags), ensure_ascii=False),
                json.dumps([list(pair) for pair in document.custom_fields], ensure_ascii=False),
                document.created.isoformat() if document.created else None,
                instant(document.added),
                instant(document.modified),
                document.original_file_name,
                document.mime_type,
                document.checksum,
                document.original_size,
                document.archive_size,
                printed,
                now,
            )
            for document, printed in zip(documents, prints, strict=True)
        ],
    )
    await conn.executemany(
        "DELETE FROM document_tags WHERE document_id = ?", [(d.id,) for d in documents]
    )
    await conn.executemany(
        "INSERT OR IGNORE INTO document_tags (document_id, tag) VALUES (?, ?)",
        [(document.id, tag) for document in documents for tag in document.tags],
    )
    # The analysis fills in the normalised text and hash; until then the old ones must not count.
    await conn.executemany(
        "INSERT INTO content (document_id, full_text, normalized_text, word_count, content_hash)"
        " VALUES (?, ?, '', 0, '') ON CONFLICT (document_id) DO UPDATE SET"
        " full_text = excluded.full_text, normalized_text = '', word_count = 0, content_hash = ''",
        [(document.id, document.content) for document in documents],
    )
    await conn.executemany(
        "DELETE FROM document_features WHERE document_id = ?", [(d.id,) for d in documents]
    )


async def _reconcile_deletions(store: Store, present: set[int]) -> int:
    """Remove documents the source no longer has; groups left with one member go too."""
    stored = {row[0] for row in await store.fetchall("SELECT id FROM documents")}
    gone = sorted(stored - present)
    if not gone:
        return 0
    async with store.transaction() as conn:
        for start in range(0, len(gone), WRITE_BATCH):
            chunk = gone[start : start + WRITE_BATCH]
            marks = ",".join("?" * len(chunk))
            await conn.execute(f"DELETE FROM documents WHERE id IN ({marks})", chunk)
        await conn.execute(
            "UPDATE duplicate_groups SET member_count = (SELECT COUNT(*) FROM group_members"
            " WHERE group_id = duplicate_groups.id), updated_at = ?"
            " WHERE member_count != (SELECT COUNT(*) FROM group_members"
            " WHERE group_id = duplicate_groups.id)",
            (utcnow(),),
        )
        await conn.execute("DELETE FROM duplicate_groups WHERE member_count < 2")
    return len(gone)
