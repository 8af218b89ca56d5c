"""The dedup settings in effect: `settings.dedup` overlaid by runtime changes kept in `app_config`.

Each runtime change is one row, `dedup.<camelCaseName>` (e.g. `dedup.similarityThreshold`), as
text. `load_dedup` is what the analysis reads. `update_dedup` is what PUT /config/dedup, a
`dedup.*` key in PUT /config and the config import call: it checks a partial change against the
ranges declared in core/config.py and the rules across fields (the two weights sum to 100, the
bands divide the permutations), stores it, and, when a weight or the penalty strength changed,
recomputes every stored confidence exactly from the per-pair components in the same transaction.

`pair_scores.components`, as the analysis writes it and `recalculate` reads it:

    {"similarities": {"jaccard": 0.93, "fuzzy": 0.88, "metadata": 0.5},
     "penalties": {"template_penalty": 0.4},
     "exact": false}

Values are in 0..1; null (or NaN) where a scorer had nothing to compare. `exact` marks the exact
tier (confidence 1.0 whatever the components). A group's confidence is the mean confidence of its
scored member pairs, as core/grouping.py computes it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import frozen

from .config import DedupSettings, Settings
from .errors import InvalidValues
from .scoring import Weights, decode_pair, plugin_weight, rescore
from .store import Store, utcnow

log = logging.getLogger("dupeless.dedup")

KEY_PREFIX = "dedup."
#: Old API name -> current one; the value carries over unchanged.
LEGACY_NAMES = {"confidenceWeightDiscriminative": "discriminativePenaltyStrength"}
#: Settings whose change only re-weights stored components: confidences are recomputed.
WEIGHT_FIELDS = frozenset(
    {"confidence_weight_jaccard", "confidence_weight_fuzzy", "discriminative_penalty_strength"}
)
#: Settings whose change invalidates signatures, candidates, scores or groups: re-analyse.
STALE_FIELDS = frozenset(
    {
        "num_permutations",
        "num_bands",
        "ngram_size",
        "min_words",
        "similarity_threshold",
        "fuzzy_sample_size",
    }
)
#: Scorers whose weights are the two contract settings rather than a plugin table.
CONTRACT_SCORERS = ("jaccard", "fuzzy")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


FIELDS = {camel(field.name): field for field in attrs.fields(DedupSettings)}


@frozen
class DedupUpdate:
    """The outcome of an update: the settings now in effect and what the change implies."""

    dedup: DedupSettings
    recalculated_groups: int | None  # set when a weight changed
    analysis_stale: bool


def as_api(dedup: DedupSettings) -> dict[str, Any]:
    """The settings with the API's camelCase names."""
    return {name: getattr(dedup, field.name) for name, field in FIELDS.items()}


def weights_for(settings: Settings, dedup: DedupSettings) -> Weights:
    """The combination weights: the two contract weights, other scorers' plugin-table weights."""
    others = {
        name: plugin_weight(settings.plugin_config(name))
        for name in settings.pipeline.scorers
        if name not in CONTRACT_SCORERS
    }
    return Weights.from_settings(dedup, others)


async def load_dedup(store: Store, settings: Settings) -> DedupSettings:
    """`settings.dedup` with the runtime changes from `app_config` applied.

    Rows are only written after validation, so a bad one means someone edited the database by
    hand: it is logged and ignored rather than stopping an analysis.
    """
    rows = await store.fetchall(
        "SELECT key, value FROM app_config WHERE key LIKE ?", (KEY_PREFIX + "%",)
    )
    stored = {row["key"].removeprefix(KEY_PREFIX): row["value"] for row in rows}
    changes: dict[str, Any] = {}
    for name, text in stored.items():
        field = FIELDS.get(name)
        if field is None:
            continue
        try:
            changes[field.name] = _check(field, text)
        except ValueError as exc:
            log.warning("ignoring app_config %s%s = %r: %s", KEY_PREFIX, name, text, exc)
    merged = attrs.evolve(settings.dedup, **changes)
    problems = list(merged.problems())
    if problems:
        log.warning("ignoring the stored dedup changes: %s", "; ".join(problems))
        return settings.dedup
    return merged


async def update_dedup(store: Store, settings: Settings, changes: Mapping[str, Any]) -> DedupUpdate:
    """Validate, store and apply a partial change given with API names (see the docstring)."""
    current = await load_dedup(store, settings)
    parsed = parse_changes(changes)
    merged = attrs.evolve(current, **parsed)
    problems = _cross_field_problems(merged, parsed)
    if problems:
        raise InvalidValues(problems)
    changed = {name for name, value in parsed.items() if getattr(current, name) != value}
    recalculated = None
    now = utcnow()
    async with store.transaction() as conn:
        await conn.executemany(
            "INSERT INTO app_config (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            [(KEY_PREFIX + camel(name), _text(value), now) for name, value in parsed.items()],
        )
        unsure = 0
        if changed & WEIGHT_FIELDS:
            weights = weights_for(settings, merged)
            recalculated, unsure = await recalculate(conn, weights, merged.similarity_threshold)
    return DedupUpdate(merged, recalculated, bool(changed & STALE_FIELDS) or unsure > 0)


def parse_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """API names and values -> settings names and checked values; InvalidValues lists every
    unknown name, wrong type and out-of-range value."""
    renamed: dict[str, tuple[str, Any]] = {}
    problems: list[tuple[str, str]] = []
    for sent, value in changes.items():
        name = LEGACY_NAMES.get(sent, sent)
        if name not in FIELDS:
            problems.append((sent, "unknown dedup setting"))
        elif name not in renamed or sent == name:  # the current name wins over a legacy one
            renamed[name] = (sent, value)
    parsed = {}
    for name, (sent, value) in renamed.items():
        try:
            parsed[FIELDS[name].name] = _check(FIELDS[name], value)
        except ValueError as exc:
            problems.append((sent, str(exc)))
    if problems:
        raise InvalidValues(problems)
    return parsed


def _cross_field_problems(
    merged: DedupSettings, parsed: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """The rules across fields, blamed on the fields the request sent (both when it sent none)."""
    problems = []
    total = merged.confidence_weight_jaccard + merged.confidence_weight_fuzzy
    if total != 100:
        weights = ("confidence_weight_jaccard", "confidence_weight_fuzzy")
        message = f"confidenceWeightJaccard + confidenceWeightFuzzy must sum to 100, got {total}"
        blamed = [name for name in weights if name in parsed] or list(weights)
        problems += [(camel(name), message) for name in blamed]
    if merged.num_permutations % merged.num_bands:
        message = (
            f"must divide numPermutations ({merged.num_permutations}) evenly,"
            f" got {merged.num_bands}"
        )
        problems.append(("numBands", message))
    return problems


_INTEGER = re.compile(r"^[+-]?\d+$")


def _check(field: attrs.Attribute, value: Any) -> Any:
    """A value (typed JSON or stored text) as the setting's type, within its declared range."""
    kind = field.type
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if isinstance(value, bool):
        raise ValueError(f"must be {'a whole number' if kind is int else 'a number'}")
    if kind is int:
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ValueError("must be a whole number")
    else:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError("must be a number") from None
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("must be a number")
        value = float(value)
    low, high = field.metadata.get("range") or (None, None)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"must be between {low} and {high}")
    return value


def _text(value: Any) -> str:
    """A value as app_config stores it (booleans as JSON does)."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


async def recalculate(conn: Any, weights: Weights, threshold: float) -> tuple[int, int]:
    """Recompute every pair's confidence from its components, then every group's as the mean
    over its scored member pairs; returns (groups recomputed, documents to re-analyse).

    A pair the fuzzy scorer skipped as hopeless holds an *estimate* of its fuzzy value (see
    plugins/fuzzy.py), good only while the pair stays far below the threshold. When the new
    weights could lift such a pair to the threshold (with fuzzy at 1), its two documents are
    marked `pending`, so the next analysis measures the pair instead of trusting the estimate.
    """
    async with conn.execute(
        "SELECT document_a, document_b, confidence, components,"
        " json_extract(explanation, '$.fuzzy.estimated') AS estimated FROM pair_scores"
    ) as cursor:
        rows = await cursor.fetchall()
    updates = []
    unsure: set[int] = set()
    for row in rows:
        pair = decode_pair(row)
        confidence = rescore(pair, weights).confidence
        if confidence != row["confidence"]:
            updates.append((confidence, row["document_a"], row["document_b"]))
        if row["estimated"] and "fuzzy" in pair.similarities:
            best = attrs.evolve(pair, similarities={**pair.similarities, "fuzzy": 1.0})
            if rescore(best, weights).confidence >= threshold:
                unsure.update((pair.a, pair.b))
    await conn.executemany(
        "UPDATE pair_scores SET confidence = ? WHERE document_a = ? AND document_b = ?", updates
    )
    await conn.executemany(
        "UPDATE documents SET processing_status = 'pending' WHERE id = ?",
        [(document,) for document in sorted(unsure)],
    )
    inside = (
        "FROM pair_scores p JOIN group_members a ON a.document_id = p.document_a"
        " JOIN group_members b ON b.document_id = p.document_b AND b.group_id = a.group_id"
        " WHERE a.group_id = duplicate_groups.id"
    )
    async with conn.execute(
        f"UPDATE duplicate_groups SET confidence = (SELECT AVG(p.confidence) {inside}),"
        f" updated_at = ? WHERE EXISTS (SELECT 1 {inside})",
        (utcnow(),),
    ) as cursor:
        return cursor.rowcount, len(unsure)
