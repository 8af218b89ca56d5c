"""Sync throughput against a fake Paperless (in its own process) of 10k and 100k documents.

    .venv/bin/python -m bench.sync [--docs 10000 100000]

Prints, per library size: the first (full) sync in docs/s, an incremental sync of the unchanged
library, an incremental sync with 1% of the documents changed, and this process' peak RSS.
Targets: first sync >= 1,000 docs/s; an unchanged 100k library in under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from dupeless.core.config import load_settings
from dupeless.core.fake_paperless import DEFAULT_TOKEN
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store
from dupeless.core.sync import sync
from dupeless.core.tasks import open_source

from bench.common import auth, fake_paperless_process, peak_rss_mb


async def timed_sync(store: Store, pipeline: Pipeline) -> tuple[float, object]:
    started = time.perf_counter()
    async with open_source(pipeline) as (source, key):
        result = await sync(store, source, key)
    return time.perf_counter() - started, result


def change_documents(url: str, count: int) -> None:
    """Edit `count` documents through the API, as a user would (bumps `modified`)."""
    with httpx.Client(base_url=url, headers=auth(), timeout=30) as client:
        ids = client.get("/api/documents/", params={"fields": "id", "page_size": count}).json()
        for document in ids["results"]:
            client.patch(f"/api/documents/{document['id']}/", json={"title": "edited"})


async def bench(documents: int) -> None:
    with fake_paperless_process(documents) as url, tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            environ={
                "PAPERLESS_URL": url,
                "PAPERLESS_API_TOKEN": DEFAULT_TOKEN,
                "DATABASE_URL": str(Path(folder) / "bench.db"),
            }
        )
        pipeline = Pipeline(settings)
        store = await Store.open(settings.database_path)
        try:
            first, result = await timed_sync(store, pipeline)
            total = result.inserted
            print(f"  first sync    {total:>7} docs  {first:7.2f} s  {total / first:8.0f} docs/s")
            unchanged, result = await timed_sync(store, pipeline)
            print(f"  unchanged     {unchanged:7.2f} s  ({result.unchanged} re-listed in overlap)")
            change_documents(url, max(1, documents // 100))
            changed, result = await timed_sync(store, pipeline)
            print(f"  1% changed    {changed:7.2f} s  ({result.updated} updated)")
        finally:
            await store.close()
    print(f"  peak RSS      {peak_rss_mb():7.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    for documents in args.docs:
        print(f"sync, {documents} documents")
        asyncio.run(bench(documents))


if __name__ == "__main__":
    main()
