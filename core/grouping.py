"""Duplicate groups from scored pairs: cohesive clusters, not chains.

Plain connected components let A~B and B~C pull C into A's group even when A and C have nothing
in common (a template letter, a cover page). Groups here are built by average-linkage
agglomeration over the edges at or above the threshold, strongest first: two groups merge only
when the *mean* confidence over every cross pair is at or above the threshold, a cross pair that
was never scored counting as 0 (it was not even a candidate, so its texts are far apart). A
cross pair the user decided is "not a duplicate" forbids the merge outright, so a decision is
never undone by a later analysis.

The primary (the document to keep) is the one the user chose when it is still a member;
otherwise the oldest `added`, then the lowest id: the first copy in the library is usually the
original scan, and the rule is stable across runs.

A group's confidence is the mean confidence of the scored pairs inside it, and each component is
averaged over the same pairs (the mean, not the minimum: one weak pair in a group of five should
lower the figure, not define it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from .models import DuplicateGroup, PairScore


def build_groups(
    scores: Iterable[PairScore],
    threshold: float,
    *,
    not_duplicates: Collection[frozenset[int]] = frozenset(),
    added: Mapping[int, datetime | None] | None = None,
    chosen_primaries: Collection[int] = (),
) -> list[DuplicateGroup]:
    """Groups of two or more documents, largest confidence first (see the module docstring)."""
    by_pair = {frozenset((score.a, score.b)): score for score in scores}
    members: dict[int, set[int]] = {}  # document -> the set of its current group (shared)
    edges = sorted(
        (score for score in by_pair.values() if score.confidence >= threshold),
        key=lambda score: (-score.confidence, score.a, score.b),
    )
    for edge in edges:
        left = members.get(edge.a, {edge.a})
        right = members.get(edge.b, {edge.b})
        if left is right or not _may_merge(left, right, by_pair, threshold, not_duplicates):
            continue
        merged = left | right
        for document in merged:
            members[document] = merged
    groups = {id(group): group for group in members.values()}.values()
    primary_of = _primary_rule(added or {}, set(chosen_primaries))
    result = [_group(sorted(group), by_pair, primary_of) for group in groups]
    return sorted(result, key=lambda group: (-group.confidence, group.members))


def _may_merge(
    left: set[int],
    right: set[int],
    by_pair: Mapping[frozenset[int], PairScore],
    threshold: float,
    not_duplicates: Collection[frozenset[int]],
) -> bool:
    total = 0.0
    for a in left:
        for b in right:
            key = frozenset((a, b))
            if key in not_duplicates:
                return False
            score = by_pair.get(key)
            total += score.confidence if score is not None else 0.0
    return total / (len(left) * len(right)) >= threshold


def _primary_rule(
    added: Mapping[int, datetime | None], chosen: set[int]
) -> Callable[[list[int]], int]:
    def primary(group: list[int]) -> int:
        picked = [document for document in group if document in chosen]
        if picked:
            return min(picked)
        dated = [document for document in group if added.get(document) is not None]
        if dated:
            return min(dated, key=lambda document: (added[document], document))
        return min(group)

    return primary


def _group(
    members: list[int],
    by_pair: Mapping[frozenset[int], PairScore],
    primary_of: Callable[[list[int]], int],
) -> DuplicateGroup:
    pairs = tuple(
        by_pair[key]
        for index, a in enumerate(members)
        for b in members[index + 1 :]
        if (key := frozenset((a, b))) in by_pair
    )
    components: dict[str, list[float]] = {}
    for pair in pairs:
        for name, value in {**pair.similarities, **pair.penalties}.items():
            if not math.isnan(value):
                components.setdefault(name, []).append(value)
    return DuplicateGroup(
        members=tuple(members),
        primary=primary_of(members),
        confidence=sum(pair.confidence for pair in pairs) / len(pairs),
        components={name: sum(values) / len(values) for name, values in components.items()},
        pairs=pairs,
    )
