import random

import numpy as np
from dupeless.core.corpus import generate_corpus, ocr_noise
from dupeless.core.hookspecs.signature import SignatureParams
from dupeless.plugins.minhash import (
    EMPTY,
    Shingling,
    dupeless_signatures,
    estimated_jaccard,
    exact_jaccard,
    fold,
    shingle_set,
    signature_key,
    signatures,
)
from dupeless.plugins.ocr_normaliser import normalise

TEXT = normalise(" ".join(f"word{i} invoice number amount payment" for i in range(60)))


def test_shape_determinism_and_key():
    result = dupeless_signatures([TEXT, "short text"], SignatureParams(256, 3))
    assert result.values.shape == (2, 256) and result.values.dtype == np.int64
    again = dupeless_signatures([TEXT], SignatureParams(256, 3))
    assert np.array_equal(result.values[0], again.values[0])
    assert "k256" in result.key and "char4-fold" in result.key and "/v" in result.key
    assert signature_key(128) != signature_key(256)
    assert signature_key(256, Shingling("word", 3, False)) != signature_key(256)


def test_estimate_tracks_exact_jaccard():
    half = " ".join(TEXT.split()[: len(TEXT.split()) // 2])
    exact = exact_jaccard(shingle_set(TEXT), shingle_set(half))
    values = signatures([TEXT, half], 256).values
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


def test_short_and_empty_texts_densify():
    values = signatures(["abcdef", ""], 64).values
    assert (values[0] != EMPTY).all()
    assert (values[1] == EMPTY).all()


def test_word_shingles():
    words = Shingling("word", 2, fold=False)
    assert len(shingle_set("a b c d", words)) == 3
    assert len(shingle_set("a b a b", words)) == 2
