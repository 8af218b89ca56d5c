"""The persisted LSH index answers like the in-memory batch and survives reopening the store."""

from __future__ import annotations

import numpy as np
from dupeless.core.store import Store
from dupeless.plugins.lsh import ENTRY, LshIndex, band_hashes


async def add_documents(store, ids):
    await store.execute(
        "INSERT INTO documents (id, fingerprint, synced_at) VALUES "
        + ",".join("(?, 'f', 'now')" for _ in ids),
        ids,
    )


async def test_index_answers_like_the_batch_and_persists(settings, store):
    await add_documents(store, [10, 11, 12])
    signatures = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 7, 7, 7]], dtype=np.int64)
    index = LshIndex(store, 2)
    await index.add([10, 11, 12], signatures)
    assert await index.query(signatures[0]) == {10, 11}
    assert (await index.pairs([10, 11, 12], signatures)).tolist() == [[10, 11]]
    await index.remove([11])
    assert await index.query(signatures[0]) == {10}
    await index.add([12], signatures[:1])  # replaced: 12 now looks like 10
    assert await index.query(signatures[0]) == {10, 12}
    assert await index.query(np.array([7, 7, 7, 7])) == set()

    reopened = await Store.open(settings.database_path)
    try:
        assert await LshIndex(reopened, 2).query(signatures[0]) == {10, 12}
    finally:
        await reopened.close()


async def test_deleting_a_document_drops_its_buckets(store):
    await add_documents(store, [1, 2])
    index = LshIndex(store, 2)
    await index.add([1, 2], np.array([[5, 5, 6, 6], [5, 5, 8, 8]], dtype=np.int64))
    await store.execute("DELETE FROM documents WHERE id = 2")
    assert await index.query(np.array([5, 5, 0, 0])) == {1}


async def test_clear_forgets_everything_and_readding_works(store):
    await add_documents(store, [1, 2])
    index = LshIndex(store, 2)
    signatures = np.array([[5, 5, 6, 6], [5, 5, 8, 8]], dtype=np.int64)
    await index.add([1, 2], signatures)
    await store.execute("DELETE FROM documents WHERE id = 2")  # leaves its buckets behind
    await index.clear()
    assert await store.fetchval("SELECT COUNT(*) FROM candidate_pages") == 0
    assert await index.query(signatures[0]) == set()
    await index.add([1], signatures[:1])
    assert await index.query(signatures[0]) == {1}
    assert await store.fetchval("SELECT COUNT(*) FROM candidate_index") == 1


async def test_bulk_add_in_steps_stores_every_entry(store, monkeypatch):
    monkeypatch.setattr("dupeless.plugins.lsh.PAGES_PER_STEP", 3)  # 8 entries, up to 8 pages
    await add_documents(store, [1, 2, 3, 4])
    signatures = np.array([[1, 1, 2, 2], [1, 1, 3, 3], [4, 4, 2, 2], [9, 9, 9, 9]], dtype=np.int64)
    index = LshIndex(store, 2)
    await index.add([1, 2, 3, 4], signatures)
    entries = await store.fetchval("SELECT SUM(LENGTH(entries)) FROM candidate_pages")
    assert entries == 8 * ENTRY.itemsize
    assert await index.query(signatures[0]) == {1, 2, 3}
    assert await index.query(signatures[3]) == {4}


async def test_pages_shared_by_many_documents_keep_every_other_entry(store, monkeypatch):
    """With few pages every page holds many documents: re-indexing or removing some rewrites
    the pages they share and leaves every other document's entries as they were."""
    monkeypatch.setattr("dupeless.plugins.lsh.PAGE_BITS", 2)
    monkeypatch.setattr("dupeless.plugins.lsh.PAGES_PER_STEP", 3)
    rng = np.random.default_rng(3)
    ids = list(range(1, 41))
    await add_documents(store, ids)
    signatures = rng.integers(0, 6, size=(40, 8))
    index = LshIndex(store, 4)
    await index.add(ids, signatures)
    assert await store.fetchval("SELECT COUNT(*) FROM candidate_pages") <= 4

    await index.remove(ids[:10])
    signatures[10:20] = rng.integers(0, 6, size=(10, 8))  # documents 11-20 change
    await index.add(ids[10:20], signatures[10:20])
    stored = await store.fetchval("SELECT SUM(LENGTH(entries)) FROM candidate_pages")
    assert stored == 30 * 4 * ENTRY.itemsize  # no entry of a removed or re-indexed one is left
    index.min_jaccard = 0  # compare with plain banding
    buckets = {i: set(band_hashes(signatures[i - 1 : i], 4)[0].tolist()) for i in ids[10:]}
    for document, own in buckets.items():
        sharing = {other for other, theirs in buckets.items() if own & theirs}
        assert await index.query(signatures[document - 1]) == sharing


def test_band_hashes_of_int64_signatures_equal_those_of_the_same_bits_unsigned():
    signed = np.array([[-1, 2, 3, -4]], dtype=np.int64)
    assert band_hashes(signed, 2).tolist() == band_hashes(signed.view(np.uint64), 2).tolist()


async def test_a_query_drops_documents_that_share_a_band_by_chance(store):
    await add_documents(store, [1, 2, 3])
    signatures = np.array([np.arange(8), [0, *range(10, 17)], [0, 1, 2, 3, 4, 5, 0, 0]])
    index = LshIndex(store, 8)  # one row per band: document 2 shares 1 value in 8
    await index.add([1, 2, 3], signatures)
    assert await index.query(signatures[0]) == {1, 3}
    # A document indexed before sketches were kept is never dropped.
    await store.execute("UPDATE candidate_index SET sketch = NULL WHERE document_id = 2")
    assert await index.query(signatures[0]) == {1, 2, 3}


async def test_a_sketch_of_another_signature_length_cannot_drop_a_candidate(store):
    """After `num_permutations` changed, documents indexed with the old length still answer."""
    await add_documents(store, [1, 2])
    await LshIndex(store, 4).add([1, 2], np.array([np.arange(8), [0, 1, *range(10, 16)]]))
    wider = np.array([0, 1, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 80, 81, 82, 83])
    assert await LshIndex(store, 8).query(wider) == {1, 2}  # band (0, 1) is shared
