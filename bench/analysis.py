"""The product's analysis, end to end through the store: quality, speed, memory, check latency.

    .venv/bin/python -m bench.analysis [--docs 10000 100000] [--checks 200]

For each size: a seeded corpus (core/corpus.py) is synced from JSONL, then analysed in full by
the same code `dupeless analyze` runs. Prints pairwise precision, recall and F1 of the groups
against the generator's labels, recall per OCR noise level, analysis docs/s and peak RSS; then
times `check` (fetch, normalise, sign, query the persisted index, score, regroup) for new
documents against the analysed library, p50/p99.
Targets: precision >= 0.99, F1 >= 0.97, >= 2,000 docs/s, RSS <= 1.5 GB at 100k, check p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from attrs import define
from dupeless.core.analysis import Analysis
from dupeless.core.check import check
from dupeless.core.config import load_settings
from dupeless.core.corpus import generate_corpus
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store
from dupeless.core.sync import sync
from dupeless.plugins.jsonl_source import JsonlSource

from bench.common import peak_rss_mb, percentile


async def found_pairs(store: Store) -> set[tuple[int, int]]:
    members: dict[str, list[int]] = defaultdict(list)
    for group_id, document_id in await store.fetchall(
        "SELECT group_id, document_id FROM group_members"
    ):
        members[group_id].append(document_id)
    return {(a, b) for ids in members.values() for a in ids for b in ids if a < b}


def write_library(folder: Path, documents: int, checks: int, seed: int) -> tuple[Labels, set[int]]:
    """The corpus as JSONL files (the library, and everything for the checks); only the labels
    stay in memory, so the peak RSS is the analysis' own."""
    corpus = generate_corpus(documents + checks, seed)
    # Hold back the last documents: they arrive later and are checked one by one.
    held = {d["id"] for d in corpus.documents[-checks:]} if checks else set()
    (folder / "library.jsonl").write_text(
        "\n".join(json.dumps(d) for d in corpus.documents if d["id"] not in held)
    )
    (folder / "all.jsonl").write_text("\n".join(json.dumps(d) for d in corpus.documents))
    return Labels(corpus.duplicate_pairs(), corpus.noise), held


@define
class Labels:
    """What the generator knows: the true duplicate pairs and each document's noise level."""

    pairs: list[tuple[int, int]]
    noise: dict[int, float]


async def bench(documents: int, checks: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        # Generated in a child process, so this process' peak RSS is the analysis' alone.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as child:
            labels, held = child.submit(write_library, folder, documents, checks, seed).result()
        library = folder / "library.jsonl"
        settings = load_settings(environ={"DATABASE_URL": str(folder / "bench.db")})
        pipeline = Pipeline(settings)
        pipeline.start()  # as `dupeless analyze` and the server do
        store = await Store.open(settings.database_path)
        try:
            await sync(store, JsonlSource(library), "jsonl")
            started = time.perf_counter()
            result = await Analysis(store, pipeline, settings.dedup).run()
            elapsed = time.perf_counter() - started
            report_quality(labels, held, await found_pairs(store))
            count = result.documents_analysed
            print(f"  analysis      {count} docs  {elapsed:.1f} s  {count / elapsed:.0f} docs/s")
            print(f"  peak RSS      {peak_rss_mb():.0f} MB")
            if checks:
                await bench_checks(store, pipeline, settings, held, folder)
        finally:
            await store.close()


def report_quality(labels: Labels, held: set[int], found: set[tuple[int, int]]) -> None:
    truth = {(a, b) for a, b in labels.pairs if a not in held and b not in held}
    hits = found & truth
    precision = len(hits) / len(found) if found else 1.0
    recall = len(hits) / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(
        f"  precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}  ({len(truth)} true pairs)"
    )
    by_noise: dict[float, list[bool]] = defaultdict(list)
    for a, b in truth:
        by_noise[max(labels.noise.get(a, 0.0), labels.noise.get(b, 0.0))].append((a, b) in hits)
    levels = "  ".join(
        f"{round(level * 100)}%: {sum(v) / len(v):.2f}" for level, v in sorted(by_noise.items())
    )
    print(f"  recall by noise  {levels}")


async def bench_checks(store, pipeline, settings, held, folder: Path) -> None:
    source = JsonlSource(folder / "all.jsonl")
    await source.document_ids()  # read the file now: Paperless' fetch is not what is timed
    latencies = []
    for document_id in sorted(held):
        started = time.perf_counter()
        await check(store, pipeline, source, settings.dedup, document_id)
        latencies.append((time.perf_counter() - started) * 1000)
    print(
        f"  check         p50 {percentile(latencies, 0.5):.1f} ms"
        f"  p99 {percentile(latencies, 0.99):.1f} ms  ({len(latencies)} documents)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for documents in args.docs:
        print(f"analysis, {documents} documents")
        asyncio.run(bench(documents, args.checks, args.seed))


if __name__ == "__main__":
    main()
