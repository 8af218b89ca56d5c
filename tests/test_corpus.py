from dupeless.core.corpus import NOISE_LEVELS, generate_corpus


def test_same_seed_same_library_other_seed_other_library():
    first, again = generate_corpus(300, seed=7), generate_corpus(300, seed=7)
    assert first.documents == again.documents and first.clusters == again.clusters
    assert generate_corpus(300, seed=8).documents != first.documents


def test_documents_have_paperless_fields_and_labels():
    corpus = generate_corpus(600, seed=1)
    assert 550 <= len(corpus.documents) <= 600
    ids = [document["id"] for document in corpus.documents]
    assert ids == list(range(1, len(ids) + 1))
    fields = {"id", "title", "content", "correspondent", "document_type", "tags", "created",
              "added", "modified", "original_file_name", "checksum"}  # fmt: skip
    assert all(set(document) == fields for document in corpus.documents)
    assert set(corpus.noise) == set(ids)
    assert set(corpus.noise.values()) <= {0.0, *NOISE_LEVELS}
    pairs = corpus.duplicate_pairs()
    assert pairs and all(a < b for a, b in pairs)
    languages = {document["tags"][0] for document in corpus.documents}
    assert languages == {"en", "de"}


def test_byte_identical_copies_share_checksum_and_content():
    corpus = generate_corpus(2000, seed=3)
    by_id = {document["id"]: document for document in corpus.documents}
    identical = [i for i, variants in corpus.variants.items() if variants == ("byte_identical",)]
    assert identical
    for copy in identical:
        [cluster] = [cluster for cluster in corpus.clusters if copy in cluster]
        checksums = {by_id[member]["checksum"] for member in cluster}
        assert by_id[copy]["checksum"] in checksums
        assert any(by_id[m]["content"] == by_id[copy]["content"] for m in cluster if m != copy)


def test_template_series_are_hard_negatives():
    corpus = generate_corpus(1500, seed=4)
    invoices = [d for d in corpus.documents if d["document_type"] == "Invoice"]
    by_sender: dict[str, list[dict]] = {}
    for document in invoices:
        by_sender.setdefault(document["correspondent"], []).append(document)
    series = max(by_sender.values(), key=len)
    assert len(series) >= 12
    assert len({document["content"][-200:] for document in series}) < len(series)
