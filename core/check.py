"""Check one document the moment it arrives: fetch it, analyse it against the library, answer.

This is what the Paperless post-consume script, the workflow webhook and `dupeless check DOC_ID`
call. It fetches just that document, stores it, runs normalise -> signature -> candidate -> score
-> grouping for it alone against the persisted index (no full sync, no index rebuild) and says
which group it joined. Checking the same unchanged document twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from attrs import asdict, define, field

from .analysis import Analysis
from .config import DedupSettings
from .hookspecs.fetch import FetchSource
from .pipeline import Pipeline
from .store import Store
from .sync import SyncResult, store_checksums, store_documents


@define
class Verdict:
    """What a check found for one document (`found` is False when the source has no such id)."""

    document_id: int
    found: bool = True
    duplicate: bool = False
    groups: list[str] = field(factory=list)
    matches: list[int] = field(factory=list)
    best_match: int | None = None
    confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """One line for Paperless' log."""
        if not self.found:
            return f"dupeless: document {self.document_id} not found in Paperless"
        if not self.duplicate:
            return f"dupeless: document {self.document_id} has no duplicate"
        others = ", ".join(f"#{match}" for match in self.matches)
        return (
            f"dupeless: document {self.document_id} is a possible duplicate of {others}"
            f" (confidence {self.confidence:.2f}, group {self.groups[0]})"
        )


async def check(
    store: Store, pipeline: Pipeline, source: FetchSource, dedup: DedupSettings, document_id: int
) -> Verdict:
    """Fetch, store and analyse one document; return its verdict."""
    document = await source.document(document_id)
    if document is None:
        return Verdict(document_id, found=False)
    result = SyncResult()
    written = await store_documents(store, [document], result)
    await store_checksums(store, source, written, dedup.min_words)
    if result.inserted or result.updated:
        # One transaction for the whole analysis: one commit instead of one per step, and a
        # crash leaves the document pending, never half-analysed.
        async with store.transaction():
            await Analysis(store, pipeline, dedup).run(document_ids=[document_id])
    return await verdict(store, document_id)


async def verdict(store: Store, document_id: int) -> Verdict:
    """The pending groups a document is in, and its closest fellow member."""
    groups = [
        row[0]
        for row in await store.fetchall(
            # CROSS JOIN fixes the order: from the document's memberships, not every pending group.
            "SELECT g.id FROM group_members m CROSS JOIN duplicate_groups g ON g.id = m.group_id"
            " WHERE m.document_id = ? AND g.status = 'pending' ORDER BY g.confidence DESC",
            (document_id,),
        )
    ]
    if not groups:
        return Verdict(document_id)
    marks = ",".join("?" * len(groups))
    matches = await store.fetchall(
        "SELECT m.document_id, p.confidence FROM group_members m LEFT JOIN pair_scores p"
        " ON (p.document_a = m.document_id AND p.document_b = ?)"
        " OR (p.document_b = m.document_id AND p.document_a = ?)"
        f" WHERE m.group_id IN ({marks}) AND m.document_id != ?"
        " ORDER BY p.confidence DESC, m.document_id",
        (document_id, document_id, *groups, document_id),
    )
    ids = list(dict.fromkeys(row[0] for row in matches))
    best = matches[0]
    return Verdict(
        document_id,
        duplicate=True,
        groups=groups,
        matches=ids,
        best_match=best[0],
        confidence=best[1],
    )
