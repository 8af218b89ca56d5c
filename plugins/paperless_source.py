"""The built-in `paperless` fetch source: documents from Paperless-ngx over its REST API.

Lists ask only for the fields dupeless uses (`fields=`), and ids are resolved to names with maps
fetched once per listing; a single document (a hook's check) fetches the entities it names by
id, as does a listing for an entity created since. The list endpoint has no checksum, so
`checksum` stays None in listings; the sync asks `checksums()` (one `/metadata/` request each)
only where the text is too short to decide.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from dupeless.core.hookspecs import hookimpl
from dupeless.core.models import SourceDocument
from dupeless.core.paperless import (
    NAME_KINDS,
    PaperlessClient,
    PaperlessError,
    parse_date,
    parse_instant,
)

#: What a SourceDocument needs from a listed document.
LIST_FIELDS = (
    "id",
    "title",
    "content",
    "correspondent",
    "document_type",
    "storage_path",
    "tags",
    "custom_fields",
    "created",
    "added",
    "modified",
    "original_file_name",
    "mime_type",
)

Names = dict[str, dict[int, str]]
#: More unknown entity ids than this in one page: list every kind again instead.
MAX_ENTITY_LOOKUPS = 20


class PaperlessSource:
    """A FetchSource on one PaperlessClient (which it owns and closes)."""

    def __init__(self, client: PaperlessClient):
        self.client = client
        self._names: Names | None = None

    async def documents(
        self, modified_after: datetime | None = None
    ) -> AsyncIterator[list[SourceDocument]]:
        self._names = None  # a new listing reads the names afresh
        pages = self.client.iter_documents(modified_after=modified_after, fields=LIST_FIELDS)
        async for page in pages:
            names = await self._names_for(page)
            yield [to_source_document(doc, names) for doc in page]

    async def document(self, document_id: int) -> SourceDocument | None:
        doc = await self.client.get_document(document_id)
        if doc is None:
            return None
        if self._names is None:
            # One document names a few entities: fetch those by id instead of listing every
            # kind (which a large library makes slow), so a fresh source answers its first
            # hook event as fast as the next one.
            self._names = {kind: {} for kind in NAME_KINDS}
        return to_source_document(doc, await self._names_for([doc]))

    async def document_ids(self) -> set[int]:
        return await self.client.document_ids()

    async def checksums(self, document_ids: list[int]) -> dict[int, str]:
        """One `/metadata/` request per document, as many at once as the client allows."""
        limit = asyncio.Semaphore(self.client.max_concurrency)

        async def one(document_id: int) -> tuple[int, str | None]:
            async with limit:
                metadata = await self.client.get_metadata(document_id)
            return document_id, (metadata or {}).get("original_checksum")

        found = await asyncio.gather(*(one(document_id) for document_id in document_ids))
        return {document_id: checksum for document_id, checksum in found if checksum}

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _names_for(self, docs: list[dict[str, Any]]) -> Names:
        """The name maps: loaded whole the first time; ids unknown so far (an entity created
        since) are then fetched one by one, which costs a request each instead of listing every
        kind again (Paperless counts each entity's documents for a listing)."""
        if self._names is None:
            self._names = await self._all_names()
            return self._names
        unknown = sorted(
            {
                (kind, entity_id)
                for doc in docs
                for kind, ids in _linked_ids(doc).items()
                for entity_id in ids
                if entity_id not in self._names[kind]
            }
        )
        if len(unknown) > MAX_ENTITY_LOOKUPS:
            self._names = await self._all_names()
        elif unknown:
            found = await asyncio.gather(
                *(self.client.entity(kind, entity_id) for kind, entity_id in unknown)
            )
            for (kind, entity_id), entity in zip(unknown, found, strict=True):
                if entity is not None:
                    self._names[kind][entity_id] = entity["name"]
        return self._names

    async def _all_names(self) -> Names:
        maps = await asyncio.gather(*(self.client.names(kind) for kind in NAME_KINDS))
        return dict(zip(NAME_KINDS, maps, strict=True))


def _linked_ids(doc: dict[str, Any]) -> dict[str, list[int]]:
    """Entity ids a document refers to, by kind."""
    single = {
        "correspondents": doc.get("correspondent"),
        "document_types": doc.get("document_type"),
        "storage_paths": doc.get("storage_path"),
    }
    linked = {kind: [value] for kind, value in single.items() if value is not None}
    linked["tags"] = list(doc.get("tags") or ())
    linked["custom_fields"] = [cf["field"] for cf in doc.get("custom_fields") or ()]
    return linked


def _unknown_ids(doc: dict[str, Any], names: Names) -> bool:
    return any(i not in names[kind] for kind, ids in _linked_ids(doc).items() for i in ids)


def _field_value(value: Any) -> str:
    """A custom field's value as text (lists, e.g. document links, comma-separated)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def to_source_document(doc: dict[str, Any], names: Names) -> SourceDocument:
    """A Paperless document dict with ids resolved to names (ids still unknown are dropped)."""

    def name(kind: str, value: int | None) -> str | None:
        return names[kind].get(value) if value is not None else None

    custom_fields = [
        (names["custom_fields"][cf["field"]], _field_value(cf.get("value")))
        for cf in doc.get("custom_fields") or ()
        if cf["field"] in names["custom_fields"]
    ]
    return SourceDocument(
        id=int(doc["id"]),
        title=doc.get("title") or "",
        content=doc.get("content") or "",
        correspondent=name("correspondents", doc.get("correspondent")),
        document_type=name("document_types", doc.get("document_type")),
        storage_path=name("storage_paths", doc.get("storage_path")),
        tags=tuple(names["tags"][t] for t in doc.get("tags") or () if t in names["tags"]),
        custom_fields=tuple(custom_fields),
        created=parse_date(doc.get("created")),
        added=parse_instant(doc.get("added")),
        modified=parse_instant(doc.get("modified")),
        original_file_name=doc.get("original_file_name"),
        mime_type=doc.get("mime_type"),
    )


@hookimpl
def dupeless_fetch_source(settings, plugin_config, location):
    """`--source paperless:URL` overrides `paperless.url`; credentials come from the settings."""
    url = location or settings.paperless.url
    if not url:
        raise PaperlessError("PAPERLESS_URL is not set")
    return PaperlessSource(PaperlessClient.from_settings(settings.paperless, url=url))
