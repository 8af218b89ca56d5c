"""candidate: find the few pairs worth scoring without comparing every document with every other."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from . import hookspec

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings
    from ..store import Store


class CandidateIndex(Protocol):
    """A persistent index of signatures that answers "which documents may be near this one"."""

    async def add(self, document_ids: list[int], signatures: np.ndarray) -> None:
        """Insert or replace the signatures of these documents."""

    async def remove(self, document_ids: list[int]) -> None:
        """Forget these documents."""

    async def clear(self) -> None:
        """Forget every document (a forced analysis indexes the whole library again)."""

    async def query(self, signature: np.ndarray) -> set[int]:
        """Return ids of documents that share at least one band with this signature."""

    async def pairs(self, document_ids: list[int], signatures: np.ndarray) -> np.ndarray:
        """Return every candidate pair among these documents as an (m x 2) array, lower id first."""


@hookspec(firstresult=True)
def dupeless_candidate_index(
    settings: Settings, plugin_config: dict[str, Any], store: Store
) -> CandidateIndex:
    """Open the candidate index this plugin provides, persisted in `store`."""
