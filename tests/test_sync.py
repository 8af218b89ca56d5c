"""Sync into the store from a real fetch source (the jsonl plugin)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dupeless.core.sync import OVERLAP, fingerprint, sync
from dupeless.plugins.jsonl_source import JsonlSource, document_from_json

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def record(doc_id: int, content: str = "hello world", modified: datetime = T0, **extra):
    return {
        "id": doc_id,
        "title": f"Doc {doc_id}",
        "content": content,
        "correspondent": "ACME",
        "document_type": "Invoice",
        "tags": ["a", "b"],
        "created": "2026-10-01",
        "added": T0.isoformat(),
        "modified": modified.isoformat(),
        **extra,
    }


def write(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return JsonlSource(path)


async def test_first_sync_inserts_everything_with_names_and_tags(store, tmp_path):
    source = write(tmp_path / "d.jsonl", [record(1), record(2, tags=["x"])])
    result = await sync(store, source, "jsonl")
    assert (result.inserted, result.updated, result.unchanged, result.deleted) == (2, 0, 0, 0)
    assert result.full
    row = await store.fetchone("SELECT * FROM documents WHERE id = 2")
    assert (row["correspondent"], row["document_type"], row["processing_status"]) == (
        "ACME",
        "Invoice",
        "pending",
    )
    tags = await store.fetchall("SELECT tag FROM document_tags WHERE document_id = 2")
    assert [tuple(row) for row in tags] == [("x",)]
    assert await store.fetchval("SELECT full_text FROM content WHERE document_id = 1") == (
        "hello world"
    )


async def test_second_sync_is_incremental_and_skips_unchanged(store, tmp_path):
    path = tmp_path / "d.jsonl"
    await sync(store, write(path, [record(1), record(2)]), "jsonl")
    await store.execute("UPDATE documents SET processing_status = 'completed'")
    later = T0 + timedelta(hours=1)
    source = write(
        path,
        [record(1), record(2, content="changed text", modified=later), record(3, modified=later)],
    )
    result = await sync(store, source, "jsonl")
    assert not result.full
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 1)  # 1: overlap
    statuses = dict(await store.fetchall("SELECT id, processing_status FROM documents"))
    assert statuses == {1: "completed", 2: "pending", 3: "pending"}
    cursor = await store.fetchval("SELECT cursor FROM sync_state WHERE source = 'jsonl'")
    assert cursor == "2026-11-01T13:00:00.000000Z"


async def test_overlap_window_relists_recent_edits_but_skips_them_by_fingerprint(store, tmp_path):
    path = tmp_path / "d.jsonl"
    await sync(store, write(path, [record(1)]), "jsonl")
    # An edit stamped just before the cursor (a clock a little behind) is still seen.
    early = T0 - OVERLAP / 2
    source = write(path, [record(1, content="late edit", modified=early)])
    result = await sync(store, source, "jsonl")
    assert result.updated == 1


async def test_force_resyncs_everything(store, tmp_path):
    path = tmp_path / "d.jsonl"
    await sync(store, write(path, [record(1)]), "jsonl")
    result = await sync(store, write(path, [record(1)]), "jsonl", force=True)
    assert result.full and result.unchanged == 1


async def test_deleted_documents_leave_the_store_and_their_groups(store, tmp_path):
    path = tmp_path / "d.jsonl"
    await sync(store, write(path, [record(1), record(2), record(3)]), "jsonl")
    now = "2026-11-01T00:00:00Z"
    await store.execute(
        "INSERT INTO duplicate_groups (id, confidence, member_count, created_at, updated_at)"
        " VALUES ('g', 0.9, 2, ?, ?), ('h', 0.9, 3, ?, ?)",
        (now, now, now, now),
    )
    await store.execute(
        "INSERT INTO group_members (group_id, document_id) VALUES ('g', 1), ('g', 2),"
        " ('h', 1), ('h', 2), ('h', 3)"
    )
    result = await sync(store, write(path, [record(1), record(3)]), "jsonl")
    assert result.deleted == 1
    assert [r[0] for r in await store.fetchall("SELECT id FROM documents ORDER BY id")] == [1, 3]
    groups = await store.fetchall("SELECT id, member_count FROM duplicate_groups")
    assert [tuple(row) for row in groups] == [("h", 2)]


async def test_progress_is_reported(store, tmp_path):
    seen = []

    async def progress(fraction, message):
        seen.append((fraction, message))

    await sync(store, write(tmp_path / "d.jsonl", [record(1)]), "jsonl", progress=progress)
    assert seen[0][0] == 0.0 and seen[-1] == (
        1.0,
        "Sync complete: 1 new, 0 updated, 0 unchanged, 0 deleted, 0 failed",
    )


def test_fingerprint_ignores_tag_order_but_not_content():
    a = document_from_json(record(1, tags=["a", "b"]))
    b = document_from_json(record(1, tags=["b", "a"]))
    c = document_from_json(record(1, content="other"))
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)
