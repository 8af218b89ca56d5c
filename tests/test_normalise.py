from dupeless.core.analysis import content_hash, word_count
from dupeless.plugins.ocr_normaliser import dupeless_normalise, normalise


def test_unicode_case_and_hyphenation_fold_to_one_form():
    assert normalise("Rech-\nnung über ﬁve STRASSE") == normalise("Rechnung ÜBER five Straße")
    assert normalise("Rech-\nnung") == "rechnung"


def test_punctuation_goes_but_number_separators_stay():
    text = "Betrag: 1.234,56 € am 03.04.2024 um 12:30 (Nr. 2024-001)!"
    assert normalise(text) == "betrag 1.234,56 am 03.04.2024 um 12:30 nr 2024-001"


def test_byte_level_rule_equals_the_word_pattern():
    import random

    from dupeless.core.corpus import generate_corpus
    from dupeless.plugins.ocr_normaliser import _WORD, _unified, normalise_all

    rng = random.Random(7)
    alphabet = "aZß09 .,:/-_\n\t\u00ad–€§½²٣äÖ\u200b\u2044ﬁ·'()%\u2028\x1c\x85\xa0İ\u0301"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    texts += [document["content"] for document in generate_corpus(60, 3).documents]
    expected = [" ".join(_WORD.findall(_unified(text))) for text in texts]
    assert [normalise(text) for text in texts] == expected
    assert normalise_all(texts) == expected  # one batch: the texts' ends stay theirs
    assert normalise("Nr. ٣.٤ und 1.2") == "nr ٣.٤ und 1.2"  # other scripts' digits keep theirs


def test_whitespace_collapses_and_empty_stays_empty():
    assert normalise("  a \t\n\n b  ") == "a b"
    assert normalise("") == ""
    assert normalise("-- !! --") == ""


def test_hook_keeps_order_and_helpers():
    assert dupeless_normalise(["B", "a"]) == ["b", "a"]
    assert word_count("one two  three") == 3
    assert content_hash("x") == content_hash("x") != content_hash("y")
    assert len(content_hash("x")) == 64


def test_pooled_and_in_process_normalisation_agree(monkeypatch):
    from dupeless.core.corpus import generate_corpus
    from dupeless.plugins import pool
    from dupeless.plugins.ocr_normaliser import normalise_all

    texts = [document["content"] for document in generate_corpus(40, 3).documents]
    monkeypatch.setattr(pool, "MIN_ITEMS", 10)
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    assert len(pool.pool_map(normalise_all, texts)) == 2  # really split over two workers
    assert dupeless_normalise(texts) == normalise_all(texts)


def test_small_batches_never_start_the_pool(monkeypatch):
    from dupeless.plugins import pool

    pool.shutdown()
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    assert dupeless_normalise(["Rech-\nnung 1.234,56"]) == ["rechnung 1.234,56"]
    assert pool._pool is None
