"""The `metadata` scorer: do correspondent, document type and created date agree?

Each field counts only when both documents have it; the value is the share that agree, or NaN
(no opinion, left out of the confidence) when no field can be compared. A re-scan is often not
yet classified, so a missing field is no evidence either way. Its weight (plugin table
`weight`, default 10 against Jaccard 60 + fuzzy 40) keeps it a tie-breaker: metadata alone must
never make two different letters from one sender duplicates.
"""

from __future__ import annotations

import math
from typing import Any

from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair

FIELDS = ("correspondent", "document_type", "created")


def metadata_similarity(a: AnalysedDocument, b: AnalysedDocument) -> tuple[float, dict]:
    """(share of comparable fields that agree or NaN, {field: agrees})."""
    agree = {}
    for name in FIELDS:
        left, right = getattr(a, name), getattr(b, name)
        if left is not None and right is not None:
            agree[name] = left == right
    value = sum(agree.values()) / len(agree) if agree else math.nan
    return value, agree


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    results = [metadata_similarity(pair.a, pair.b) for pair in pairs]
    return ScoreComponent(
        name="metadata",
        values=[value for value, _ in results],
        explanations=[agree for _, agree in results],
    )
