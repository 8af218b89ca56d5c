"""What a user decides about duplicate groups: their status, their primary, their removal.

Marking a group `false_positive` records every pair of its members in `pair_decisions` (lower id
first), so that no later analysis groups those documents again; moving the group to another
status withdraws exactly those decisions. Batch calls ignore group ids that do not exist and
report how many groups they changed; single-group calls raise NotFoundError.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import InvalidValues, NotFoundError
from .store import Store, chunks, marks, utcnow

STATUSES = ("pending", "false_positive", "ignored", "deleted")


async def set_status(store: Store, group_ids: Sequence[str], status: str) -> int:
    """Give every existing group in `group_ids` this status; returns how many groups exist."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    now, updated = utcnow(), 0
    async with store.transaction() as conn:
        for chunk in chunks(list(dict.fromkeys(group_ids))):
            async with conn.execute(
                f"SELECT id, status FROM duplicate_groups WHERE id IN ({marks(chunk)})", chunk
            ) as cursor:
                found = {row["id"]: row["status"] for row in await cursor.fetchall()}
            if not found:
                continue
            withdrawn = [gid for gid, old in found.items() if old == "false_positive"]
            if status == "false_positive":
                await conn.executemany(
                    "INSERT OR IGNORE INTO pair_decisions (document_a, document_b, decision,"
                    " decided_at) VALUES (?, ?, 'not_duplicate', ?)",
                    [(a, b, now) for a, b in await _member_pairs(conn, list(found))],
                )
            elif withdrawn:
                await conn.executemany(
                    "DELETE FROM pair_decisions WHERE document_a = ? AND document_b = ?",
                    await _member_pairs(conn, withdrawn),
                )
            ids = list(found)
            async with conn.execute(
                "UPDATE duplicate_groups SET status = ?, updated_at = ?"
                f" WHERE id IN ({marks(ids)})",
                (status, now, *ids),
            ) as cursor:
                updated += cursor.rowcount
    return updated


async def _member_pairs(conn: Any, group_ids: list[str]) -> list[tuple[int, int]]:
    """Every pair of members of each group, lower document id first."""
    async with conn.execute(
        "SELECT a.document_id, b.document_id FROM group_members a JOIN group_members b"
        " ON b.group_id = a.group_id AND b.document_id > a.document_id"
        f" WHERE a.group_id IN ({marks(group_ids)})",
        group_ids,
    ) as cursor:
        return [(row[0], row[1]) for row in await cursor.fetchall()]


async def set_group_status(store: Store, group_id: str, status: str) -> None:
    """One group's status; NotFoundError when there is no such group."""
    if not await set_status(store, [group_id], status):
        raise NotFoundError(f"Duplicate group not found: {group_id}", [group_id])


async def set_primary(store: Store, group_id: str, document_id: int) -> None:
    """Make a member the document to keep; the analysis keeps a primary the user chose."""
    async with store.transaction() as conn:
        async with conn.execute(
            "SELECT document_id FROM group_members gm JOIN duplicate_groups g ON g.id = gm.group_id"
            " WHERE g.id = ?",
            (group_id,),
        ) as cursor:
            members = {row[0] for row in await cursor.fetchall()}
        if not members:
            raise NotFoundError(f"Duplicate group not found: {group_id}", [group_id])
        if document_id not in members:
            raise InvalidValues([("documentId", f"is not a member of group {group_id}")])
        await conn.execute(
            "UPDATE duplicate_groups SET primary_document_id = ?, primary_set_by_user = 1,"
            " updated_at = ? WHERE id = ?",
            (document_id, utcnow(), group_id),
        )


async def delete_group(store: Store, group_id: str) -> None:
    """Forget a group and its memberships (never the documents; pair decisions stay)."""
    if not await store.execute("DELETE FROM duplicate_groups WHERE id = ?", (group_id,)):
        raise NotFoundError(f"Duplicate group not found: {group_id}", [group_id])


async def purge_deleted(store: Store) -> int:
    """Forget every group whose documents were deleted; returns how many."""
    return await store.execute("DELETE FROM duplicate_groups WHERE status = 'deleted'")
