"""Per-batch results that several built-in scorers share.

The fuzzy scorer skips hopeless pairs by bounding their confidence, and for that it needs what
other scorers compute for the same batch: the Jaccard estimates and the template penalties; the
penalty scorer needs the Jaccard estimates too (its noise estimate). The host hands every scorer
the very same list object for a batch, so each figure is computed once per batch and looked up
by that object: a hit needs the same list still holding the same pairs. The host scores two
batches at a time, so the last few batches are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from dupeless.core.models import ScoringPair

T = TypeVar("T")

#: Batches remembered at once (the host scores two batches at a time).
REMEMBERED = 4


class BatchMemo:
    """The results of one computation for the last REMEMBERED batches of pairs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: (the pairs list, a copy of it, the key, the result), oldest first.
        self._kept: list[tuple[list[ScoringPair], list[ScoringPair], Hashable, Any]] = []

    def get(self, pairs: list[ScoringPair], key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()` for this batch (and `key`), or its result if it was computed already."""
        with self._lock:
            for kept, copy, kept_key, result in self._kept:
                if kept is pairs and kept_key == key and copy == pairs:
                    return result
        result = compute()
        with self._lock:
            self._kept.append((pairs, list(pairs), key, result))
            del self._kept[:-REMEMBERED]
        return result
