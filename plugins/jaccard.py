"""The `jaccard` scorer: how many shingles two documents share, from their MinHash signatures.

The signature estimate has a standard error of sqrt(J(1-J)/k) (0.027 at J=0.75, k=256). Where
that error could move a pair across the decision, i.e. when the estimate lies within three
standard errors of `similarity_threshold`, the exact Jaccard similarity of the two shingle sets
is computed instead (each document's shingles once per batch). Documents without a signature are
always compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import ScoringPair
from dupeless.core.scoring import dedup_settings
from dupeless.plugins.minhash import (
    DEFAULT_SHINGLING,
    Shingling,
    estimated_jaccard,
    exact_jaccard,
    shingle_set,
)

BORDERLINE_SIGMAS = 3.0


def jaccard_values(
    pairs: list[ScoringPair], threshold: float, shingling: Shingling = DEFAULT_SHINGLING
) -> tuple[list[float], list[bool]]:
    """(similarity, computed exactly?) per pair; `shingling` must be the signatures' one."""
    values, exact = [], []
    shingles: dict[int, np.ndarray] = {}

    def shingles_of(document) -> np.ndarray:
        if document.id not in shingles:
            shingles[document.id] = shingle_set(document.text, shingling)
        return shingles[document.id]

    for pair in pairs:
        a, b = pair.a.signature, pair.b.signature
        if a is not None and b is not None:
            estimate = float(estimated_jaccard(np.asarray(a), np.asarray(b)))
            margin = BORDERLINE_SIGMAS * math.sqrt(threshold * (1 - threshold) / len(a))
            if abs(estimate - threshold) > margin:
                values.append(estimate)
                exact.append(False)
                continue
        values.append(exact_jaccard(shingles_of(pair.a), shingles_of(pair.b)))
        exact.append(True)
    return values, exact


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    threshold = dedup_settings(settings).similarity_threshold
    values, exact = jaccard_values(pairs, threshold)
    explanations = [{"exact": flag} for flag in exact]
    return ScoreComponent(name="jaccard", values=values, explanations=explanations)
