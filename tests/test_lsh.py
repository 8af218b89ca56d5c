import itertools

import numpy as np
import pytest
from dupeless.core.errors import ConfigError
from dupeless.plugins.lsh import (
    LshIndex,
    band_hashes,
    candidate_pairs,
    dupeless_candidate_index,
    rows_per_band,
    verified,
)


def test_bands_must_divide_permutations():
    assert rows_per_band(256, 32) == 8
    with pytest.raises(ValueError, match=r"num_bands \(30\).*num_permutations \(256\)"):
        rows_per_band(256, 30)


def test_band_hashes_equal_only_for_equal_bands():
    signatures = np.arange(32, dtype=np.int64).reshape(2, 16)
    signatures[1, :4] = signatures[0, :4]
    hashes = band_hashes(signatures, 4)
    assert hashes.shape == (2, 4) and hashes.dtype == np.int64
    assert hashes[0, 0] == hashes[1, 0]
    assert (hashes[0, 1:] != hashes[1, 1:]).all()


def test_candidate_pairs_match_brute_force():
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 6, size=(40, 3))  # small alphabet: many shared bands
    ids = np.arange(100, 140)
    expected = {
        (ids[i], ids[j])
        for i, j in itertools.combinations(range(40), 2)
        if (hashes[i] == hashes[j]).any()
    }
    found = {tuple(pair) for pair in candidate_pairs(hashes, ids).tolist()}
    assert found == expected


def test_no_pairs():
    assert candidate_pairs(np.array([[1], [2]]), [5, 6]).shape == (0, 2)


@pytest.mark.parametrize("offset", [0, 1 << 40])  # a pair's key holds positions, not ids
def test_candidate_pairs_are_the_distinct_sorted_pairs(offset):
    rng = np.random.default_rng(7)
    signatures = rng.integers(0, 3, size=(300, 16))  # few values: many shared bands
    ids = rng.permutation(300) * 5 + offset
    found = candidate_pairs(band_hashes(signatures, 8), ids)
    hashes = band_hashes(signatures, 8)
    expected = sorted(
        {
            (min(ids[i], ids[j]), max(ids[i], ids[j]))
            for i, j in itertools.combinations(range(300), 2)
            if (hashes[i] == hashes[j]).any()
        }
    )
    assert found.tolist() == [list(pair) for pair in expected]


def test_verification_keeps_the_pairs_whose_estimate_reaches_the_floor():
    ids = np.array([32, 30, 31])  # not sorted: a pair's rows are found by id
    signatures = np.array(
        [[1, 2, 3, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 9, 9, 9, 9, 9, 9]]
    )
    pairs = np.array([[30, 31], [30, 32], [31, 32]])  # J estimates 2/8, 3/8, 2/8
    assert verified(pairs, ids, signatures, 0.3).tolist() == [[30, 32]]
    assert verified(pairs, ids, signatures, 0.25).tolist() == pairs.tolist()
    assert verified(pairs, ids, signatures, 0.0).tolist() == pairs.tolist()


async def test_a_full_run_drops_pairs_that_share_a_band_by_chance(store):
    # 8 bands of 1 row: documents 1 and 2 share one value in eight (J about 0.125).
    signatures = np.array([np.arange(8), [0, *range(10, 17)], np.arange(8)])
    assert (await LshIndex(store, 8).pairs([1, 2, 3], signatures)).tolist() == [[1, 3]]
    everything = LshIndex(store, 8, min_jaccard=0.0)
    assert (await everything.pairs([1, 2, 3], signatures)).tolist() == [[1, 2], [1, 3], [2, 3]]


@pytest.mark.parametrize("value", [1.5, -0.1, "high", True])
def test_min_jaccard_is_checked_and_named(settings, store, value):
    with pytest.raises(ConfigError, match=r"plugins\.lsh\.min_jaccard: must be a number"):
        dupeless_candidate_index(settings, {"min_jaccard": value}, store)
    index = dupeless_candidate_index(settings, {"min_jaccard": 0.3}, store)
    assert index.min_jaccard == 0.3
