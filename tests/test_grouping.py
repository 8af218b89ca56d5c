from datetime import UTC, datetime

from dupeless.core.grouping import build_groups
from dupeless.core.models import AnalysedDocument, PairScore
from dupeless.core.scoring import exact_pairs, is_exact

T = 0.75


def pair(a: int, b: int, confidence: float) -> PairScore:
    return PairScore(a, b, confidence, similarities={"jaccard": confidence, "fuzzy": 1.0})


def test_chain_does_not_pull_in_a_far_document():
    groups = build_groups([pair(1, 2, 0.95), pair(2, 3, 0.9), pair(1, 3, 0.2)], T)
    assert [group.members for group in groups] == [(1, 2)]


def test_cohesive_cluster_groups_with_mean_confidence():
    scores = [pair(1, 2, 0.9), pair(2, 3, 0.8), pair(1, 3, 0.7)]
    [group] = build_groups(scores, T)
    assert group.members == (1, 2, 3)
    assert abs(group.confidence - 0.8) < 1e-9
    assert group.components == {"jaccard": group.confidence, "fuzzy": 1.0}


def test_unscored_cross_pair_counts_as_dissimilar():
    [group] = build_groups([pair(1, 2, 0.95), pair(2, 3, 0.95)], T)
    assert group.members == (1, 2)


def test_not_duplicate_decision_is_remembered():
    scores = [pair(1, 2, 0.99), pair(2, 3, 0.9), pair(1, 3, 0.9)]
    groups = build_groups(scores, T, not_duplicates={frozenset((1, 3))})
    assert [group.members for group in groups] == [(1, 2)]
    assert build_groups([pair(1, 2, 0.99)], T, not_duplicates={frozenset((1, 2))}) == []


def test_primary_rule():
    added = {
        1: datetime(2024, 5, 1, tzinfo=UTC),
        2: datetime(2023, 1, 1, tzinfo=UTC),
        3: datetime(2023, 1, 1, tzinfo=UTC),
    }
    scores = [pair(1, 2, 0.9), pair(2, 3, 0.9), pair(1, 3, 0.9)]
    assert build_groups(scores, T, added=added)[0].primary == 2
    assert build_groups(scores, T, added=added, chosen_primaries={1})[0].primary == 1
    assert build_groups(scores, T)[0].primary == 1


def test_exact_tier_and_empty_content():
    a = AnalysedDocument(1, text="same", content_hash="h", checksum="c1")
    b = AnalysedDocument(2, text="same", content_hash="h", checksum="c2")
    empty_a = AnalysedDocument(3, text="", content_hash="e")
    empty_b = AnalysedDocument(4, text="", content_hash="e")
    file_a = AnalysedDocument(5, text="", checksum="f")
    file_b = AnalysedDocument(6, text="other", checksum="f")
    assert is_exact(a, b) and not is_exact(empty_a, empty_b) and is_exact(file_a, file_b)
    assert exact_pairs([a, b, empty_a, empty_b, file_a, file_b]) == {(1, 2), (5, 6)}


def test_below_threshold_never_groups():
    assert build_groups([pair(1, 2, 0.74)], T) == []
