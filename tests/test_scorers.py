import math
from datetime import date

import pytest
from dupeless.core.config import DedupSettings
from dupeless.core.corpus import generate_corpus
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair
from dupeless.core.scoring import Weights, combine, rescore, score_pairs
from dupeless.plugins import fuzzy, jaccard, metadata_scorer
from dupeless.plugins.minhash import signatures
from dupeless.plugins.ocr_normaliser import content_hash, normalise
from dupeless.plugins.template_penalty import compare, extract_features

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
    assert german["identifiers"] == english["identifiers"] == ["2024-88123"]
    assert extract_features("Termin um 14:30 Uhr")["times"] == ["14:30"]


def test_ocr_lookalikes_next_to_digits_are_read_as_digits():
    assert extract_features("paid 2O24-O3-O7")["dates"] == ["2024-03-07"]


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


def test_one_garbled_date_does_not_sink_a_true_duplicate():
    original = invoice("2024-031877", "03.03.2024", "120,00 €")
    rescan = invoice("2024-031877", "08.03.2024", "120,00 €")  # OCR read 3 as 8
    penalty, why = compare(extract_features(original), extract_features(rescan))
    assert why["near"]["dates"] == [("2024-03-03", "2024-03-08")]
    assert penalty < 0.2


def test_fuzzy_and_jaccard_on_identical_and_unrelated_texts():
    a = document(1, BOILERPLATE)
    b = document(2, BOILERPLATE)
    c = document(3, "Completely different words about gardening, roses and summer weather " * 10)
    settings = DedupSettings()
    values = fuzzy.dupeless_score_pairs([ScoringPair(a, b), ScoringPair(a, c)], settings, {})
    assert values.values == [pytest.approx(1.0), 0.0]
    result = jaccard.dupeless_score_pairs([ScoringPair(a, b), ScoringPair(a, c)], settings, {})
    assert result.values[0] == 1.0 and result.values[1] < 0.2


def test_jaccard_is_exact_near_the_threshold():
    words = generate_corpus(5, seed=2).documents[0]["content"].split()
    a = document(1, " ".join(words))
    b = document(2, " ".join(words[: int(len(words) * 0.8)]))
    pair = ScoringPair(a, b)
    [estimate], [exact] = jaccard.jaccard_values([pair], threshold=0.05)
    assert not exact
    [value], [exact] = jaccard.jaccard_values([pair], threshold=estimate)
    assert exact and abs(value - estimate) < 0.1


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
