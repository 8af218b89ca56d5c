"""Dashboard and statistics answers are reused exactly while the database is unchanged."""

from __future__ import annotations

from dupeless.server.state import AggregateCache


async def test_answer_is_reused_until_the_writer_commits(store):
    cache = AggregateCache()
    computed = []

    async def count(store):
        computed.append(1)
        return await store.fetchval("SELECT COUNT(*) FROM app_config")

    assert await cache.get("k", store, count) == 0
    assert await cache.get("k", store, count) == 0
    assert len(computed) == 1
    await store.execute("INSERT INTO app_config (key, value, updated_at) VALUES ('a', '1', 'now')")
    assert await cache.get("k", store, count) == 1
    assert len(computed) == 2
