"""How scorer components combine into one confidence per pair, and the exact-duplicate tier.

    confidence = sum(w_i * s_i) / sum(w_i)  -  (penalty_strength / 100) * sum(p_j),  clamped 0..1

The similarities s_i are Jaccard (weight `confidence_weight_jaccard`), fuzzy (weight
`confidence_weight_fuzzy`) and any other similarity scorer (weight from its plugin table,
`weight`, default 10). With the two contract weights summing to 100 and no other scorer this is
exactly (w_j * jaccard + w_f * fuzzy) / 100. A NaN component means "nothing to compare": it is
left out and the remaining weights renormalise. Penalties (kind "penalty", e.g. the template
penalty) subtract, scaled by `discriminative_penalty_strength`.

Every component is stored per pair, so a weight change recomputes every confidence exactly with
`rescore`, without reading a single text again.

Exact tier: two documents with the same original-file checksum, or the same non-empty normalised
text, are duplicates with confidence 1.0 whatever their length. Empty text never matches by
content.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from attrs import frozen

from .hookspecs.score import ScoreComponent
from .models import AnalysedDocument, PairScore, ScoringPair

DEFAULT_PLUGIN_WEIGHT = 10.0


def dedup_settings(settings: Any) -> Any:
    """The dedup settings whether a scorer is handed the whole `Settings` or `settings.dedup`."""
    return getattr(settings, "dedup", settings)


def plugin_weight(plugin_config: Mapping[str, Any] | None) -> float:
    """Weight of a third-party similarity component: its plugin table's `weight`, or 10."""
    return float((plugin_config or {}).get("weight", DEFAULT_PLUGIN_WEIGHT))


@frozen
class Weights:
    """Everything the combination needs: similarity weights by component name, penalty strength."""

    similarity: Mapping[str, float]
    penalty_strength: float

    @classmethod
    def from_settings(cls, settings: Any, others: Mapping[str, float] | None = None) -> Weights:
        """Jaccard and fuzzy weights from the dedup settings, other similarities from `others`."""
        dedup = dedup_settings(settings)
        similarity = {
            **(others or {}),
            "jaccard": float(dedup.confidence_weight_jaccard),
            "fuzzy": float(dedup.confidence_weight_fuzzy),
        }
        return cls(similarity, float(dedup.discriminative_penalty_strength))


def combine(
    similarities: Mapping[str, float], penalties: Mapping[str, float], weights: Weights
) -> float:
    """The confidence of one pair from its components (see the module docstring)."""
    total = weighted = 0.0
    for name, value in similarities.items():
        weight = weights.similarity.get(name, DEFAULT_PLUGIN_WEIGHT)
        if weight > 0 and not math.isnan(value):
            total += weight
            weighted += weight * value
    if total == 0:
        return 0.0
    penalty = sum(value for value in penalties.values() if not math.isnan(value))
    confidence = weighted / total - weights.penalty_strength / 100 * min(penalty, 1.0)
    return min(max(confidence, 0.0), 1.0)


def is_exact(a: AnalysedDocument, b: AnalysedDocument) -> bool:
    """Same original file, or the same non-empty normalised text."""
    if a.checksum and a.checksum == b.checksum:
        return True
    return bool(a.text) and a.content_hash is not None and a.content_hash == b.content_hash


def exact_pairs(documents: Iterable[AnalysedDocument]) -> set[tuple[int, int]]:
    """Every exact-tier pair (lower id first), found by grouping on checksum and content hash."""
    buckets: dict[tuple[str, str], list[int]] = defaultdict(list)
    for document in documents:
        if document.checksum:
            buckets["checksum", document.checksum].append(document.id)
        if document.text and document.content_hash:
            buckets["content", document.content_hash].append(document.id)
    pairs = set()
    for ids in buckets.values():
        ids.sort()
        pairs.update((a, b) for index, a in enumerate(ids) for b in ids[index + 1 :])
    return pairs


def score_pairs(
    pairs: Sequence[ScoringPair], components: Iterable[ScoreComponent | None], weights: Weights
) -> list[PairScore]:
    """Merge the scorers' components into one PairScore per pair, in the order of `pairs`."""
    similarities: list[dict[str, float]] = [{} for _ in pairs]
    penalties: list[dict[str, float]] = [{} for _ in pairs]
    explanations: list[dict[str, Any]] = [{} for _ in pairs]
    for component in components:
        if component is None:
            continue
        target = penalties if component.kind == "penalty" else similarities
        for index, value in enumerate(component.values):
            target[index][component.name] = float(value)
            if component.explanations and component.explanations[index]:
                explanations[index][component.name] = component.explanations[index]
    return [
        _pair_score(pair.a.id, pair.b.id, sim, pen, is_exact(pair.a, pair.b), weights, why)
        for pair, sim, pen, why in zip(pairs, similarities, penalties, explanations, strict=True)
    ]


def rescore(score: PairScore, weights: Weights) -> PairScore:
    """The same pair under new weights, from its stored components alone."""
    return _pair_score(
        score.a, score.b, dict(score.similarities), dict(score.penalties), score.exact, weights,
        dict(score.explanations),
    )  # fmt: skip


def _pair_score(
    a: int,
    b: int,
    similarities: dict[str, float],
    penalties: dict[str, float],
    exact: bool,
    weights: Weights,
    explanations: dict[str, Any],
) -> PairScore:
    """The PairScore of these components, which it keeps (the caller hands over new dicts)."""
    confidence = 1.0 if exact else combine(similarities, penalties, weights)
    return PairScore(
        a=min(a, b),
        b=max(a, b),
        confidence=confidence,
        similarities=similarities,
        penalties=penalties,
        exact=exact,
        explanations=explanations,
    )


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _plain(value: Any) -> Any:
    """What orjson cannot write itself: float subclasses as floats, anything else as str."""
    return float(value) if isinstance(value, float) else str(value)


def to_json(value: Any) -> str:
    """JSON text of what the analysis stores per pair, group and document (components,
    explanations, features), written by orjson: with tens of thousands of pairs per batch,
    `json.dumps` was about a tenth of a full analysis, all of it holding the GIL the scorers'
    threads need. NaN becomes null; keys that are not strings, and values orjson has no form
    for, become strings (as `json.dumps(default=str)` did)."""
    return orjson.dumps(value, default=_plain, option=_OPTIONS).decode()


def encode_components(score: PairScore) -> dict[str, Any]:
    """What `pair_scores.components` stores for a pair:
    `{"similarities": {name: value}, "penalties": {name: value}, "exact": bool}`, NaN ("the
    scorer had nothing to compare") as null, since JSON has no NaN (`to_json` writes it so)."""
    return {"similarities": score.similarities, "penalties": score.penalties, "exact": score.exact}


def decode_pair(row: Mapping[str, Any]) -> PairScore:
    """A stored `pair_scores` row back as a PairScore (null components become NaN again)."""
    components = orjson.loads(row["components"])
    explanation = row["explanation"] if "explanation" in row.keys() else "{}"  # noqa: SIM118
    return PairScore(
        a=row["document_a"],
        b=row["document_b"],
        confidence=row["confidence"],
        similarities=_with_nan(components.get("similarities") or {}),
        penalties=_with_nan(components.get("penalties") or {}),
        exact=bool(components.get("exact")),
        explanations=orjson.loads(explanation),
    )


def _with_nan(values: Mapping[str, float | None]) -> dict[str, float]:
    return {k: math.nan if v is None else float(v) for k, v in values.items()}
