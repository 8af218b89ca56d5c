import itertools

import numpy as np
import pytest
from dupeless.plugins.lsh import band_hashes, candidate_pairs, rows_per_band


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


@pytest.mark.parametrize("offset", [0, 1 << 40])  # large ids take the generic path
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
