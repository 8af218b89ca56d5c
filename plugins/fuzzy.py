"""The `fuzzy` scorer: character-level similarity of the two texts (rapidfuzz's Indel ratio).

Both texts are the normalised ones, OCR-folded like the shingles (so `rn`/`m` costs nothing),
cut to `fuzzy_sample_size` characters. rapidfuzz computes all pairs of a batch in C++ on every
core (`cpdist`), with `score_cutoff` so a hopeless pair (below FLOOR) stops early and scores 0:
under any weights such a pair stays far below every sensible threshold.
"""

from __future__ import annotations

from typing import Any

from dupeless.core.hookspecs import hookimpl
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import ScoringPair
from dupeless.core.scoring import dedup_settings
from dupeless.plugins.minhash import fold
from rapidfuzz import fuzz, process

FLOOR = 0.5


def fuzzy_values(pairs: list[ScoringPair], sample_size: int) -> list[float]:
    """Indel similarity (0..1) of each pair's folded texts, first `sample_size` characters."""
    if not pairs:
        return []
    samples: dict[int, str] = {}
    for pair in pairs:
        for document in (pair.a, pair.b):
            if document.id not in samples:
                samples[document.id] = fold(document.text[:sample_size])
    scores = process.cpdist(
        [samples[pair.a.id] for pair in pairs],
        [samples[pair.b.id] for pair in pairs],
        scorer=fuzz.ratio,
        score_cutoff=FLOOR * 100,
        workers=-1,
    )
    return [float(score) / 100 for score in scores]


@hookimpl
def dupeless_score_pairs(
    pairs: list[ScoringPair], settings: Any, plugin_config: dict[str, Any]
) -> ScoreComponent:
    values = fuzzy_values(pairs, dedup_settings(settings).fuzzy_sample_size)
    return ScoreComponent(name="fuzzy", values=values)
