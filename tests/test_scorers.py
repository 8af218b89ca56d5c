import itertools
import math
import random
from datetime import date

import attrs
import numpy as np
import orjson
import pytest
from dupeless.core.analysis import content_hash
from dupeless.core.config import DedupSettings
from dupeless.core.corpus import generate_corpus
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair
from dupeless.core.scoring import Weights, combine, rescore, score_pairs, to_json
from dupeless.plugins import fuzzy, jaccard, metadata_scorer
from dupeless.plugins.batch_memo import REMEMBERED
from dupeless.plugins.minhash import char_agreement, signatures
from dupeless.plugins.ocr_normaliser import normalise
from dupeless.plugins.template_penalty import (
    _DIGIT_RUNS,
    CDIST_MIN,
    _digit_runs,
    _edit_matrix,
    _edits,
    _neighbourhoods,
    compare,
    extract_features,
)

BOILERPLATE = " ".join(
    f"Clause {i}: the customer pays the amount shown within fourteen days of receipt."
    for i in range(30)
)


def invoice(number: str, day: str, total: str) -> str:
    header = f"Invoice no. {number}\nCustomer no. 4471190\nInvoice date: {day}\nTotal: {total}"
    return f"{header}\n{BOILERPLATE}"


def document(id_: int, content: str, **fields) -> AnalysedDocument:
    text = normalise(content)
    return AnalysedDocument(
        id=id_,
        text=text,
        content=content,
        word_count=len(text.split()),
        signature=signatures([text], 256).values[0],
        content_hash=content_hash(text),
        **fields,
    )


def test_extracts_english_and_german_forms():
    german = extract_features("Rechnung 2024-88123 vom 3. März 2024, fällig 17.03.2024: 1.234,56 €")
    english = extract_features("Invoice 2024-88123 dated March 3, 2024, due 2024-03-17: €1,234.56")
    assert german["dates"] == english["dates"] == ["2024-03-03", "2024-03-17"]
    assert german["amounts"] == english["amounts"] == ["123456"]
    assert german["identifiers"] == english["identifiers"] == ["202488123"]
    assert extract_features("Termin um 14:30 Uhr")["times"] == ["14:30"]
    shouted = extract_features("RECHNUNG REF-88123 VOM 3. MÄRZ 2024 UM 9.15 UHR, MARCH 4TH, 2024")
    assert shouted["dates"] == ["2024-03-03", "2024-03-04"] and shouted["times"] == ["09:15"]
    assert shouted["identifiers"] == ["88123"]


def test_ocr_lookalikes_next_to_digits_are_read_as_digits():
    assert extract_features("due 2O24-O3-O7")["dates"] == ["2024-03-07"]


def test_a_stamps_date_is_no_feature():
    """A re-scan's received/paid stamp adds a date the original never had."""
    letter = "Brief vom 01.12.2021\nREF-36365193"
    for stamp in ("Gescannt am 2024-01-15 - KOPIE", "RECEIVED January 15, 2024", "Bezahlt am"):
        assert extract_features(f"{stamp} 15. Januar 2024\n{letter}")["dates"] == ["2021-12-01"]
    assert extract_features(f"EINGEGANCEN 15.01.2024\n{letter}")["dates"] == ["2021-12-01"]
    assert extract_features(f"Termin 15.01.2024\n{letter}")["dates"] == [
        "2021-12-01",
        "2024-01-15",
    ]


def test_ocr_spaces_inside_dates_and_numbers_are_read_through():
    features = extract_features("Datum: 12/ 06/2023, 3. 4. 2024 REF-77238 34 Seite 2")
    assert features["dates"] == ["2023-06-12", "2024-04-03"]
    assert features["identifiers"] == ["7723834"]


def test_monthly_invoices_stay_apart():
    march = invoice("2024-031877", "03.03.2024", "120,00 €")
    april = invoice("2024-042290", "03.04.2024", "120,00 €")
    penalty, why = compare(extract_features(march), extract_features(april))
    assert penalty > 0.4
    assert "identifiers" in why["differing"]
    a, b = document(1, march), document(2, april)
    pair = ScoringPair(a, b)
    settings = DedupSettings()
    similarities = {
        "jaccard": jaccard.dupeless_score_pairs([pair], settings, {}).values[0],
        "fuzzy": fuzzy.dupeless_score_pairs([pair], settings, {}).values[0],
    }
    assert similarities["jaccard"] > 0.8 and similarities["fuzzy"] > 0.9
    confidence = combine(
        similarities, {"template_penalty": penalty}, Weights.from_settings(settings)
    )
    assert confidence < settings.similarity_threshold


def test_one_garbled_date_does_not_sink_a_noisy_duplicate_but_sinks_a_clean_sibling():
    original = invoice("2024-031877", "03.03.2024", "120,00 €")
    rescan = invoice("2024-031877", "08.03.2024", "120,00 €")  # OCR read 3 as 8
    a, b = extract_features(original), extract_features(rescan)
    penalty, why = compare(a, b, noise=0.05)  # a 5 % re-scan: a one-digit date change is noise
    assert why["near"]["dates"] == [("2024-03-03", "2024-03-08")]
    assert penalty < 0.2
    clean, why = compare(a, b, noise=0.0)  # two clean texts: the date really differs
    assert why["differing"]["dates"] == {"a": ["2024-03-03"], "b": ["2024-03-08"]}
    assert clean > 2 * penalty


def test_misread_number_is_near_at_any_noise_but_a_new_number_conflicts():
    a = extract_features(invoice("2024-031877", "03.03.2024", "120,00 €"))
    misread = extract_features(invoice("2024-031817", "03.03.2024", "120,00 €"))
    split = extract_features(invoice("2024-03 1877", "03.03.2024", "120,00 €"))
    sibling = extract_features(invoice("2024-045120", "03.04.2024", "120,00 €"))
    assert compare(a, misread)[0] < 0.1 and compare(a, split)[0] < 0.1
    assert compare(a, sibling, noise=0.05)[0] > 0.4  # new number and date, even in a re-scan


def test_a_date_whose_separators_ocr_lost_still_matches_the_date():
    lost = extract_features(invoice("2024-031877", "20240124", "120,00 €"))
    assert lost["dates"] == [] and "20240124" in lost["identifiers"]  # how OCR presents it
    a = {"dates": ["2024-01-24"], "identifiers": ["479946"], "amounts": ["12000"]}
    rescan = {"dates": [], "identifiers": ["20240124"], "amounts": ["12000"]}
    penalty, why = compare(a, rescan, noise=0.05)
    assert penalty < 0.05 and why["matched"]["dates"] == ["2024-01-24"]
    assert compare(rescan, a, noise=0.05)[0] == penalty
    day_first = {"dates": [], "identifiers": ["24012024"], "amounts": ["12000"]}
    assert compare(a, day_first, noise=0.05)[0] == penalty
    # A number that is not the other side's date (nor one edit from it) conflicts as before.
    sibling = {"dates": [], "identifiers": ["20240317"], "amounts": ["12000"]}
    assert compare(a, sibling, noise=0.05)[0] > 0.5
    # Nor is a number with a digit inside the date's: the invoice number 2024-01524 of a sibling.
    numbered = {"dates": [], "identifiers": ["202401524"], "amounts": ["12000"]}
    assert "identifiers" in compare(a, numbered, noise=0.05)[1]["differing"]


def test_an_amount_that_lost_its_decimal_point_or_leading_digits_still_matches():
    a = {"dates": ["2024-01-24"], "identifiers": ["479946"], "amounts": ["21165", "84660"]}
    rescan = {"dates": ["2024-01-24"], "identifiers": ["479946", "21165"], "amounts": ["660"]}
    penalty, why = compare(a, rescan, noise=0.05)  # `€21165` and `€8 46.60` in the re-scan
    assert why["matched"]["amounts"] == ["21165"]
    assert why["near"]["amounts"] == [("84660", "660")]
    assert penalty < 0.05
    sibling = {"dates": ["2024-01-24"], "identifiers": ["479946"], "amounts": ["21165", "93120"]}
    assert compare(a, sibling)[1]["differing"]["amounts"] == {"a": ["84660"], "b": ["93120"]}


def test_digit_runs_are_the_regex_matches():
    """The numpy digit finder gives the spans `_DIGIT_RUNS` matches: runs joined across at most
    32 other characters (tried at 28-36), and texts with non-ASCII digits (`٣`) as well."""
    rng = random.Random(11)
    for _ in range(5000):
        text = "".join(rng.choice("ab 1x.\n€ä٣-") for _ in range(rng.randint(0, 80)))
        text = text.replace("x", "y" * rng.randint(28, 36))
        expected = [match.span() for match in _DIGIT_RUNS.finditer(text)]
        assert _digit_runs(text) == expected, text


def test_strings_one_edit_apart_share_a_one_deletion_neighbour():
    """The set test `compare` uses to skip the edit distances never misses a one-edit pair."""
    rng = random.Random(3)
    digits = "0123456789"
    for _ in range(3000):
        x = "".join(rng.choice(digits) for _ in range(rng.randint(3, 12)))
        at = rng.randrange(len(x))
        y = rng.choice(
            [
                x[:at] + rng.choice(digits) + x[at + 1 :],
                x[:at] + rng.choice(digits) + x[at:],
                x[:at] + x[at + 1 :],
            ]
        )
        assert not _neighbourhoods([x]).isdisjoint(_neighbourhoods([y])), (x, y)
    assert _neighbourhoods(["12345"]).isdisjoint(_neighbourhoods(["12399"]))  # two edits


def test_large_leftover_matrices_get_the_same_edit_distances():
    """The one-call path for many leftover values agrees with the value-by-value rule,
    containment included (`738` ends `54738`; `838126` is inside `83812680`)."""
    rng = random.Random(5)
    for _ in range(300):
        values = ["".join(rng.choice("0123") for _ in range(rng.randint(3, 8))) for _ in range(14)]
        values += ["738", "54738", "838126", "83812680"]
        rng.shuffle(values)
        left = sorted(set(values[:7]))  # leftovers: no value is on both sides
        right = sorted(set(values[7:15]) - set(left))
        expected = [_edits(x, y) for x in left for y in right]
        assert len(expected) >= CDIST_MIN and _edit_matrix(left, right) == expected


def test_fuzzy_and_jaccard_on_identical_and_unrelated_texts():
    a = document(1, BOILERPLATE)
    b = document(2, BOILERPLATE)
    c = document(3, "Completely different words about gardening, roses and summer weather " * 10)
    settings = DedupSettings()
    values = fuzzy.dupeless_score_pairs([ScoringPair(a, b), ScoringPair(a, c)], settings, {})
    assert values.values == [pytest.approx(1.0), 0.0]
    result = jaccard.dupeless_score_pairs([ScoringPair(a, b), ScoringPair(a, c)], settings, {})
    assert result.values[0] == 1.0 and result.values[1] < 0.2


def test_jaccard_component_is_calibrated_and_explains_raw_jaccard():
    words = generate_corpus(5, seed=2).documents[0]["content"].split()
    a = document(1, " ".join(words))
    b = document(2, " ".join(words[: int(len(words) * 0.8)]))
    [value], [raw] = jaccard.jaccard_values([ScoringPair(a, b)])
    assert 0.6 < raw < 0.95 and value == pytest.approx(char_agreement(raw))
    result = jaccard.dupeless_score_pairs([ScoringPair(a, b)], DedupSettings(), {})
    assert result.explanations[0]["jaccard"] == pytest.approx(raw, abs=1e-4)
    unsigned = attrs.evolve(b, signature=None)  # compared exactly from the shingle sets
    [_], [exact] = jaccard.jaccard_values([ScoringPair(a, unsigned)])
    assert abs(exact - raw) < 0.1


def test_metadata_compares_only_known_fields():
    a = AnalysedDocument(1, correspondent="ACME", document_type="Invoice", created=date(2024, 1, 2))
    b = AnalysedDocument(2, correspondent="ACME", document_type=None, created=date(2024, 1, 3))
    value, agree = metadata_scorer.metadata_similarity(a, b)
    assert value == 0.5 and agree == {"correspondent": True, "created": False}
    assert math.isnan(metadata_scorer.metadata_similarity(a, AnalysedDocument(3))[0])


def test_combination_and_exact_rescore():
    weights = Weights.from_settings(DedupSettings())
    assert combine({"jaccard": 0.5, "fuzzy": 1.0}, {}, weights) == pytest.approx(0.7)
    assert combine({"jaccard": 0.5, "fuzzy": 1.0, "metadata": math.nan}, {}, weights) == 0.7
    assert combine({"jaccard": 1, "fuzzy": 1}, {"template_penalty": 0.5}, weights) == 0.65
    a, b = AnalysedDocument(1, text="x", content_hash="h"), AnalysedDocument(2, text="y")
    pair = ScoringPair(a, b)
    [scored] = score_pairs(
        [pair], [ScoreComponent("jaccard", [0.5]), ScoreComponent("fuzzy", [1.0])], weights
    )
    fuzzy_only = Weights({"jaccard": 0, "fuzzy": 100}, 70)
    assert rescore(scored, fuzzy_only).confidence == 1.0


def test_skipping_hopeless_fuzzy_pairs_keeps_the_groups():
    from dupeless.core.config import load_settings
    from dupeless.core.dedup_config import weights_for
    from dupeless.core.grouping import build_groups
    from dupeless.plugins import lsh, template_penalty

    settings = load_settings(environ={})
    corpus = generate_corpus(400, 2)
    documents = [document(record["id"], record["content"]) for record in corpus.documents]
    by_id = {d.id: d for d in documents}
    hashes = lsh.band_hashes(np.stack([d.signature for d in documents]), 64)
    found = lsh.candidate_pairs(hashes, [d.id for d in documents])
    pairs = [ScoringPair(by_id[a], by_id[b]) for a, b in found.tolist()]
    weights = weights_for(settings, settings.dedup)

    def groups(fuzzy_component):
        components = [
            jaccard.dupeless_score_pairs(pairs, settings, {}),
            fuzzy_component,
            template_penalty.dupeless_score_pairs(pairs, settings, {}),
            metadata_scorer.dupeless_score_pairs(pairs, settings, {}),
        ]
        scores = score_pairs(pairs, components, weights)
        threshold = settings.dedup.similarity_threshold
        return scores, {frozenset(g.members) for g in build_groups(scores, threshold)}

    skipping = fuzzy.dupeless_score_pairs(pairs, settings, {})
    estimated = {i for i, why in enumerate(skipping.explanations) if why}
    full = fuzzy.fuzzy_values(pairs, settings.dedup.fuzzy_sample_size)
    assert 0 < len(estimated) < len(pairs)
    assert all(skipping.values[i] == full[i] for i in range(len(pairs)) if i not in estimated)
    scores, skipped_groups = groups(skipping)
    _, full_groups = groups(ScoreComponent(name="fuzzy", values=full))
    assert skipped_groups == full_groups and full_groups
    assert all(scores[i].confidence < settings.dedup.similarity_threshold for i in estimated)


def test_penalties_are_computed_once_per_batch_and_equal_a_fresh_computation():
    from dupeless.plugins import template_penalty

    march = document(1, invoice("2024-031877", "03.03.2024", "120,00 €"))
    april = document(2, invoice("2024-042290", "03.04.2024", "120,00 €"))
    batch = [ScoringPair(march, april)]
    first = template_penalty.penalties(batch)
    assert template_penalty.penalties(batch) is first  # a later asker reuses the result
    assert jaccard.raw_jaccard(batch) is jaccard.raw_jaccard(batch)  # so do the estimates
    again = template_penalty.penalties(list(batch))  # another list: computed afresh
    assert again is not first and decoded(again) == decoded(first)
    # The host scores two batches at once: the second batch must not push out the first.
    one, other = [ScoringPair(march, april)], [ScoringPair(april, march)]
    first, second = template_penalty.penalties(one), template_penalty.penalties(other)
    assert template_penalty.penalties(one) is first
    assert template_penalty.penalties(other) is second
    for _ in range(REMEMBERED):  # only the last few batches are kept
        template_penalty.penalties([ScoringPair(march, april)])
    assert template_penalty.penalties(one) is not first


def decoded(results):
    """(penalty, explanation) pairs with the explanations (JSON fragments) read back."""
    return [(penalty, orjson.loads(to_json(why))) for penalty, why in results]


def test_pooled_and_in_process_penalties_agree(monkeypatch):
    from dupeless.plugins import pool, template_penalty

    corpus = generate_corpus(60, 4).documents
    documents = [document(d["id"], d["content"]) for d in corpus]
    batch = [ScoringPair(a, b) for a, b in itertools.pairwise(documents)]
    in_process = decoded(template_penalty.penalties(batch))
    items = [(pair.a.features, pair.b.features, 0.0) for pair in batch]
    for doc in documents:
        doc.features = None
    monkeypatch.setattr(pool, "MIN_ITEMS", 10)
    monkeypatch.setenv(pool.WORKERS_ENV, "2")
    assert len(pool.pool_map(template_penalty.compare_encoded, items)) == 2  # two workers
    pooled = decoded(template_penalty.penalties(list(batch)))
    assert pooled == in_process
    penalty, why = in_process[0]  # what `compare` says, with the pair's noise estimate added
    noise = template_penalty.pair_noise(batch[:1])[0]
    expected, explanation = compare(documents[0].features, documents[1].features, noise)
    assert penalty == expected
    assert orjson.loads(to_json({**explanation, "noise": round(noise, 4)})) == why


def test_stored_json_keeps_what_json_dumps_kept():
    """orjson writes the pair rows; NaN, numpy numbers, dates and non-string keys still come
    out as plain JSON, the way `json.dumps(default=str)` wrote them."""
    value = {"nan": math.nan, "np": np.float64(0.25), "day": date(2024, 3, 1), 7: ("a", 1)}
    assert to_json(value) == '{"nan":null,"np":0.25,"day":"2024-03-01","7":["a",1]}'


def test_a_component_without_a_value_is_stored_as_null_and_read_back_as_nan():
    from dupeless.core.models import PairScore
    from dupeless.core.scoring import decode_pair, encode_components

    score = PairScore(1, 2, 0.8, {"jaccard": 0.9, "metadata": math.nan}, {"veto": 0.0}, False, {})
    stored = to_json(encode_components(score))
    assert '"metadata":null' in stored
    row = {"document_a": 1, "document_b": 2, "confidence": 0.8, "components": stored}
    back = decode_pair(row)
    assert back.similarities["jaccard"] == 0.9 and math.isnan(back.similarities["metadata"])
