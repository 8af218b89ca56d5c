"""index: the semantic (vector) index behind document Q&A."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from . import hookspec

if TYPE_CHECKING:
    from ..config import Settings


class VectorIndex(Protocol):
    """Embeds text chunks and finds the nearest ones to a query."""

    async def add(self, chunk_ids: list[int], texts: list[str]) -> None:
        """Embed and store these chunks."""

    async def search(self, query: str, top_k: int) -> list[tuple[int, float]]:
        """Return (chunk id, score) pairs, best first."""


@hookspec(firstresult=True)
def dupeless_vector_index(settings: Settings, plugin_config: dict[str, Any]) -> VectorIndex:
    """Open the vector index this plugin provides."""
