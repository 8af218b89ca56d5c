"""score: each scorer plugin contributes one named component to a candidate pair's confidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

from . import hookspec

if TYPE_CHECKING:
    from ..config import Settings


@frozen
class ScoreComponent:
    """A scorer's verdict on a batch of pairs: one value in 0..1 per pair, plus explanations.

    `kind` is "similarity" (weighted into the confidence) or "penalty" (subtracted, scaled by
    `discriminativePenaltyStrength`). An explanation is any JSON-serialisable value, or JSON
    already encoded as an `orjson.Fragment` (stored as it is, never parsed).
    """

    name: str
    values: list[float]
    kind: str = "similarity"
    explanations: list[Any] | None = None


@hookspec
def dupeless_score_pairs(
    pairs: list[Any], settings: Settings, plugin_config: dict[str, Any]
) -> ScoreComponent | None:
    """Score candidate pairs (each has `.a` and `.b` analysed documents); return None to abstain."""
