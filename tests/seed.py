"""Seed the store directly with SQL: documents, their text, groups and scored pairs.

API tests need precise states (a reviewed group, a pair with a penalty, a document without text)
that a sync and an analysis would only produce by accident. `mirror` copies documents from a fake
Paperless, so the store and the fake agree on ids and `modified` instants exactly as after a sync.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from dupeless.core.fake_paperless import FakePaperless
from dupeless.core.store import Store, utcnow
from dupeless.core.sync import instant

DEFAULT_MODIFIED = "2026-01-02T03:04:05.000006Z"


async def add_document(
    store: Store,
    document_id: int,
    *,
    title: str = "",
    correspondent: str | None = None,
    document_type: str | None = None,
    tags: Iterable[str] = (),
    content: str | None = "",
    word_count: int = 0,
    modified_at: str = DEFAULT_MODIFIED,
    added_at: str = "2026-01-01T00:00:00.000000Z",
    original_size: int | None = 1000,
    processing_status: str = "completed",
) -> int:
    """One document (and its text unless `content` is None)."""
    tags = list(tags)
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO documents (id, title, correspondent, document_type, tags, created_date,"
            " added_at, modified_at, original_file_name, mime_type, original_size, archive_size,"
            " fingerprint, processing_status, synced_at)"
            " VALUES (?, ?, ?, ?, ?, '2026-01-01', ?, ?, ?, 'application/pdf', ?, NULL, ?, ?, ?)",
            (
                document_id,
                title,
                correspondent,
                document_type,
                json.dumps(tags),
                added_at,
                modified_at,
                f"{title or document_id}.pdf",
                original_size,
                f"fp-{document_id}",
                processing_status,
                utcnow(),
            ),
        )
        await conn.executemany(
            "INSERT INTO document_tags (document_id, tag) VALUES (?, ?)",
            [(document_id, tag) for tag in tags],
        )
        if content is not None:
            await conn.execute(
                "INSERT INTO content (document_id, full_text, normalized_text, word_count,"
                " content_hash) VALUES (?, ?, ?, ?, ?)",
                (document_id, content, content.lower(), word_count, f"hash-{document_id}"),
            )
    return document_id


async def mirror(store: Store, fake: FakePaperless, **overrides: Any) -> list[int]:
    """Store every live document of the fake as a sync would (same id, title, `modified`)."""
    ids = []
    for document in list(fake.library.documents.values()):
        ids.append(
            await add_document(
                store,
                document.id,
                title=document.title,
                content=document.content,
                modified_at=instant(document.modified),
                **overrides,
            )
        )
    return ids


def components(
    jaccard: float = 0.9, fuzzy: float = 0.9, penalties: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """`pair_scores.components` as the analysis stores it."""
    return {
        "similarities": {"jaccard": jaccard, "fuzzy": fuzzy},
        "penalties": dict(penalties or {}),
        "exact": False,
    }


async def add_group(
    store: Store,
    members: list[int],
    *,
    primary: int | None = None,
    status: str = "pending",
    confidence: float = 0.9,
    pair_components: dict[str, Any] | None = None,
    created_at: str | None = None,
    group_id: str | None = None,
) -> str:
    """A group with every member pair scored (`pair_components`, confidence as given)."""
    group_id = group_id or str(uuid.uuid4())
    scored = pair_components or components(confidence, confidence)
    now = created_at or utcnow()
    async with store.transaction() as conn:
        await conn.execute(
            "INSERT INTO duplicate_groups (id, confidence, components, status, member_count,"
            " primary_document_id, algorithm_version, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, '1', ?, ?)",
            (
                group_id,
                confidence,
                json.dumps({**scored["similarities"], **scored["penalties"]}),
                status,
                len(members),
                members[0] if primary is None else primary,
                now,
                now,
            ),
        )
        await conn.executemany(
            "INSERT INTO group_members (group_id, document_id) VALUES (?, ?)",
            [(group_id, member) for member in members],
        )
        ordered = sorted(members)
        await conn.executemany(
            "INSERT OR REPLACE INTO pair_scores (document_a, document_b, confidence, components,"
            " explanation, scored_at) VALUES (?, ?, ?, ?, '{}', ?)",
            [
                (a, b, confidence, json.dumps(scored), now)
                for index, a in enumerate(ordered)
                for b in ordered[index + 1 :]
            ],
        )
    return group_id
