"""fetch: where documents come from (Paperless over its REST API, a JSONL file, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from . import hookspec

if TYPE_CHECKING:
    from ..config import Settings
    from ..models import SourceDocument


class FetchSource(Protocol):
    """What a fetch plugin hands back: a connection to one document library."""

    def documents(
        self, modified_after: datetime | None = None
    ) -> AsyncIterator[list[SourceDocument]]:
        """Yield documents in batches; only those modified after the instant when it is given."""

    async def document(self, document_id: int) -> SourceDocument | None:
        """Return one document, or None when the library no longer has it."""

    async def document_ids(self) -> set[int]:
        """Return every document id in the library (used to reconcile deletions)."""

    async def checksums(self, document_ids: list[int]) -> dict[int, str]:
        """Return the original files' checksums of these documents (where the source knows them)."""

    async def aclose(self) -> None:
        """Release connections."""


@hookspec(firstresult=True)
def dupeless_fetch_source(
    settings: Settings, plugin_config: dict[str, Any], location: str | None
) -> FetchSource:
    """Open this plugin's document source (`location` comes from `--source NAME:LOCATION`)."""
