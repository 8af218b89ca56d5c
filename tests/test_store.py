"""The store: pragmas, migrations from empty and from every earlier version, atomic upgrades."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing

import pytest
from dupeless.core import store as store_module
from dupeless.core.store import Store, latest_version, migrations


async def schema(store: Store) -> list[tuple[str, str]]:
    rows = await store.fetchall(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [(row["name"], row["sql"]) for row in rows]


async def test_pragmas(store):
    assert await store.fetchval("PRAGMA journal_mode") == "wal"
    assert await store.fetchval("PRAGMA foreign_keys") == 1
    assert await store.fetchval("PRAGMA busy_timeout") == 5000
    assert await store.fetchval("PRAGMA journal_size_limit") == 64 * 1024 * 1024
    assert await store.schema_version() == latest_version()


async def test_required_tables_exist(store):
    assert {
        "documents",
        "content",
        "signatures",
        "document_features",
        "candidate_pages",
        "duplicate_groups",
        "group_members",
        "pair_scores",
        "pair_decisions",
        "jobs",
        "app_config",
        "sync_state",
        "hook_events",
    } <= set(await store.tables())


@pytest.mark.parametrize("start", range(latest_version()))
async def test_upgrade_from_every_earlier_version(tmp_path, start):
    fresh = await Store.open(tmp_path / "fresh.db")
    old = await Store.open(tmp_path / "old.db", migrate=False)
    try:
        await old.migrate(target=start)
        assert await old.schema_version() == start
        if start >= 1:  # data written under the old schema survives the upgrade
            await old.execute(
                "INSERT INTO documents (id, title, fingerprint, synced_at)"
                " VALUES (7, 'x', 'f', 'now')"
            )
        applied = await old.migrate()
        assert applied == list(range(start + 1, latest_version() + 1))
        assert await schema(old) == await schema(fresh)
        if start >= 1:
            assert await old.fetchval("SELECT title FROM documents WHERE id = 7") == "x"
    finally:
        await old.close()
        await fresh.close()


async def upgraded_with_features(tmp_path, version, features):
    """A store built up to `version`, holding document 7 with stored `features`, then upgraded."""
    store = await Store.open(tmp_path / "old.db", migrate=False)
    await store.migrate(target=version)
    await store.execute(
        "INSERT INTO documents (id, title, fingerprint, synced_at) VALUES (7, 'x', 'f', 'now')"
    )
    await store.execute(
        "INSERT INTO content (document_id, full_text, normalized_text, word_count,"
        " content_hash, features) VALUES (7, 'x', 'x', 1, 'h', ?)",
        (features,),
    )
    await store.migrate()
    return store


async def test_a_changed_feature_extraction_drops_stored_features(tmp_path):
    store = await upgraded_with_features(tmp_path, 8, "{}")
    try:
        assert await store.fetchval("SELECT count(*) FROM document_features") == 0
    finally:
        await store.close()


async def test_stored_features_move_out_of_the_content_row(tmp_path):
    store = await upgraded_with_features(tmp_path, 9, '{"dates": []}')
    try:
        rows = await store.fetchall("SELECT * FROM document_features")
        assert [tuple(row) for row in rows] == [(7, '{"dates": []}')]
        columns = [row["name"] for row in await store.fetchall("PRAGMA table_info(content)")]
        assert "features" not in columns and "full_text" in columns
    finally:
        await store.close()


async def test_stored_signatures_survive_the_move_to_ordinary_rows(tmp_path):
    store = await Store.open(tmp_path / "old.db", migrate=False)
    try:
        await store.migrate(target=10)
        await store.execute("INSERT INTO signatures VALUES ('h', 'minhash', x'0102')")
        await store.migrate()
        assert await store.fetchval("SELECT signature FROM signatures") == b"\x01\x02"
        await store.execute("INSERT OR REPLACE INTO signatures VALUES ('h', 'minhash', x'03')")
        assert await store.fetchval("SELECT count(*) FROM signatures") == 1  # still unique
    finally:
        await store.close()


async def test_reopening_applies_nothing(settings):
    store = await Store.open(settings.database_path)
    await store.close()
    store = await Store.open(settings.database_path)
    try:
        assert await store.migrate() == []
    finally:
        await store.close()


async def test_a_failing_migration_leaves_the_previous_version(tmp_path):
    store = await Store.open(tmp_path / "x.db", migrate=False)
    try:
        version, _, sql = migrations()[0]
        with pytest.raises(Exception, match="no such table"):
            await store._apply(version, sql + "\nINSERT INTO no_such_table VALUES (1);")
        assert await store.schema_version() == 0
        assert await store.tables() == []
    finally:
        await store.close()


async def test_a_newer_database_is_refused(tmp_path):
    store = await Store.open(tmp_path / "x.db")
    await store.execute(f"PRAGMA user_version = {latest_version() + 1}")
    try:
        with pytest.raises(RuntimeError, match="newer than this dupeless"):
            await store.migrate()
    finally:
        await store.close()


async def test_transaction_rolls_back_on_error(store):
    with pytest.raises(ValueError):
        async with store.transaction() as conn:
            await conn.execute(
                "INSERT INTO app_config (key, value, updated_at) VALUES ('a', '1', 'now')"
            )
            raise ValueError("boom")
    assert await store.fetchval("SELECT COUNT(*) FROM app_config") == 0


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("SELECT id FROM documents WHERE correspondent = 'x'", "documents_correspondent"),
        ("SELECT id FROM documents WHERE document_type = 'x'", "documents_document_type"),
        ("SELECT id FROM documents WHERE processing_status = 'pending'", "documents_processing"),
        ("SELECT document_id FROM document_tags WHERE tag = 'x'", "document_tags_tag"),
        ("SELECT id FROM duplicate_groups WHERE status = 'pending' ORDER BY confidence", "status"),
        ("SELECT id FROM duplicate_groups ORDER BY created_at", "duplicate_groups_created_at"),
        ("SELECT id FROM duplicate_groups ORDER BY member_count", "duplicate_groups_member_count"),
        ("SELECT id FROM jobs WHERE type = 'sync' ORDER BY created_at", "jobs_type_created"),
        ("SELECT id FROM jobs WHERE status = 'failed' ORDER BY created_at", "jobs_status_created"),
        ("SELECT group_id FROM group_members WHERE document_id = 1", "group_members_document"),
        ("SELECT id FROM hook_events WHERE status = 'pending' ORDER BY id", "hook_events_status"),
    ],
)
async def test_api_filters_and_sorts_use_an_index(store, query, index):
    plan = " ".join(row["detail"] for row in await store.fetchall(f"EXPLAIN QUERY PLAN {query}"))
    assert index in plan, plan


async def test_a_nested_transaction_joins_the_outer_one(store):
    async def insert(document_id):
        async with store.transaction() as conn:
            await conn.execute(
                "INSERT INTO documents (id, fingerprint, synced_at) VALUES (?, 'f', 'now')",
                (document_id,),
            )

    async with store.transaction():
        await insert(1)
        await store.execute("UPDATE documents SET title = 'one' WHERE id = 1")
        # Reads inside the transaction see its own uncommitted writes.
        assert await store.fetchval("SELECT title FROM documents WHERE id = 1") == "one"
    assert await store.fetchval("SELECT COUNT(*) FROM documents") == 1

    with pytest.raises(RuntimeError):
        async with store.transaction():
            await insert(2)
            raise RuntimeError("crash in the middle")
    # The inner step's write went with the outer rollback: all or nothing.
    assert await store.fetchval("SELECT COUNT(*) FROM documents") == 1


async def write_log(store: Store, rows: int = 60, prefix: str = "k") -> None:
    """About `rows` * 100 kB of log in one transaction."""
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO app_config (key, value, updated_at) VALUES (?, ?, 'now')",
            [(f"{prefix}{i}", "x" * 100_000) for i in range(rows)],
        )


async def test_large_writes_are_checkpointed_in_the_background_once_the_writer_pauses(
    store, monkeypatch
):
    monkeypatch.setattr(store_module, "CHECKPOINT_QUIET", 0.1)
    await write_log(store)  # ~6 MB of log, over CHECKPOINT_BYTES
    assert store._checkpoint is None  # not beside the writer's next step: it waits for a pause
    await asyncio.sleep(0.2)
    assert store._checkpoint is not None
    await store._checkpoint
    # Read the database file alone, ignoring the log: the rows were copied into it.
    uri = f"file:{store.path}?mode=ro&immutable=1"
    with closing(sqlite3.connect(uri, uri=True)) as plain:
        assert plain.execute("SELECT COUNT(*) FROM app_config").fetchone()[0] >= 60


async def test_the_log_file_is_cut_back_once_checkpointed(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "JOURNAL_SIZE_LIMIT", 256 * 1024)
    monkeypatch.setattr(store_module, "CHECKPOINT_QUIET", 0.05)
    store = await Store.open(tmp_path / "cut.db")
    try:
        log = tmp_path / "cut.db-wal"
        await write_log(store)  # ~6 MB of log
        grown = log.stat().st_size
        await asyncio.sleep(0.1)
        await store._checkpoint
        await write_log(store, rows=1, prefix="after-")  # the next write starts the log afresh
        assert grown > 4 * 1024 * 1024 and log.stat().st_size <= 512 * 1024
    finally:
        await store.close()


async def test_a_writer_that_never_pauses_still_gets_its_checkpoints(store, monkeypatch):
    monkeypatch.setattr(store_module, "CHECKPOINT_QUIET", 0.2)
    monkeypatch.setattr(store_module, "CHECKPOINT_MAX_DELAY", 0.3)
    await write_log(store)
    for step in range(12):  # a commit every 50 ms: never a 200 ms pause
        await write_log(store, rows=1, prefix=f"s{step}-")
        await asyncio.sleep(0.05)
    assert store._checkpoint is not None  # started by the deadline
    await store._checkpoint
