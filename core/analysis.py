"""Analysis: normalise -> signature -> candidate -> score -> group, over the store.

Incremental by default: only documents marked `pending` by a sync (or named by a check) are
normalised, signed and looked up in the persisted candidate index; only the part of the duplicate
graph they touch is regrouped. `force` re-analyses everything. Groups a user has reviewed (any
status but `pending`) are never rewritten; a pair decided "not duplicate" never groups again.

Per-pair components are stored as `pair_scores.components` (`core.scoring.encode_components`),
so a weight change recomputes every confidence exactly (`core.scoring.rescore`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Any, NamedTuple

import attrs
import numpy as np
import orjson
from attrs import define
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .config import DedupSettings, Settings
from .dedup_config import weights_for
from .gc_tuning import fewer_collections
from .grouping import build_groups
from .hookspecs.candidate import CandidateIndex
from .hookspecs.signature import SignatureParams
from .models import AnalysedDocument, DuplicateGroup, PairScore, ScoringPair
from .pipeline import Pipeline
from .scoring import Weights, decode_pair, encode_components, score_pairs, to_json
from .store import Store, chunks, marks, utcnow
from .write_behind import WriteBehind

#: Documents normalised and signed per hook call; pairs scored per hook call.
BATCH = 1000
SCORE_BATCH = 5000
#: Score batches in flight at once (see `_score`).
SCORING_AT_ONCE = 2
#: Batch writes that may wait for the store while the stages go on (see `WriteBehind`).
PENDING_WRITES = 16
#: Analysed documents kept between score batches (a document of a template series is in many).
CACHED_DOCUMENTS = 2000
#: Where a run with more than one score batch collects its pair rows (see _publish_staged).
STAGED = "temp.staged_pair_scores"
PAIR_COLUMNS = "document_a, document_b, confidence, components, explanation, scored_at"
_NO_PAIRS = f"SELECT {PAIR_COLUMNS} FROM pair_scores WHERE 0"
ALGORITHM_VERSION = "1"

Progress = Callable[[float, str], Awaitable[None]]
#: A scored batch: its documents (their features are saved with the scores) and its scores.
Scored = tuple[dict[int, AnalysedDocument], list[PairScore]]


class Normalised(NamedTuple):
    """A document's normalised text as the normalise stage stores it and hands it on."""

    text: str
    words: int
    content_hash: str
    document_id: int


@define
class AnalysisResult:
    """The figures an analysis job reports."""

    documents_analysed: int = 0
    signatures_computed: int = 0
    signatures_reused: int = 0
    candidate_pairs: int = 0
    pairs_scored: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_removed: int = 0
    full: bool = False

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Analysis:
    """One analysis run; `run()` does the work (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        dedup: DedupSettings,
        *,
        progress: Progress | None = None,
        check_cancelled: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.pipeline = pipeline
        self.dedup = dedup
        self.settings: Settings = attrs.evolve(pipeline.settings, dedup=dedup)
        self.report = progress or _no_progress
        self.check_cancelled = check_cancelled
        self.result = AnalysisResult()
        self._stored_features: dict[int, bool] = {}
        self._key: str | None = None
        self._loading = asyncio.Lock()
        #: The candidate index being written (a full run scores meanwhile; see `_candidates`).
        self._indexing: asyncio.Task[None] | None = None
        #: The staged pair rows being deleted (groups are built meanwhile; see `_publish_staged`).
        self._clearing: asyncio.Task[None] | None = None

    async def run(
        self, *, force: bool = False, document_ids: Iterable[int] | None = None
    ) -> AnalysisResult:
        """Analyse pending documents (or `document_ids`, or everything with `force`)."""
        with fewer_collections():
            return await self._run(force, document_ids)

    async def _run(self, force: bool, document_ids: Iterable[int] | None) -> AnalysisResult:
        if force:
            await self.store.execute("UPDATE documents SET processing_status = 'pending'")
            await (await self._index()).clear()
        if document_ids is None:
            pending = await self.store.fetchall(
                "SELECT id FROM documents WHERE processing_status = 'pending' ORDER BY id"
            )
            document_ids = [row[0] for row in pending]
        ids = sorted(set(document_ids))
        # A library with nothing analysed yet is a full run: its pairs are found in bulk.
        analysed = await self.store.fetchval(
            "SELECT 1 FROM documents WHERE processing_status = 'completed' LIMIT 1"
        )
        self.result.full = force or analysed is None
        self.result.documents_analysed = len(ids)
        if not ids:
            await self.report(1.0, "Nothing to analyse")
            return self.result

        await self.report(0.02, f"Normalising and signing {len(ids)} documents")
        signed = await self._normalise_and_sign(ids)
        self.check_cancelled()
        await self.report(0.45, "Finding candidates")
        # Writes that go on in the background: a full run's candidate index while its pairs are
        # found and scored, the staged pair rows' deletion while the groups are built.
        try:
            with self.pipeline.monitor("stage", "candidate", self.pipeline.provider("candidate")):
                pairs = await self._candidates(ids, signed)
            del signed  # 200 MB at 100k documents; scoring reads signatures batch by batch
            self.check_cancelled()
            await self.report(0.55, f"Scoring {len(pairs)} candidate pairs")
            with self.pipeline.monitor("stage", "score", None):
                await self._score(ids, pairs)
            if self._indexing is not None:
                await self._indexing
            self.check_cancelled()
            await self.report(0.9, "Grouping")
            with self.pipeline.monitor("stage", "group", None):
                await self._regroup(ids)
            if self._clearing is not None:
                await self._clearing
        except BaseException:  # never leave a write behind; the first error is the one raised
            await asyncio.gather(
                *(task for task in (self._indexing, self._clearing) if task is not None),
                return_exceptions=True,
            )
            raise
        await self._mark_completed(ids)
        await self.report(1.0, self.summary())
        return self.result

    def summary(self) -> str:
        r = self.result
        return (
            f"Analysis complete: {r.documents_analysed} documents, {r.pairs_scored} pairs scored,"
            f" {r.groups_created} groups created, {r.groups_updated} updated,"
            f" {r.groups_removed} removed"
        )

    # -- normalise ------------------------------------------------------------------------------

    async def _normalise_and_sign(self, ids: list[int]) -> dict[int, np.ndarray]:
        """Run the normalise and signature stages side by side, chunk by chunk.

        The signature stage takes each chunk's normalised texts as the normalise stage hands
        them over (not read back from the store), so while one stage's plugin works in the
        process pool, the other's reads and writes run beside it.
        """
        handed: asyncio.Queue[list[Normalised] | None] = asyncio.Queue(2)
        writes = WriteBehind(PENDING_WRITES)

        async def normalise() -> None:
            with self.pipeline.monitor("stage", "normalise", self.pipeline.provider("normalise")):
                await self._normalise(ids, handed, writes)

        async def sign() -> dict[int, np.ndarray]:
            with self.pipeline.monitor("stage", "signature", self.pipeline.provider("signature")):
                return await self._sign(handed, len(ids), writes)

        try:
            async with asyncio.TaskGroup() as stages:  # one failing stops the other
                stages.create_task(normalise())
                signing = stages.create_task(sign())
        except BaseExceptionGroup as failed:  # raise the stage's own error, as a lone stage would
            raise failed.exceptions[0] from None
        finally:
            failure = await writes.settle()
        if failure is not None:
            raise failure
        return signing.result()

    async def _normalise(
        self,
        ids: list[int],
        handed: asyncio.Queue[list[Normalised] | None],
        writes: WriteBehind,
    ) -> None:
        """Normalise each chunk and hand its rows on, then queue their write; None says there
        are no more. The next chunk's texts are read while the plugin works on this one."""
        provider = self.pipeline.provider("normalise")
        pending = list(chunks(ids, BATCH))
        reading = asyncio.create_task(self._raw_texts(pending[0]))
        try:
            for index in range(len(pending)):
                self.check_cancelled()
                rows = await reading
                if index + 1 < len(pending):
                    reading = asyncio.create_task(self._raw_texts(pending[index + 1]))
                normalised = await self.pipeline.call(
                    "dupeless_normalise", provider, offload=True, texts=[text for _, text in rows]
                )
                updates = [
                    Normalised(text, word_count(text), content_hash(text), document_id)
                    for (document_id, _), text in zip(rows, normalised, strict=True)
                ]
                await handed.put(updates)
                await writes.put(functools.partial(self._store_normalised, updates))
        finally:  # a failing or cancelled stage leaves no read behind
            reading.cancel()
        await handed.put(None)

    async def _raw_texts(self, chunk: list[int]) -> list[Any]:
        return await self.store.fetchall(
            f"SELECT document_id, full_text FROM content WHERE document_id IN ({marks(chunk)})",
            chunk,
        )

    async def _store_normalised(self, updates: list[Normalised]) -> None:
        async with self.store.transaction() as conn:
            await conn.executemany(
                "UPDATE content SET normalized_text = ?, word_count = ?, content_hash = ?"
                " WHERE document_id = ?",
                updates,
            )

    # -- signature ------------------------------------------------------------------------------

    def _params(self) -> SignatureParams:
        return SignatureParams(self.dedup.num_permutations, self.dedup.ngram_size)

    async def _signature_key(self) -> str:
        """The key stored signatures are filed under, asked of the signature plugin once per run
        (an empty batch; every score batch's document load needs it)."""
        if self._key is None:
            signatures = await self.pipeline.call(
                "dupeless_signatures",
                self.pipeline.provider("signature"),
                texts=[],
                params=self._params(),
            )
            self._key = signatures.key
        return self._key

    async def _sign(
        self, handed: asyncio.Queue[list[Normalised] | None], total: int, writes: WriteBehind
    ) -> dict[int, np.ndarray]:
        """Signatures of the handed documents with enough words, reusing stored ones by content
        hash (also those of this run, which may still wait to be written); progress is
        reported per chunk (`total` documents in all)."""
        provider = self.pipeline.provider("signature")
        key = await self._signature_key()
        signed: dict[int, np.ndarray] = {}
        known: dict[str, np.ndarray] = {}  # content hash -> signature, for this run
        done = 0
        while (chunk := await handed.get()) is not None:
            done += len(chunk)
            await self.report(0.02 + 0.43 * done / total, f"Normalised {done} of {total} documents")
            rows = [row for row in chunk if row.words >= self.dedup.min_words]
            hashes = sorted({row.content_hash for row in rows}.difference(known))
            if hashes:
                known.update(
                    (content_hash, _signature_of(signature, self.dedup.num_permutations))
                    for content_hash, signature in await self.store.fetchall(
                        "SELECT content_hash, signature FROM signatures"
                        f" WHERE algorithm = ? AND content_hash IN ({marks(hashes)})",
                        [key, *hashes],
                    )
                )
            missing = [row for row in rows if row.content_hash not in known]
            for row in rows:
                if row.content_hash in known:
                    signed[row.document_id] = known[row.content_hash]
            self.result.signatures_reused += len(rows) - len(missing)
            if not missing:
                continue
            computed = await self.pipeline.call(
                "dupeless_signatures",
                provider,
                offload=True,
                texts=[row.text for row in missing],
                params=self._params(),
            )
            values = np.asarray(computed.values, dtype=np.int64)
            for row, signature in zip(missing, values, strict=True):
                signed[row.document_id] = known[row.content_hash] = signature
            stored = [
                (row.content_hash, key, blob)
                for row, blob in zip(missing, _signature_blobs(values), strict=True)
            ]
            await writes.put(functools.partial(self._store_signatures, stored))
            self.result.signatures_computed += len(missing)
        return signed

    async def _store_signatures(self, rows: list[tuple[str, str, bytes]]) -> None:
        async with self.store.transaction() as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO signatures (content_hash, algorithm, signature)"
                " VALUES (?, ?, ?)",
                rows,
            )

    # -- candidate ------------------------------------------------------------------------------

    async def _candidates(self, ids: list[int], signed: dict[int, np.ndarray]) -> np.ndarray:
        """Candidate pairs (LSH and the exact tier) touching the analysed documents, as a sorted
        (m x 2) array: a large library has millions, far too many for Python tuples."""
        index = await self._index()
        await index.remove([i for i in ids if i not in signed])
        order = sorted(signed)
        matrix = np.stack([signed[i] for i in order]) if order else np.empty((0, 0))
        # Point the entries at the matrix rows, so the signatures are held once, not twice.
        signed.update(zip(order, matrix, strict=True))
        if self.result.full:
            # Pairs are found in memory, not through the index: the pair search (numpy, in a
            # thread) and the exact tier (SQL) run together, and the index is written meanwhile,
            # and on while the pairs are scored (`_run` waits for it before grouping).
            self._indexing = asyncio.create_task(index.add(order, matrix))
            exact, near = await asyncio.gather(
                self._exact_candidates(ids), index.pairs(order, matrix)
            )
        else:  # a query must find the other documents of its run
            await index.add(order, matrix)
            exact = await self._exact_candidates(ids)
            queried = {
                (min(document, other), max(document, other))
                for document in order
                for other in await index.query(signed[document])
                if other != document
            }
            near = np.asarray(sorted(queried), dtype=np.int64)
        found = [np.asarray(sorted(exact), dtype=np.int64), near]
        pairs = np.unique(np.concatenate([part.reshape(-1, 2) for part in found]), axis=0)
        self.result.candidate_pairs = len(pairs)
        return pairs

    async def _index(self) -> CandidateIndex:
        return await self.pipeline.call(
            "dupeless_candidate_index",
            self.pipeline.provider("candidate"),
            settings=self.settings,
            store=self.store,
        )

    async def _exact_candidates(self, ids: list[int]) -> set[tuple[int, int]]:
        """Pairs sharing a non-empty normalised text or an original checksum with `ids`."""
        pairs: set[tuple[int, int]] = set()
        for chunk in chunks(ids, BATCH):
            rows = await self.store.fetchall(
                "SELECT a.document_id, b.document_id FROM content a JOIN content b"
                " ON b.content_hash = a.content_hash AND b.document_id != a.document_id"
                f" WHERE a.document_id IN ({marks(chunk)}) AND a.normalized_text != ''"
                " UNION SELECT a.id, b.id FROM documents a JOIN documents b"
                " ON b.original_checksum = a.original_checksum AND b.id != a.id"
                f" WHERE a.id IN ({marks(chunk)}) AND a.original_checksum IS NOT NULL",
                [*chunk, *chunk],
            )
            pairs.update((min(a, b), max(a, b)) for a, b in rows)
        return pairs

    # -- score ----------------------------------------------------------------------------------

    async def _score(self, ids: list[int], pairs: np.ndarray) -> None:
        """Score the candidate pairs, replacing every stored pair of the analysed documents.

        Documents are loaded batch by batch, so memory stays bounded however many pairs a large
        library has; scores go straight to the store.
        """
        weights = weights_for(self.settings, self.dedup)
        scorers = self.pipeline.scorers()
        pairs = _by_component(pairs)
        staged = len(pairs) > SCORE_BATCH
        # The old pairs of the analysed documents go in the transaction that publishes the new
        # ones (`_publish_staged`), or, with one batch at most, before it is written.
        writes = WriteBehind(PENDING_WRITES)
        await writes.put(self._stage if staged else functools.partial(self._delete_pairs, ids))
        # Two batches are scored at once, each scorer taking one batch at a time (a plugin is
        # never called concurrently): while the pool compares one batch's penalties, the next
        # batch is loaded and scored by the in-process scorers, so neither side waits for the
        # other. Each batch is written while later ones are scored (SQLite releases the GIL
        # while it steps through the rows; see docs/how-it-works.md, rounds 5, 10 and 11).
        table = STAGED if staged else "pair_scores"
        locks = {name: asyncio.Lock() for name in scorers}
        cache: OrderedDict[int, AnalysedDocument] = OrderedDict()
        scoring: deque[asyncio.Task[Scored]] = deque()
        try:
            for start in range(0, len(pairs), SCORE_BATCH):
                self.check_cancelled()
                chunk = pairs[start : start + SCORE_BATCH].tolist()
                scoring.append(asyncio.create_task(self._score_batch(chunk, cache, locks, weights)))
                if len(scoring) == SCORING_AT_ONCE:
                    await self._queue_write(scoring.popleft(), writes, table, len(pairs))
            while scoring:
                await self._queue_write(scoring.popleft(), writes, table, len(pairs))
        finally:  # never leave a batch or a write behind, even when cancelled or failing
            await asyncio.gather(*scoring, return_exceptions=True)
            failure = await writes.settle()
        if failure is not None:
            raise failure
        if staged:
            await self._publish_staged(ids)

    async def _score_batch(
        self,
        chunk: list[list[int]],
        cache: OrderedDict[int, AnalysedDocument],
        locks: dict[str, asyncio.Lock],
        weights: Weights,
    ) -> Scored:
        """Load the documents of these pairs and run every scorer on them (see `_score`)."""
        documents = await self._cached({d for pair in chunk for d in pair}, cache)
        batch = [ScoringPair(documents[a], documents[b]) for a, b in chunk]
        components = []
        for name, lock in locks.items():
            async with lock:
                components.append(
                    await self.pipeline.call(
                        "dupeless_score_pairs",
                        name,
                        offload=True,
                        pairs=batch,
                        settings=self.settings,
                    )
                )
        return documents, score_pairs(batch, components, weights)

    async def _queue_write(
        self, scored: asyncio.Task[Scored], writes: WriteBehind, table: str, total: int
    ) -> None:
        """Wait for a batch's scores, then queue their write.

        Scoring goes on while writes wait for the store (a full run's candidate index holds the
        write lock for a while). What waits is the batch's rows, encoded now (a few megabytes),
        not its documents; at most PENDING_WRITES wait at once.
        """
        documents, scores = await scored
        self.result.pairs_scored += len(scores)
        done = self.result.pairs_scored
        await self.report(0.55 + 0.35 * done / total, f"Scored {done} of {total} pairs")
        features = self._new_features(documents.values())
        rows = _pair_rows(scores)
        await writes.put(functools.partial(self._write, features, rows, table))

    async def _write(
        self, features: list[tuple[str, int]], rows: list[tuple[Any, ...]], table: str
    ) -> None:
        """Write a batch's new features and its pair rows."""
        async with self.store.transaction() as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO document_features (features, document_id) VALUES (?, ?)",
                features,
            )
            await conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({PAIR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    async def _stage(self) -> None:
        """An empty staging table, before a run's first batch (a failed or cancelled run may
        have left rows in it) and after its rows are published."""
        async with self.store.transaction() as conn:
            await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGED} AS {_NO_PAIRS}")
            await conn.execute(f"DELETE FROM {STAGED}")

    async def _delete_pairs(self, ids: list[int]) -> None:
        """Forget the stored pairs of these documents (in the caller's transaction, if any)."""
        async with self.store.transaction() as conn:
            for chunk in chunks(ids, BATCH):
                listed = marks(chunk)
                await conn.execute(
                    f"DELETE FROM pair_scores WHERE document_a IN ({listed})"
                    f" OR document_b IN ({listed})",
                    [*chunk, *chunk],
                )

    async def _publish_staged(self, ids: list[int]) -> None:
        """Replace the stored pairs of `ids` by the staged rows, in key order, in one transaction.

        Batches go component by component, so each one's pairs are spread over the whole id
        range: written straight to `pair_scores`, every batch's commit rewrote nearly every
        page of the table (723 MB of log for the 35 MB of pairs of a 10k library). A connection's
        temporary table is not logged, and one sorted insert writes each page once. Until this
        commits, the old pairs stay: a failed or cancelled run changes none.
        """
        async with self.store.transaction() as conn:
            await self._delete_pairs(ids)
            await conn.execute(
                f"INSERT OR REPLACE INTO pair_scores ({PAIR_COLUMNS})"
                f" SELECT {PAIR_COLUMNS} FROM {STAGED} ORDER BY document_a, document_b"
            )
        # Deleting them takes another second and a half at 100k documents; the groups are
        # built meanwhile (they read the published pairs through the other connection).
        self._clearing = asyncio.create_task(self._stage())

    async def _cached(
        self, ids: set[int], cache: OrderedDict[int, AnalysedDocument]
    ) -> dict[int, AnalysedDocument]:
        """`load_documents`, reading only those not in `cache` (least recently used first out,
        at most CACHED_DOCUMENTS): a document of a template series has candidates in many
        batches, and was read about four times without it. Two batches in flight load one
        after the other, so a document they share is read, and its features extracted, once."""
        async with self._loading:
            cache.update(await self.load_documents(ids.difference(cache)))
        for document_id in ids:
            cache.move_to_end(document_id)
        while len(cache) > max(CACHED_DOCUMENTS, len(ids)):
            cache.popitem(last=False)
        return {document_id: cache[document_id] for document_id in ids}

    async def load_documents(self, ids: Iterable[int]) -> dict[int, AnalysedDocument]:
        """The analysed view of documents, with their stored signatures."""
        key = await self._signature_key()
        documents: dict[int, AnalysedDocument] = {}
        for chunk in chunks(sorted(ids), BATCH):
            rows = await self.store.fetchall(
                "SELECT d.id, d.title, d.correspondent, d.document_type, d.created_date,"
                " d.added_at, d.original_checksum, c.full_text, c.normalized_text, c.word_count,"
                " c.content_hash, f.features, s.signature FROM documents d"
                " JOIN content c ON c.document_id = d.id"
                " LEFT JOIN document_features f ON f.document_id = d.id"
                " LEFT JOIN signatures s ON s.content_hash = c.content_hash AND s.algorithm = ?"
                f" WHERE d.id IN ({marks(chunk)})",
                [key, *chunk],
            )
            for row in rows:
                documents[row["id"]] = AnalysedDocument(
                    id=row["id"],
                    text=row["normalized_text"],
                    content=row["full_text"],
                    title=row["title"],
                    word_count=row["word_count"],
                    signature=(
                        _signature_of(row["signature"], self.dedup.num_permutations)
                        if row["signature"] is not None
                        and row["word_count"] >= self.dedup.min_words
                        else None
                    ),
                    correspondent=row["correspondent"],
                    document_type=row["document_type"],
                    created=date.fromisoformat(row["created_date"])
                    if row["created_date"]
                    else None,
                    added=_instant(row["added_at"]),
                    checksum=row["original_checksum"],
                    content_hash=row["content_hash"] or None,
                    features=orjson.loads(row["features"]) if row["features"] else None,
                )
                self._stored_features[row["id"]] = row["features"] is not None
        return documents

    def _new_features(self, documents: Iterable[AnalysedDocument]) -> list[tuple[str, int]]:
        """Rows of the features the scorers extracted for the first time (migrations 0007,
        0010), each taken once: a later batch sharing the document does not write it again."""
        rows = [
            (to_json(document.features), document.id)
            for document in documents
            if document.features is not None and not self._stored_features.get(document.id)
        ]
        self._stored_features.update((document_id, True) for _, document_id in rows)
        return rows

    # -- group ----------------------------------------------------------------------------------

    async def _regroup(self, ids: list[int]) -> None:
        """Rebuild the groups of the part of the duplicate graph the analysed documents touch.

        Only documents joined by a pair above the threshold (or by a pending group) can be in a
        group, so only their pairs are read back; a full run finds them with one query.
        """
        nodes = await (self._linked() if self.result.full else self._component(ids))
        if not nodes:
            return
        scores = await self._scores_among(nodes)
        decided = await self._decisions_among(nodes)
        existing = await self._groups_touching(nodes)
        chosen = [g["primary_document_id"] for g in existing if g["primary_set_by_user"]]
        added = {
            row[0]: _instant(row[1])
            for row in await self._rows_in("SELECT id, added_at FROM documents", "id", nodes)
        }
        groups = build_groups(
            scores,
            self.dedup.similarity_threshold,
            not_duplicates=decided,
            added=added,
            chosen_primaries=chosen,
        )
        await self._reconcile(groups, existing)

    async def _linked(self) -> set[int]:
        """Every document in a pair above the threshold or in a pending group."""
        rows = await self.store.fetchall(
            "SELECT document_a, document_b FROM pair_scores WHERE confidence >= ?"
            " UNION SELECT m.document_id, m.document_id FROM group_members m"
            " JOIN duplicate_groups g ON g.id = m.group_id AND g.status = 'pending'",
            (self.dedup.similarity_threshold,),
        )
        return {document for row in rows for document in row}

    async def _component(self, ids: list[int]) -> set[int]:
        """Every document connected to `ids` by a pair above the threshold, or by a group."""
        nodes = set(ids)
        frontier = set(ids)
        threshold = self.dedup.similarity_threshold
        while frontier:
            found: set[int] = set()
            for chunk in chunks(sorted(frontier), BATCH):
                listed = marks(chunk)
                rows = await self.store.fetchall(
                    "SELECT document_a, document_b FROM pair_scores WHERE confidence >= ?"
                    f" AND (document_a IN ({listed}) OR document_b IN ({listed}))"
                    " UNION SELECT m2.document_id, m2.document_id FROM group_members m1"
                    # CROSS JOIN: start from the documents' memberships, not every pending group
                    " CROSS JOIN duplicate_groups g ON g.id = m1.group_id AND g.status = 'pending'"
                    " JOIN group_members m2 ON m2.group_id = m1.group_id"
                    f" WHERE m1.document_id IN ({listed})",
                    [threshold, *chunk, *chunk, *chunk],
                )
                for a, b in rows:
                    found.update((a, b))
            frontier = found - nodes
            nodes |= found
        return nodes

    async def _rows_in(self, sql: str, column: str, ids: Iterable[int]) -> list[Any]:
        rows = []
        for chunk in chunks(sorted(ids), BATCH):
            joiner = "AND" if " WHERE " in sql else "WHERE"
            rows += await self.store.fetchall(f"{sql} {joiner} {column} IN ({marks(chunk)})", chunk)
        return rows

    async def _scores_among(self, nodes: set[int]) -> list[PairScore]:
        rows = await self._rows_in(  # grouping needs no explanations: leave them on disk
            "SELECT document_a, document_b, confidence, components FROM pair_scores",
            "document_a",
            nodes,
        )
        return [decode_pair(row) for row in rows if row["document_b"] in nodes]

    async def _decisions_among(self, nodes: set[int]) -> set[frozenset[int]]:
        rows = await self._rows_in(
            "SELECT document_a, document_b FROM pair_decisions", "document_a", nodes
        )
        return {frozenset((a, b)) for a, b in rows if b in nodes}

    async def _groups_touching(self, nodes: set[int]) -> list[dict[str, Any]]:
        """Every group with a member among `nodes`, with all its members."""
        touching = await self._rows_in(
            "SELECT DISTINCT group_id FROM group_members", "document_id", nodes
        )
        groups = {
            row["id"]: {**dict(row), "members": set()}
            for row in await self._rows_in(
                "SELECT * FROM duplicate_groups", "id", [row[0] for row in touching]
            )
        }
        for group_id, member in await self._rows_in(
            "SELECT group_id, document_id FROM group_members", "group_id", groups
        ):
            groups[group_id]["members"].add(member)
        return [groups[group_id] for group_id in sorted(groups)]

    async def _reconcile(
        self, groups: list[DuplicateGroup], existing: list[dict[str, Any]]
    ) -> None:
        """Write the new groups, keeping the ids of pending groups they continue.

        A reviewed group (any status but pending) is never rewritten: when the same members group
        again only its scores are refreshed, and a changed membership becomes a new group.
        """
        pending = [g for g in existing if g["status"] == "pending"]
        reviewed = {frozenset(g["members"]): g for g in existing if g["status"] != "pending"}
        now = utcnow()
        claimed: set[str] = set()
        created: list[DuplicateGroup] = []
        async with self.store.transaction() as conn:
            for group in groups:
                members = frozenset(group.members)
                same = reviewed.get(members)
                if same is not None:  # a reviewed group keeps its status; refresh its scores
                    await _update_scores(conn, same["id"], group, now)
                    continue
                match = _best_match(members, pending, claimed)
                if match is None:
                    created.append(group)
                else:
                    claimed.add(match["id"])
                    # build_groups already kept the user's primary where it is still a member.
                    by_user = match["primary_set_by_user"] and (
                        group.primary == match["primary_document_id"]
                    )
                    await conn.execute(
                        "UPDATE duplicate_groups SET confidence = ?, components = ?,"
                        " member_count = ?, primary_document_id = ?, primary_set_by_user = ?,"
                        " algorithm_version = ?, updated_at = ? WHERE id = ?",
                        (
                            group.confidence,
                            to_json(group.components),
                            len(members),
                            group.primary,
                            int(bool(by_user)),
                            ALGORITHM_VERSION,
                            now,
                            match["id"],
                        ),
                    )
                    await conn.execute(
                        "DELETE FROM group_members WHERE group_id = ?", (match["id"],)
                    )
                    await conn.executemany(
                        "INSERT INTO group_members (group_id, document_id) VALUES (?, ?)",
                        [(match["id"], d) for d in sorted(members)],
                    )
                    self.result.groups_updated += 1
            for old in pending:
                if old["id"] not in claimed:
                    await conn.execute("DELETE FROM duplicate_groups WHERE id = ?", (old["id"],))
                    self.result.groups_removed += 1
            await _insert_groups(conn, created, now)  # in two statements: a full run makes 10k
            self.result.groups_created += len(created)

    async def _mark_completed(self, ids: list[int]) -> None:
        async with self.store.transaction() as conn:
            for chunk in chunks(ids, BATCH):
                await conn.execute(
                    "UPDATE documents SET processing_status = 'completed'"
                    f" WHERE id IN ({marks(chunk)})",
                    chunk,
                )


async def _insert_groups(conn: Any, groups: list[DuplicateGroup], now: str) -> None:
    ids = [str(uuid.uuid4()) for _ in groups]
    await conn.executemany(
        "INSERT INTO duplicate_groups (id, confidence, components, status, member_count,"
        " primary_document_id, algorithm_version, created_at, updated_at)"
        " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
        [
            (
                group_id,
                group.confidence,
                to_json(group.components),
                len(group.members),
                group.primary,
                ALGORITHM_VERSION,
                now,
                now,
            )
            for group_id, group in zip(ids, groups, strict=True)
        ],
    )
    await conn.executemany(
        "INSERT INTO group_members (group_id, document_id) VALUES (?, ?)",
        [
            (group_id, document)
            for group_id, group in zip(ids, groups, strict=True)
            for document in group.members
        ],
    )


async def _update_scores(conn: Any, group_id: str, group: DuplicateGroup, now: str) -> None:
    await conn.execute(
        "UPDATE duplicate_groups SET confidence = ?, components = ?, updated_at = ? WHERE id = ?",
        (group.confidence, to_json(group.components), now, group_id),
    )


def _best_match(
    members: frozenset[int], candidates: list[dict[str, Any]], claimed: set[str]
) -> dict[str, Any] | None:
    """The unclaimed pending group sharing most members with `members` (at least one)."""
    best, overlap = None, 0
    for candidate in candidates:
        shared = len(members & candidate["members"])
        if candidate["id"] not in claimed and shared > overlap:
            best, overlap = candidate, shared
    return best


def _by_component(pairs: np.ndarray) -> np.ndarray:
    """The pairs ordered by connected component of the candidate graph, then by ids.

    A template series is spread over the years of a library, so in id order its pairs fall in
    many score batches and the document cache (CACHED_DOCUMENTS) read each of its documents
    again in each: at 100k, 314k reads of 52k documents. Component by component, nearly every
    document is read once (components are a series or a duplicate cluster, under 50 documents,
    besides one of about 2,500 held together by chance candidates).
    """
    if len(pairs) <= SCORE_BATCH:
        return pairs
    ids, inverse = np.unique(pairs, return_inverse=True)
    nodes = inverse.reshape(-1, 2)
    ones = np.ones(len(nodes), dtype=np.int8)
    graph = coo_matrix((ones, (nodes[:, 0], nodes[:, 1])), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0], component[nodes[:, 0]]))]


def word_count(text: str) -> int:
    """`len(text.split())`, without building the words when it need not.

    A normalised text is mostly words between single spaces, and then its spaces are counted:
    splitting a page into ~450 strings cost 35 µs in a busy host, 3.5 s of its GIL at 100k
    documents. Any other whitespace (ASCII, or a UTF-8 sequence starting with one of
    _SPACE_LEADS), a double space or a space at either end takes `split`.
    """
    data = text.encode()
    if (
        data[:1] != b" "
        and data[-1:] != b" "
        and len(data.translate(None, _OTHER_SPACE)) == len(data)
        and b"  " not in data
        and not any(lead in data for lead in _SPACE_LEADS)
    ):
        return data.count(b" ") + 1 if data else 0
    return len(text.split())


#: ASCII whitespace but the space, and the first UTF-8 byte of every other Unicode whitespace
#: character (U+0085 and U+00A0: C2; U+1680: E1; U+2000-U+205F: E2; U+3000: E3).
_OTHER_SPACE = bytes(c for c in range(128) if chr(c).isspace() and c != 0x20)
_SPACE_LEADS = (b"\xc2", b"\xe1", b"\xe2", b"\xe3")


def _signature_blobs(values: np.ndarray) -> list[bytes]:
    """Each signature row as stored: as 32-bit integers when all its values fit (the built-in
    signature's do, except in the bins a short text leaves empty), else as 64-bit ones. Half
    the bytes make three signatures a page instead of two: 100 MB less to write at 100k."""
    fits = ((values >= 0) & (values <= 0xFFFF_FFFF)).all(axis=1)
    narrow = values.astype("<u4")
    return [
        narrow[row].tobytes() if fit else values[row].astype("<i8").tobytes()
        for row, fit in enumerate(fits.tolist())
    ]


def _signature_of(blob: bytes, width: int) -> np.ndarray:
    """A stored signature of `width` values back as int64 (see `_signature_blobs`)."""
    if len(blob) == 4 * width:
        return np.frombuffer(blob, dtype="<u4").astype(np.int64)
    return np.frombuffer(blob, dtype="<i8")


def content_hash(text: str) -> str:
    """SHA-256 hex of a normalised text (equal hashes are the exact tier); "" for no text."""
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _pair_rows(scores: list[PairScore]) -> list[tuple[Any, ...]]:
    """`pair_scores` rows of these scores (PAIR_COLUMNS)."""
    now = utcnow()
    return [
        (
            score.a,
            score.b,
            score.confidence,
            to_json(encode_components(score)),
            to_json(score.explanations),
            now,
        )
        for score in scores
    ]


async def _no_progress(fraction: float, message: str) -> None:
    """Progress sink for callers that do not report progress."""
