"""signature: compact fingerprints (MinHash) that estimate how much two texts overlap."""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

from . import hookspec

if TYPE_CHECKING:
    import numpy as np


@frozen
class SignatureParams:
    """The contract's signature settings (`numPermutations`, `ngramSize`)."""

    num_permutations: int
    ngram_size: int


@frozen
class Signatures:
    """One signature row per text; `key` names the algorithm and its parameters.

    Stored signatures are keyed by content hash + `key`, so a plugin must change `key` whenever its
    output would change: an old signature is then never reused.
    """

    key: str
    values: np.ndarray


@hookspec(firstresult=True)
def dupeless_signatures(texts: list[str], params: SignatureParams) -> Signatures:
    """Return signatures (one row of `params.num_permutations` values per normalised text)."""
