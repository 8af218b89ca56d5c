import random

import numpy as np
import pytest
from dupeless.core.corpus import generate_corpus, ocr_noise
from dupeless.core.hookspecs.signature import SignatureParams
from dupeless.plugins.minhash import (
    EMPTY,
    Shingling,
    char_agreement,
    dupeless_signatures,
    estimated_jaccard,
    exact_jaccard,
    fold,
    pair_estimates,
    shingle_set,
    signature_key,
    signature_values,
    signatures,
)
from dupeless.plugins.ocr_normaliser import normalise

TEXT = normalise(" ".join(f"word{i} invoice number amount payment" for i in range(60)))


def test_shape_determinism_and_key():
    result = dupeless_signatures([TEXT, "short text"], SignatureParams(256, 3))
    assert result.values.shape == (2, 256) and result.values.dtype == np.int64
    again = dupeless_signatures([TEXT], SignatureParams(256, 3))
    assert np.array_equal(result.values[0], again.values[0])
    assert "k256" in result.key and "char6-fold" in result.key and "/v" in result.key
    assert signature_key(128) != signature_key(256)
    assert signature_key(256, Shingling("word", 3, False)) != signature_key(256)


@pytest.mark.parametrize("permutations", [256, 200])  # bins by mask, and by division
def test_estimate_tracks_exact_jaccard(permutations):
    half = " ".join(TEXT.split()[: len(TEXT.split()) // 2])
    exact = exact_jaccard(shingle_set(TEXT), shingle_set(half))
    values = signatures([TEXT, half], permutations).values
    assert values.shape == (2, permutations) and (values[0] >= 0).all()
    assert abs(float(estimated_jaccard(values[0], values[1])) - exact) < 0.1
    assert float(estimated_jaccard(values[0], values[0])) == 1.0


def test_ocr_folding_and_spaces_do_not_change_shingles():
    assert fold("rnodern l1i 0") == fold("modem lll o")
    assert np.array_equal(shingle_set("modern times"), shingle_set("rnod ern tirnes"))


def test_noisy_copy_keeps_high_jaccard_where_word_trigrams_do_not():
    original = generate_corpus(5, seed=2).documents[0]["content"]
    clean = normalise(original)
    noisy = normalise(ocr_noise(original, 0.03, random.Random(1)))
    assert exact_jaccard(shingle_set(clean), shingle_set(noisy)) > 0.75
    words = Shingling("word", 3, fold=False)
    assert exact_jaccard(shingle_set(clean, words), shingle_set(noisy, words)) < 0.6


def test_char_agreement_inverts_the_shingle_survival_model():
    for s in (0.9, 0.95, 0.99):
        p = s**6
        assert char_agreement(p / (2 - p), 6) == pytest.approx(s)
    assert char_agreement(1.0) == 1.0 and char_agreement(0.0) == 0.0
    values = char_agreement(np.array([0.2, 0.5, 0.8]))
    assert (np.diff(values) > 0).all()


def test_pair_estimates_match_row_by_row():
    values = signatures(
        [TEXT, TEXT[: len(TEXT) // 2], "another text entirely, nothing shared"], 64
    ).values
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    expected = [
        float(estimated_jaccard(values[a], values[b])) for a, b in zip(left, right, strict=True)
    ]
    assert pair_estimates(left, right, values).tolist() == expected


def test_short_and_empty_texts_densify():
    values = signatures(["abcdef", ""], 64).values
    assert (values[0] != EMPTY).all()
    assert (values[0] >= 0).all() and (values[0] < 2**32).all()  # filled bins stay 32-bit
    assert (values[1] == EMPTY).all()


@pytest.mark.parametrize("kind", ["char", "word"])
def test_a_text_signs_the_same_alone_and_in_a_batch(kind):
    """No shingle runs across the end of one text into the next, whatever the lengths."""
    shingling = Shingling(kind, 6 if kind == "char" else 3)
    rng = random.Random(9)
    words = TEXT.split()
    short = ["abcde", "", "a", "abcdef", "a b", ""]
    texts = short + [" ".join(rng.choices(words, k=rng.randint(0, 40))) for _ in range(150)] + short
    together = signature_values(texts, 64, shingling)
    for text, row in zip(texts, together, strict=True):
        assert np.array_equal(signature_values([text], 64, shingling)[0], row)


def test_word_shingles():
    words = Shingling("word", 2, fold=False)
    assert len(shingle_set("a b c d", words)) == 3
    assert len(shingle_set("a b a b", words)) == 2


def test_byte_level_fold_matches_the_character_rules():
    def reference(text):
        for pair, single in (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "u")):
            text = text.replace(pair, single)
        return text.translate(str.maketrans("01i58c|", "ollsbel"))

    alphabet = "rnvclii0158c|m äöüß€ﬁ\u00a0x"
    rng = random.Random(5)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert fold(text) == reference(text)


def test_pooled_and_in_process_signatures_agree(monkeypatch):
    from dupeless.plugins import pool
    from dupeless.plugins.ocr_normaliser import normalise_all

    texts = normalise_all([d["content"] for d in generate_corpus(40, 4).documents])
    monkeypatch.setattr(pool, "MIN_ITEMS", 10)
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    assert np.array_equal(signatures(texts, 64).values, signature_values(texts, 64))


def test_sorted_distinct_is_numpy_unique():
    from dupeless.plugins.minhash import sorted_distinct

    values = np.random.default_rng(3).integers(-50, 50, 1000)
    assert sorted_distinct(values).tolist() == np.unique(values).tolist()
    assert sorted_distinct(values[:1]).tolist() == values[:1].tolist()
    assert sorted_distinct(values[:0]).tolist() == []
