"""Write-back to Paperless: tag and note a newly consumed document that is a likely duplicate.

Only the new document is touched: one that matches an older (lower id, Paperless ids only grow)
document; the older one is never tagged or noted, and nothing is ever deleted.
Both steps are idempotent: the tag is added only when missing, and a note is added only when none
of dupeless' notes on the document names the group yet, so a repeated event changes nothing.
When a group is later marked `false_positive` or `ignored`, `remove_duplicate_tag` takes the tag
off its members again (the notes stay: they are history).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .check import Verdict
from .hook_settings import HookSettings
from .paperless import PaperlessClient, PaperlessError, _find_name
from .store import Store

log = logging.getLogger("dupeless.writeback")

#: Every note dupeless writes starts with this, so it can recognise its own notes.
NOTE_PREFIX = "dupeless:"


def note_text(verdict: Verdict, hooks: HookSettings) -> str:
    """The note for a duplicate verdict: the matching ids, the confidence and the group link."""
    others = ", ".join(f"#{match}" for match in verdict.matches)
    confidence = "unknown" if verdict.confidence is None else f"{verdict.confidence:.2f}"
    group = verdict.groups[0]
    return (
        f"{NOTE_PREFIX} possible duplicate of document {others} (confidence {confidence})."
        f" Review the group in dupeless: {hooks.group_url(group)}"
    )


class WriteBack:
    """Tags and notes documents through one Paperless client; caches the tag's id."""

    def __init__(self, client: PaperlessClient, hooks: HookSettings):
        self.client = client
        self.hooks = hooks
        self._tag_id: int | None = None

    async def tag_id(self) -> int:
        if self._tag_id is None:
            self._tag_id = await self.client.ensure_tag(self.hooks.tag)
        return self._tag_id

    async def apply(self, verdict: Verdict) -> dict[str, Any]:
        """Tag and note the document of a duplicate verdict; returns what was done."""
        done = {"tagged": False, "noted": False}
        if not (verdict.found and verdict.duplicate and verdict.groups):
            return done
        if not is_newer(verdict):
            return done  # the older document of the pair: never touched
        document = await self.client.get_document(verdict.document_id)
        if document is None:
            return done
        tag_id = await self.tag_id()
        tags = list(document.get("tags") or [])
        if tag_id not in tags:
            try:
                await self.client.patch_document(verdict.document_id, tags=[*tags, tag_id])
            except Exception:
                self._tag_id = None  # the tag may have been deleted in Paperless: look again
                raise
            done["tagged"] = True
        group_link = self.hooks.group_url(verdict.groups[0])
        notes = document.get("notes")
        if not isinstance(notes, list) or (notes and not isinstance(notes[0], dict)):
            notes = await self.client.notes(verdict.document_id)
        if not any(_is_ours(note, group_link) for note in notes):
            await self.client.add_note(verdict.document_id, note_text(verdict, self.hooks))
            done["noted"] = True
        return done


def is_newer(verdict: Verdict) -> bool:
    """The document came after one it matches (Paperless ids only grow), so it is the likely
    duplicate; an event about the older document (a re-sent or "updated" event) leaves it alone."""
    return any(match < verdict.document_id for match in verdict.matches)


def _is_ours(note: Any, group_link: str) -> bool:
    text = note.get("note", "") if isinstance(note, dict) else str(note)
    return text.startswith(NOTE_PREFIX) and group_link in text


async def remove_duplicate_tag(
    settings: Any,
    document_ids: Iterable[int],
    *,
    store: Store | None = None,
    client: PaperlessClient | None = None,
    hooks: HookSettings | None = None,
) -> list[int]:
    """Take the duplicate tag off these documents; returns the ids it was removed from.

    Call it when a group is marked `false_positive` or `ignored`, with the group's members. With
    `store`, a document still in another pending group keeps its tag. The tag itself is never
    created here; a document already gone from Paperless is skipped.
    """
    hooks = hooks or HookSettings.from_settings(settings)
    ids = sorted({int(i) for i in document_ids})
    if store is not None and ids:
        marks = ",".join("?" * len(ids))
        still = await store.fetchall(
            # CROSS JOIN: start from these documents' memberships, not from every group.
            "SELECT DISTINCT m.document_id FROM group_members m"
            " CROSS JOIN duplicate_groups g ON g.id = m.group_id"
            f" WHERE g.status = 'pending' AND m.document_id IN ({marks})",
            ids,
        )
        flagged = {row[0] for row in still}
        ids = [i for i in ids if i not in flagged]
    if not ids:
        return []
    own = client is None
    client = client or PaperlessClient.from_settings(settings.paperless)
    removed = []
    try:
        tag_id = _find_name(await client.names("tags"), hooks.tag)
        if tag_id is None:
            return []
        for document_id in ids:
            document = await client.get_document(document_id)
            if document is None:
                continue
            tags = list(document.get("tags") or [])
            if tag_id in tags:
                await client.patch_document(
                    document_id, tags=[tag for tag in tags if tag != tag_id]
                )
                removed.append(document_id)
    finally:
        if own:
            await client.aclose()
    if removed:
        log.info("removed tag %r from documents %s", hooks.tag, removed)
    return removed


#: Review outcomes after which a document no longer carries the duplicate tag.
UNTAG_STATUSES = ("false_positive", "ignored")


async def untag_reviewed_groups(
    settings: Any, store: Store, client: PaperlessClient, group_ids: Iterable[str], status: str
) -> None:
    """After a review: when the new status clears the groups, take the tag off their members.

    Best effort: the review is already stored, so a Paperless failure is logged, not raised; the
    next check of those documents sees the decision anyway.
    """
    ids = list(group_ids)
    marks = ",".join("?" * len(ids))
    members = await store.fetchall(
        f"SELECT DISTINCT document_id FROM group_members WHERE group_id IN ({marks})", ids
    )
    try:
        await remove_duplicate_tag(
            settings, [row[0] for row in members], store=store, client=client
        )
    except PaperlessError as exc:
        log.warning("could not remove the duplicate tag after review: %s", exc)
