"""The `lsh` candidate stage: locality-sensitive hashing over MinHash signatures (banding).

A signature of `num_permutations` values is cut into `num_bands` bands of `rows` values; two
documents become a candidate pair when all values of at least one band agree. For a pair with
Jaccard similarity J that happens with probability 1 - (1 - J**rows)**num_bands, an S-curve whose
midpoint is near (1 / num_bands) ** (1 / rows): 0.65 for the contract's 32 bands x 8 rows.

Banding alone also lets through pairs that merely share one band by chance: with the 4-row bands
that OCR recall needs, a pair with J = 0.1 collides 1 time in 160, and a large library has
billions of such pairs (at 100k documents they were four candidates in five). So every
candidate is *verified*: its Jaccard estimate from the two signatures (the share of equal values,
read from their 16-bit sketches: a quarter of the memory to sweep, and the same test a query
makes) must reach `[plugins.lsh] min_jaccard` (default 0.15), else it is dropped before anything
reads a text. No pair under J = 0.23 ever reached the default threshold in the benchmark, and the
estimate's error at 256 values (0.02) keeps a true pair there well above the floor; the pairs
dropped are the ones banding finds only by luck (under 4 % of pairs at J = 0.15).

This module holds the pure math (band hashes, candidate pairs of an in-memory batch) and
`LshIndex`, which persists the same band hashes in the store and answers the same question one
document at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from dupeless.core.errors import ConfigError
from dupeless.core.hookspecs import hookimpl
from dupeless.core.store import chunks, marks
from dupeless.plugins.minhash import estimated_jaccard, pair_estimates

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
#: Bands whose pairs are gathered before duplicates are dropped (see `candidate_pairs`).
BANDS_PER_MERGE = 8
#: Top bits of a bucket hash that name its page in `candidate_pages`: 65,536 pages, of about
#: 100 entries (1.2 KB) each at 100k documents.
PAGE_BITS = 16
#: Pages merged and written per step when indexing in bulk.
PAGES_PER_STEP = 4096
#: One bucket entry of a page: the bucket hash's low 32 bits and the document.
ENTRY = np.dtype([("key", "<u4"), ("document", "<i8")])
#: Default of `[plugins.lsh] min_jaccard`: candidates estimated below it are dropped.
MIN_JACCARD = 0.15


def rows_per_band(num_permutations: int, num_bands: int) -> int:
    """Rows in each band; a ValueError naming both settings when the bands do not divide evenly."""
    if num_bands <= 0 or num_permutations % num_bands:
        raise ValueError(
            f"num_bands ({num_bands}) must divide num_permutations ({num_permutations}) evenly"
        )
    return num_permutations // num_bands


def band_hashes(signatures: np.ndarray, num_bands: int) -> np.ndarray:
    """One int64 hash per band: an (n x num_bands) matrix. Equal bands give equal hashes.

    The band index is mixed in, so equal values in different bands never collide.
    """
    rows, width = signatures.shape
    per_band = rows_per_band(width, num_bands)
    # A view, not a copy, of int64 signatures: at 100k documents a copy is 200 MB.
    if signatures.dtype == np.int64:
        unsigned = signatures.view(np.uint64)
    else:
        unsigned = signatures.astype(np.uint64)
    values = unsigned.reshape(rows, num_bands, per_band)
    hashes = np.broadcast_to(np.arange(num_bands, dtype=np.uint64), (rows, num_bands)).copy()
    for column in range(per_band):
        hashes = (hashes * _MULTIPLIER) ^ values[:, :, column]
        hashes ^= hashes >> np.uint64(29)
    return hashes.view(np.int64)


def candidate_pairs(hashes: np.ndarray, ids: np.ndarray | list[int]) -> np.ndarray:
    """Every pair of ids that shares at least one band: an (m x 2) int64 array, lower id first,
    sorted.

    Sorts each band's hashes and pairs the members of every run of equal hashes, all in numpy.
    A run of k documents yields k*(k-1)/2 pairs, so a band shared by a huge run (texts without
    shingles) must be kept out by the caller, as the host does with texts under `min_words`.
    A pair is one int64 key (the two rows' positions in id order), so dropping duplicates is a
    sort of one array. A true pair is found in many bands, so duplicates are dropped every
    BANDS_PER_MERGE bands: memory stays near the number of distinct pairs, not that times the
    number of bands. The keys found so far and each band's keys are sorted runs, which a
    stable sort (timsort) merges rather than sorts again.
    """
    ids, hashes = np.asarray(ids, dtype=np.int64), np.asarray(hashes)
    if np.any(ids[1:] < ids[:-1]):  # the host's are sorted: no copy of the hashes then
        order = np.argsort(ids, kind="stable")
        ids, hashes = ids[order], hashes[order]
    count = np.int64(len(ids))
    found = np.empty(0, dtype=np.int64)
    for first in range(0, hashes.shape[1], BANDS_PER_MERGE):
        bands = range(first, min(first + BANDS_PER_MERGE, hashes.shape[1]))
        keys = np.concatenate([found, *(_keys_in_column(hashes[:, b], count) for b in bands)])
        keys.sort(kind="stable")
        found = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    return np.stack((ids[found // count], ids[found % count]), axis=1)


def verified(
    pairs: np.ndarray, ids: np.ndarray, signatures: np.ndarray, floor: float
) -> np.ndarray:
    """The candidate `pairs` whose estimated Jaccard (rows of `signatures`, in the order of
    `ids`) is at least `floor`."""
    if not len(pairs) or floor <= 0:
        return pairs
    order = np.argsort(ids, kind="stable")
    rows = order[np.searchsorted(ids, pairs, sorter=order)]
    keep = pair_estimates(rows[:, 0], rows[:, 1], signatures) >= floor
    return pairs[keep]


def sketch(signatures: np.ndarray) -> np.ndarray:
    """The low 16 bits of every value: two sketches agree where the signatures do, except for
    one value in 65,536, so the share of equal values still estimates Jaccard."""
    return np.asarray(signatures).astype(np.uint16)


def _keys_in_column(column: np.ndarray, count: np.int64) -> np.ndarray:
    """The pairs of rows that share this band's hash, as sorted keys `first * count + second`
    (row positions, first < second; a pair shares a band's hash once, so they are distinct)."""
    order = np.argsort(column, kind="stable")
    values = column[order]
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    sizes = np.diff(np.append(starts, len(values)))
    shared = sizes > 1
    starts, sizes = starts[shared], sizes[shared]
    if not len(starts):
        return np.empty(0, dtype=np.int64)
    # For a run of size k, pair member i with members i+1..k-1: enumerate (run, i, j) offsets.
    per_run = sizes * (sizes - 1) // 2
    run = np.repeat(np.arange(len(starts)), per_run)
    rank = np.arange(per_run.sum()) - np.repeat(np.cumsum(per_run) - per_run, per_run)
    size = sizes[run]
    # Invert rank -> (i, j) with i < j inside a run of `size`, row by row of the upper triangle.
    before = _triangle_row(rank, size)
    first = starts[run] + before
    row_start = before * (2 * size - before - 1) // 2
    second = first + 1 + (rank - row_start)
    # The stable sort keeps each run in row order, so order[first] < order[second].
    return np.sort(order[first] * count + order[second])


def _triangle_row(rank: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Row i of the upper triangle (size x size, no diagonal) that holds pair number `rank`."""
    # Row i starts at i*(2*size-i-1)/2; solve the quadratic, then correct rounding by one step.
    n = 2 * size - 1
    row = np.floor((n - np.sqrt(n.astype(np.float64) ** 2 - 8 * rank)) / 2).astype(np.int64)
    row = np.maximum(row, 0)
    start = row * (2 * size - row - 1) // 2
    row -= start > rank
    following = (row + 1) * (2 * size - row - 2) // 2
    row += following <= rank
    return row


class LshIndex:
    """The persisted index: bucket entries in pages (`candidate_pages`), one row per page.

    A bucket hash's top PAGE_BITS bits name its page; the page's blob holds an ENTRY (the
    hash's low 32 bits and the document) for every document in a bucket of that page. So
    `query` for one new document reads its `num_bands` pages and rebuilds nothing in memory,
    and writing the index is a few tens of thousands of rows whatever the library's size: one
    row per (bucket, document), 6.4 M at 100k documents, cost SQLite three times the CPU.
    Each document's bucket hashes are also kept as one blob (`candidate_index`), which finds the
    pages to rewrite when it is re-indexed or removed, next to the signature's `sketch`, which
    verifies the candidates a query finds. A full run computes its pairs in numpy from the
    signatures it already holds (`pairs`), not through the index.
    """

    def __init__(self, store: Any, num_bands: int, min_jaccard: float = MIN_JACCARD):
        self.store = store
        self.num_bands = num_bands
        self.min_jaccard = min_jaccard

    async def add(self, document_ids: list[int], signatures: np.ndarray) -> None:
        """Insert or replace the buckets of these documents."""
        if not document_ids:
            return
        hashes = band_hashes(signatures, self.num_bands)
        sketches = sketch(signatures)
        del signatures  # a full run scores while this writes: 200 MB at 100k documents
        async with self.store.transaction() as conn:
            await _rewrite_pages(conn, document_ids, hashes)
            await conn.executemany(
                "INSERT OR REPLACE INTO candidate_index (document_id, buckets, sketch)"
                " VALUES (?, ?, ?)",
                [
                    (document, row.astype("<i8").tobytes(), values.astype("<u2").tobytes())
                    for document, row, values in zip(document_ids, hashes, sketches, strict=True)
                ],
            )

    async def remove(self, document_ids: list[int]) -> None:
        """Forget these documents."""
        if document_ids:
            async with self.store.transaction() as conn:
                await _rewrite_pages(conn, document_ids, np.empty((0, self.num_bands), np.int64))
                for chunk in chunks(document_ids):
                    await conn.execute(
                        f"DELETE FROM candidate_index WHERE document_id IN ({marks(chunk)})", chunk
                    )

    async def clear(self) -> None:
        """Forget every document, including the entries left behind by deleted ones."""
        async with self.store.transaction() as conn:
            await conn.execute("DELETE FROM candidate_pages")
            await conn.execute("DELETE FROM candidate_index")

    async def query(self, signature: np.ndarray) -> set[int]:
        """Ids of indexed documents that share at least one band with this signature and pass
        the verification (a document indexed without a sketch always passes)."""
        signature = np.asarray(signature)
        pages, keys = _pages_and_keys(band_hashes(signature.reshape(1, -1), self.num_bands)[0])
        stored = await self.store.fetchall(
            f"SELECT page, entries FROM candidate_pages WHERE page IN ({marks(pages)})",
            pages.tolist(),
        )
        entries, owner = _entries_of(stored)
        hit = np.isin(_bucket_ids(owner, entries["key"]), _bucket_ids(pages, keys))
        found = set(entries["document"][hit].tolist())
        # Read each found document's sketch once; candidate_index also hides the entries of
        # documents deleted since they were indexed.
        own = sketch(signature)
        kept: set[int] = set()
        for chunk in chunks(sorted(found)):
            rows = await self.store.fetchall(
                "SELECT document_id, sketch FROM candidate_index"
                f" WHERE document_id IN ({marks(chunk)})",
                chunk,
            )
            kept.update(document for document, stored in rows if self._passes(stored, own))
        return kept

    def _passes(self, stored: bytes | None, own: np.ndarray) -> bool:
        """Whether a found document's stored sketch agrees enough with `own`. One indexed
        without a sketch, or with another signature length (`num_permutations` changed and the
        library is not yet analysed again), cannot be judged and passes."""
        if stored is None or len(stored) != 2 * len(own):
            return True
        return estimated_jaccard(np.frombuffer(stored, dtype="<u2"), own) >= self.min_jaccard

    async def pairs(self, document_ids: list[int], signatures: np.ndarray) -> np.ndarray:
        """Every verified candidate pair among these documents (a full run), found in memory,
        in a thread (seconds of numpy at 100k documents, while the host writes the index)."""
        if not document_ids:
            return np.empty((0, 2), dtype=np.int64)
        return await asyncio.to_thread(
            verified_pairs, document_ids, signatures, self.num_bands, self.min_jaccard
        )


def verified_pairs(
    document_ids: list[int], signatures: np.ndarray, num_bands: int, min_jaccard: float
) -> np.ndarray:
    """`LshIndex.pairs`' numpy work: banded candidates, then the Jaccard-estimate check."""
    ids = np.asarray(document_ids, dtype=np.int64)
    found = candidate_pairs(band_hashes(signatures, num_bands), ids)
    return verified(found, ids, sketch(signatures), min_jaccard)


def _bucket_ids(pages: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Page and key in one integer (the 48 bits of a bucket hash that the index keeps)."""
    return (pages.astype(np.int64) << 32) | keys.astype(np.int64)


def _entries_of(stored: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """The entries of stored (page, blob) rows as one array, and the page of each entry."""
    entries = np.frombuffer(b"".join(blob for _, blob in stored), dtype=ENTRY)
    owner = np.repeat(
        np.fromiter((page for page, _ in stored), dtype=np.int64, count=len(stored)),
        [len(blob) // ENTRY.itemsize for _, blob in stored],
    )
    return entries, owner


def _pages_and_keys(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each bucket hash's page (its top PAGE_BITS bits) and key (its low 32 bits)."""
    unsigned = np.asarray(hashes).view(np.uint64)
    pages = (unsigned >> np.uint64(64 - PAGE_BITS)).astype(np.uint16)
    return pages, (unsigned & np.uint64(0xFFFF_FFFF)).astype(np.uint32)


async def _rewrite_pages(conn: Any, document_ids: list[int], hashes: np.ndarray) -> None:
    """Replace the entries of these documents by those of `hashes` (one row per document;
    none to remove them): every page either holds is read, merged and written back.

    Pages go in steps of PAGES_PER_STEP, so a full run's 6.4 M entries (100k documents) are
    never all copied at once; within a step each page is one slice of an array sorted by page.
    """
    width = hashes.shape[1]
    pages, keys = _pages_and_keys(hashes.ravel())
    order = np.argsort(pages, kind="stable")  # a radix sort of 16-bit values: linear
    by_page = pages[order]
    old = await _indexed_buckets(conn, document_ids)
    touched = np.union1d(pages, _pages_and_keys(old)[0])
    ids = np.asarray(document_ids, dtype=np.int64)
    for step in range(0, len(touched), PAGES_PER_STEP):
        wanted = touched[step : step + PAGES_PER_STEP]
        taken = order[
            np.searchsorted(by_page, wanted[0]) : np.searchsorted(by_page, wanted[-1], "right")
        ]
        added = np.empty(len(taken), dtype=ENTRY)
        added["key"] = keys[taken]
        added["document"] = ids[taken // width]
        wanted = wanted.astype(np.int64)
        entries, owner = _merged(
            await _read_pages(conn, wanted), ids, added, pages[taken].astype(np.int64)
        )
        bounds = np.searchsorted(owner, wanted), np.searchsorted(owner, wanted, side="right")
        rows = [
            (page, entries[start:end].tobytes())
            for page, start, end in zip(wanted.tolist(), *(b.tolist() for b in bounds), strict=True)
        ]
        await conn.executemany(
            "INSERT OR REPLACE INTO candidate_pages (page, entries) VALUES (?, ?)",
            [row for row in rows if row[1]],
        )
        await conn.executemany(
            "DELETE FROM candidate_pages WHERE page = ?", [(row[0],) for row in rows if not row[1]]
        )


def _merged(
    stored: list[tuple[int, bytes]], leaving: np.ndarray, added: np.ndarray, added_pages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The stored entries of pages without those of the `leaving` documents, plus `added`
    (sorted by page already), as one array sorted by page, and each entry's page."""
    if not stored:
        return added, added_pages
    kept, kept_pages = _entries_of(stored)
    staying = ~np.isin(kept["document"], leaving)
    entries = np.concatenate((kept[staying], added))
    owner = np.concatenate((kept_pages[staying], added_pages))
    order = np.argsort(owner, kind="stable")
    return entries[order], owner[order]


async def _read_pages(conn: Any, pages: np.ndarray) -> list[tuple[int, bytes]]:
    """The stored (page, entries) rows of these pages, in page order."""
    rows: list[tuple[int, bytes]] = []
    for chunk in chunks(pages.tolist()):
        async with conn.execute(
            f"SELECT page, entries FROM candidate_pages WHERE page IN ({marks(chunk)})"
            " ORDER BY page",
            chunk,
        ) as cursor:
            rows += await cursor.fetchall()
    return rows


async def _indexed_buckets(conn: Any, document_ids: list[int]) -> np.ndarray:
    """The bucket hashes these documents are indexed under now (all in one array)."""
    blobs = []
    for chunk in chunks(document_ids):
        async with conn.execute(
            f"SELECT buckets FROM candidate_index WHERE document_id IN ({marks(chunk)})", chunk
        ) as cursor:
            blobs += [blob for (blob,) in await cursor.fetchall()]
    return np.frombuffer(b"".join(blobs), dtype="<i8")


@hookimpl
def dupeless_candidate_index(settings: Any, plugin_config: dict[str, Any], store: Any) -> LshIndex:
    dedup = settings.dedup
    rows_per_band(dedup.num_permutations, dedup.num_bands)
    return LshIndex(store, dedup.num_bands, min_jaccard(plugin_config))


def min_jaccard(plugin_config: dict[str, Any]) -> float:
    """`[plugins.lsh] min_jaccard`, checked: a number from 0 to 1 (0 verifies nothing)."""
    value = plugin_config.get("min_jaccard", MIN_JACCARD)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError([f"plugins.lsh.min_jaccard: must be a number from 0 to 1, got {value!r}"])
    return float(value)
