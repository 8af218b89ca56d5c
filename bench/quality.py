"""Quality and speed of the duplicate engine on a generated library with known duplicates.

    .venv/bin/python -m bench.quality --docs 10000 --seed 1

Runs the whole in-memory pipeline (normalise -> features -> signatures -> bands -> candidate
pairs -> scorers -> grouping) at the given settings and prints pairwise precision, recall and F1,
recall per OCR noise level, the candidate stage's recall alone, and documents per second of each
stage. `--shingling`, `--bands`, `--threshold` and `--penalty` measure alternatives.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import numpy as np
from dupeless.core.analysis import content_hash, word_count
from dupeless.core.corpus import Corpus, generate_corpus
from dupeless.core.grouping import build_groups
from dupeless.core.hookspecs.score import ScoreComponent
from dupeless.core.models import AnalysedDocument, ScoringPair
from dupeless.core.scoring import Weights, exact_pairs, score_pairs
from dupeless.plugins import lsh, minhash
from dupeless.plugins.fuzzy import fuzzy_values, hopeless_pairs
from dupeless.plugins.jaccard import jaccard_values
from dupeless.plugins.metadata_scorer import metadata_similarity
from dupeless.plugins.ocr_normaliser import dupeless_normalise
from dupeless.plugins.template_penalty import ensure_features, penalties

SCORERS = ("jaccard", "fuzzy", "template_penalty", "metadata")


class Settings:
    """The contract's dedup defaults (overridable from the command line)."""

    num_permutations = 256
    num_bands = 64
    ngram_size = 3
    min_words = 20
    similarity_threshold = 0.75
    confidence_weight_jaccard = 60
    confidence_weight_fuzzy = 40
    discriminative_penalty_strength = 70
    skip_hopeless = True
    fuzzy_sample_size = 2000


class Timer:
    """Wall time of each stage, in insertion order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def analyse(corpus: Corpus, settings: Settings, shingling: minhash.Shingling, timer: Timer) -> list:
    """Normalise, extract features and sign every document: AnalysedDocuments in id order."""
    records = corpus.documents
    with timer.stage("normalise"):
        texts = dupeless_normalise([record["content"] for record in records])
    documents = [
        AnalysedDocument(
            id=record["id"],
            text=text,
            content=record["content"],
            title=record["title"],
            word_count=word_count(text),
            correspondent=record["correspondent"],
            document_type=record["document_type"],
            created=date.fromisoformat(record["created"]),
            added=datetime.fromisoformat(record["added"].replace("Z", "+00:00")),
            checksum=record["checksum"],
            content_hash=content_hash(text),
        )
        for record, text in zip(records, texts, strict=True)
    ]
    with timer.stage("features"):
        ensure_features(documents)
    with timer.stage("signatures"):
        eligible = [document for document in documents if document.word_count >= settings.min_words]
        values = minhash.signatures(
            [document.text for document in eligible], settings.num_permutations, shingling
        ).values
        for document, row in zip(eligible, values, strict=True):
            document.signature = row
    return documents


def candidates(documents: list, settings: Settings, timer: Timer) -> set[tuple[int, int]]:
    """Verified LSH candidate pairs of the signed documents (as `LshIndex.pairs` finds them, with
    the default `min_jaccard`) plus the exact tier."""
    signed = [document for document in documents if document.signature is not None]
    with timer.stage("candidates"):
        signatures = np.stack([d.signature for d in signed])
        ids = np.asarray([document.id for document in signed], dtype=np.int64)
        found = lsh.verified_pairs(ids, signatures, settings.num_bands, lsh.MIN_JACCARD)
        pairs = {(int(a), int(b)) for a, b in found}
        pairs |= exact_pairs(documents)
    return pairs


def score(documents: list, pairs: set, settings: Settings, shingling, timer: Timer) -> list:
    by_id = {document.id: document for document in documents}
    scoring = [ScoringPair(by_id[a], by_id[b]) for a, b in sorted(pairs)]
    weights = Weights.from_settings(settings, {"metadata": 10})
    with timer.stage("score: jaccard"):
        jaccard, _ = jaccard_values(scoring, shingling)
    with timer.stage("score: template_penalty"):
        compared = penalties(scoring)
    with timer.stage("score: fuzzy"):
        skipped = {}
        if settings.skip_hopeless:
            threshold = settings.similarity_threshold
            skipped = hopeless_pairs(scoring, weights, threshold, list(SCORERS))
        fuzzy = fuzzy_values(scoring, settings.fuzzy_sample_size, skipped)
    timer.counts["fuzzy pairs skipped"] = len(skipped)
    with timer.stage("score: metadata"):
        metadata = [metadata_similarity(p.a, p.b)[0] for p in scoring]
    components = [
        ScoreComponent("jaccard", jaccard),
        ScoreComponent("fuzzy", fuzzy),
        ScoreComponent(
            "template_penalty",
            [value for value, _ in compared],
            kind="penalty",
            explanations=[why for _, why in compared],
        ),
        ScoreComponent("metadata", metadata),
    ]
    with timer.stage("combine"):
        return score_pairs(scoring, components, weights)


def evaluate(corpus: Corpus, groups: list, candidate_pairs: set) -> dict[str, float]:
    truth = corpus.duplicate_pairs()
    predicted = {
        (a, b)
        for group in groups
        for i, a in enumerate(group.members)
        for b in group.members[i + 1 :]
    }
    hits = len(truth & predicted)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    result = {
        "true pairs": len(truth),
        "predicted pairs": len(predicted),
        "candidate pairs": len(candidate_pairs),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if hits else 0.0,
        "candidate recall": len(truth & candidate_pairs) / len(truth),
    }
    by_level: dict[float, list[tuple[bool, bool]]] = defaultdict(list)
    for a, b in truth:
        level = max(corpus.noise[a], corpus.noise[b])
        by_level[level].append(((a, b) in predicted, (a, b) in candidate_pairs))
    for level, outcomes in sorted(by_level.items()):
        found = sum(hit for hit, _ in outcomes) / len(outcomes)
        candidate = sum(cand for _, cand in outcomes) / len(outcomes)
        result[f"recall @ {level:.0%} noise (n={len(outcomes)})"] = found
        result[f"candidate recall @ {level:.0%} noise"] = candidate
    return result


def run(args: argparse.Namespace, report: Callable[[str], None] = print) -> dict[str, float]:
    settings = Settings()
    settings.num_bands = args.bands
    settings.similarity_threshold = args.threshold
    settings.discriminative_penalty_strength = args.penalty
    settings.fuzzy_sample_size = args.fuzzy_sample
    settings.skip_hopeless = not args.no_skip
    shingling = parse_shingling(args.shingling)
    timer = Timer()
    with timer.stage("corpus (not part of the pipeline)"):
        corpus = generate_corpus(args.docs, args.seed)
    documents = analyse(corpus, settings, shingling, timer)
    pairs = candidates(documents, settings, timer)
    scores = score(documents, pairs, settings, shingling, timer)
    with timer.stage("grouping"):
        added = {document.id: document.added for document in documents}
        groups = build_groups(scores, settings.similarity_threshold, added=added)
    result = evaluate(corpus, groups, pairs)
    result.update(timer.counts)
    count = len(corpus.documents)
    report(
        f"{count} documents, seed {args.seed}, shingling {shingling.name}, "
        f"{settings.num_permutations} permutations / {settings.num_bands} bands, "
        f"threshold {settings.similarity_threshold}, "
        f"penalty {settings.discriminative_penalty_strength}"
    )
    for name, value in result.items():
        report(f"  {name:42s} {value:.4f}" if isinstance(value, float) else f"  {name:42s} {value}")
    pipeline = 0.0
    for name, seconds in timer.seconds.items():
        if not name.startswith("corpus"):
            pipeline += seconds
        report(f"  {name:42s} {seconds:7.2f} s  {count / seconds:10.0f} docs/s")
    report(f"  {'full analysis':42s} {pipeline:7.2f} s  {count / pipeline:10.0f} docs/s")
    result["docs/s"] = count / pipeline
    return result


def parse_shingling(name: str) -> minhash.Shingling:
    """`char5-fold`, `word3`, ... -> Shingling."""
    base, _, suffix = name.partition("-")
    kind = base.rstrip("0123456789")
    return minhash.Shingling(kind, int(base[len(kind) :]), fold=suffix == "fold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shingling", default=minhash.DEFAULT_SHINGLING.name)
    parser.add_argument("--bands", type=int, default=Settings.num_bands)
    parser.add_argument("--threshold", type=float, default=Settings.similarity_threshold)
    parser.add_argument("--penalty", type=int, default=Settings.discriminative_penalty_strength)
    parser.add_argument("--fuzzy-sample", type=int, default=Settings.fuzzy_sample_size)
    parser.add_argument(
        "--no-skip", action="store_true", help="compare hopeless pairs with rapidfuzz too"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
