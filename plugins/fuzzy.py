"""The `fuzzy` scorer: character-level similarity of the two texts (rapidfuzz's Indel ratio).

Both texts are the normalised ones, OCR-folded like the shingles (so `rn`/`m` costs nothing),
cut to `fuzzy_sample_size` characters. rapidfuzz computes all pairs of a batch in C++ on every
core (`cpdist`), with `score_cutoff` so a pair below FLOOR stops early and scores 0: under any
weights such a pair stays far below every sensible threshold.

Hopeless pairs are not compared at all. Before calling rapidfuzz, the scorer bounds each pair's
confidence from above with fuzzy = 1: every other similarity scorer at 1 too, except Jaccard at
its real (cheap, signature-based) value, minus the template penalty, which this scorer asks the
template_penalty plugin for (the same result that scorer returns; it is computed once per batch).
A pair whose bound stays below `similarity_threshold` cannot become an edge whatever fuzzy says;
in the default library that is about three pairs in four, nearly all monthly siblings of one
template sunk by their penalty. Such a pair gets its Jaccard agreement as the fuzzy value (the two
are on one scale and agree within 0.01 for 95 % of these pairs) and the explanation
`{"estimated": true}`. Its confidence therefore stays below the threshold and close to the real
one, which matters because average-linkage grouping averages sub-threshold confidences too.
A later weight change that could lift such a pair to the threshold marks its documents for
re-analysis (`core.dedup_config.recalculate`) rather than trusting the estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import ScoringPair
from dupeless.core.scoring import DEFAULT_PLUGIN_WEIGHT, Weights, dedup_settings, is_exact
from dupeless.plugins.minhash import fold
from rapidfuzz import fuzz, process

FLOOR = 0.5
#: Margin below the threshold a bound must stay under (float rounding of the combination).
MARGIN = 1e-6


def fuzzy_values(
    pairs: list[ScoringPair], sample_size: int, estimates: dict[int, float] | None = None
) -> list[float]:
    """Indel similarity (0..1) of each pair's folded texts, first `sample_size` characters.

    Pairs whose index is in `estimates` are not compared; they get the estimate instead.
    """
    if not pairs:
        return []
    estimates = estimates or {}
    compared = [pair for index, pair in enumerate(pairs) if index not in estimates]
    samples: dict[int, str] = {}
    for pair in compared:
        for document in (pair.a, pair.b):
            if document.id not in samples:
                samples[document.id] = fold(document.text[:sample_size])
    scores = iter(
        process.cpdist(
            [samples[pair.a.id] for pair in compared],
            [samples[pair.b.id] for pair in compared],
            scorer=fuzz.ratio,
            score_cutoff=FLOOR * 100,
            workers=-1,
        )
        if compared
        else ()
    )
    return [
        estimates[index] if index in estimates else float(next(scores)) / 100
        for index in range(len(pairs))
    ]


def hopeless_pairs(
    pairs: list[ScoringPair], weights: Weights, threshold: float, scorers: list[str]
) -> dict[int, float]:
    """{index: Jaccard agreement} of the pairs that stay below `threshold` even with fuzzy = 1.

    `weights` are the combination weights in effect and `scorers` the configured scorer names;
    Jaccard and the template penalty are taken into account only when configured.
    """
    if not pairs:
        return {}
    from dupeless.plugins import jaccard, template_penalty

    # Scorers of unknown kind count as similarities at 1 (a penalty only lowers the confidence).
    similarity = {
        name: weights.similarity.get(name, DEFAULT_PLUGIN_WEIGHT)
        for name in scorers
        if name != "template_penalty"
    }
    similarity["fuzzy"] = weights.similarity.get("fuzzy", 0.0)
    total = sum(weight for weight in similarity.values() if weight > 0)
    if total <= 0:
        return {}
    agreement = np.asarray(jaccard.jaccard_values(pairs)[0], dtype=np.float64)
    # Every similarity at 1 except Jaccard at its value: an upper bound of the weighted mean.
    w_jaccard = max(similarity.get("jaccard", 0.0), 0.0)
    bound = (total - w_jaccard * (1.0 - agreement)) / total
    if "template_penalty" in scorers:
        penalty = np.array([value for value, _ in template_penalty.penalties(pairs)])
        bound -= weights.penalty_strength / 100 * np.minimum(penalty, 1.0)
    hopeless = bound < threshold - MARGIN
    return {
        int(index): float(agreement[index])
        for index in np.flatnonzero(hopeless)
        if not is_exact(pairs[index].a, pairs[index].b)
    }


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    estimates: dict[int, float] = {}
    pipeline = getattr(settings, "pipeline", None)
    if pipeline is not None:  # the whole Settings: the scorers and their weights are known
        from dupeless.core.dedup_config import weights_for

        weights = weights_for(settings, settings.dedup)
        threshold = settings.dedup.similarity_threshold
        estimates = hopeless_pairs(pairs, weights, threshold, list(pipeline.scorers))
    values = fuzzy_values(pairs, dedup_settings(settings).fuzzy_sample_size, estimates)
    explanations = [{"estimated": True} if i in estimates else None for i in range(len(pairs))]
    return ScoreComponent(name="fuzzy", values=values, explanations=explanations)
