"""Post-consume hook latency and burst absorption, end to end.

    .venv/bin/python -m bench.hooks [--docs 10000] [--latency 100] [--burst 500]

A generated library (`generate_corpus`) is loaded into the fake Paperless, synced and analysed
into a fresh store; dupeless (hook endpoint + hook queue, write-back on) is served next to it.
Then:

- latency: for each held-out document, it is "consumed" (added to the fake), and the clock runs
  from starting `hooks/post_consume.py` as a process with Paperless' environment (`?wait`) until
  the process has exited with the verdict line; p50/p99 over `--latency` documents;
- burst: `--burst` more documents are consumed at once and as many events are POSTed
  concurrently without waiting; reports how long the answers took, how long until every event
  was done, whether all were processed, and p50/p99 of received -> processed.

Targets: script p50 <= 150 ms, p99 <= 500 ms; every burst event processed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from dupeless.core.analysis import Analysis
from dupeless.core.config import load_settings
from dupeless.core.corpus import generate_corpus
from dupeless.core.dedup_config import load_dedup
from dupeless.core.fake_paperless import DEFAULT_TOKEN, FakePaperless, serve
from dupeless.core.pipeline import Pipeline
from dupeless.core.store import Store
from dupeless.core.sync import sync
from dupeless.core.tasks import open_source
from dupeless.server.app import create_app

from bench.common import percentile

SCRIPT = Path(__file__).resolve().parents[1] / "hooks" / "post_consume.py"
TOKEN = "bench-hook-token"
#: The interpreter itself, not a venv or pyenv shim: what `python3` is inside the container.
PYTHON = getattr(sys, "_base_executable", sys.executable)


async def prepare(settings) -> None:
    """Sync and analyse the library into the store."""
    pipeline = Pipeline(settings)
    store = await Store.open(settings.database_path)
    try:
        async with open_source(pipeline) as (source, key):
            await sync(store, source, key)
        await Analysis(store, pipeline, await load_dedup(store, settings)).run()
    finally:
        await store.close()


def script_env(document_id: int, url: str) -> dict[str, str]:
    stamp = datetime.now().isoformat(sep=" ") + "+00:00"
    media = "/usr/src/paperless/media/documents"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DOCUMENT_ID": str(document_id),
        "DOCUMENT_FILE_NAME": f"{document_id}.pdf",
        "DOCUMENT_CREATED": stamp[:10],
        "DOCUMENT_MODIFIED": stamp,
        "DOCUMENT_ADDED": stamp,
        "DOCUMENT_SOURCE_PATH": f"{media}/originals/{document_id:07}.pdf",
        "DOCUMENT_ARCHIVE_PATH": "None",
        "DOCUMENT_THUMBNAIL_PATH": f"{media}/thumbnails/{document_id:07}.webp",
        "DOCUMENT_DOWNLOAD_URL": f"/api/documents/{document_id}/download/",
        "DOCUMENT_THUMBNAIL_URL": f"/api/documents/{document_id}/thumb/",
        "DOCUMENT_OWNER": "admin",
        "DOCUMENT_CORRESPONDENT": "None",
        "DOCUMENT_TYPE": "None",
        "DOCUMENT_TAGS": "",
        "DOCUMENT_ORIGINAL_FILENAME": f"scan-{document_id}.pdf",
        "TASK_ID": str(uuid.uuid4()),
        "DUPELESS_URL": url,
        "DUPELESS_HOOK_TOKEN": TOKEN,
    }


def seconds_between(received: str, processed: str) -> float:
    """Seconds between two of the store's UTC stamps (`...Z`)."""
    elapsed = datetime.fromisoformat(processed[:-1]) - datetime.fromisoformat(received[:-1])
    return elapsed.total_seconds()


def drain(database: Path, timeout: float) -> tuple[int, int, int]:
    """Poll until no event is pending or processing; (done, failed, left)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            counts = dict(
                conn.execute("SELECT status, COUNT(*) FROM hook_events GROUP BY status").fetchall()
            )
        left = counts.get("pending", 0) + counts.get("processing", 0)
        if not left or time.monotonic() > deadline:
            return counts.get("done", 0), counts.get("failed", 0), left
        time.sleep(0.05)


def explain_slowest(database: Path, slowest: list[tuple[float, int]]) -> list[str]:
    """Where the slowest documents' time went: the server's part (event received -> done, the
    write-back included) and how many candidate pairs the check scored."""
    lines = []
    with contextlib.closing(sqlite3.connect(database)) as conn:
        for elapsed, document_id in reversed(slowest):
            received, processed = conn.execute(
                "SELECT received_at, processed_at FROM hook_events WHERE document_id = ?"
                " ORDER BY id DESC LIMIT 1",
                (document_id,),
            ).fetchone()
            (pairs,) = conn.execute(
                "SELECT COUNT(*) FROM pair_scores WHERE document_a = ? OR document_b = ?",
                (document_id, document_id),
            ).fetchone()
            lines.append(
                f"  slow: document {document_id} {elapsed:.0f} ms; received -> done"
                f" {seconds_between(received, processed) * 1000:.0f} ms, {pairs} candidate pairs"
                " scored"
            )
    return lines


async def post_burst(url: str, ids: list[int]) -> list[int]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(headers={"X-Hook-Token": TOKEN}, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.post(f"{url}/api/v1/hooks/document-consumed", json={"doc_id": i}) for i in ids)
        )
    return [answer.status_code for answer in answers]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000, help="library size")
    parser.add_argument("--latency", type=int, default=100, help="documents timed one by one")
    parser.add_argument("--burst", type=int, default=500, help="events sent at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    held = args.latency + args.burst
    started = time.perf_counter()
    corpus = generate_corpus(args.docs + held, args.seed)
    records = list(corpus.documents)
    rng = random.Random(args.seed)
    new = rng.sample(records, held)
    chosen = {id(record) for record in new}
    library = [record for record in records if id(record) not in chosen]
    next_id = max(record["id"] for record in records) + 1
    for offset, record in enumerate(new):  # consumed later, so they get the highest ids
        record["id"] = next_id + offset
        for stamp in ("added", "modified"):
            record.pop(stamp, None)
    fake = FakePaperless()
    fake.library.load_documents(library)
    print(f"library: {len(library)} documents generated in {time.perf_counter() - started:.1f}s")

    with tempfile.TemporaryDirectory() as tmp, serve(fake) as paperless_url:
        environ = {
            "DATABASE_URL": str(Path(tmp) / "bench.db"),
            "PAPERLESS_URL": paperless_url,
            "PAPERLESS_API_TOKEN": DEFAULT_TOKEN,
            "DUPELESS_SYNC_INTERVAL_MINUTES": "0",
        }
        settings = load_settings(environ=environ)
        started = time.perf_counter()
        asyncio.run(prepare(settings))
        print(f"initial sync + analysis: {time.perf_counter() - started:.1f}s")

        settings.hooks.token = TOKEN
        settings.hooks.public_url = "http://dupeless.bench"
        settings.hooks.workers = args.workers
        with serve(create_app(settings)) as url:
            # -- latency: one consumption at a time, script start to verdict --
            timed, duplicates = [], 0  # (ms, document id)
            for record in new[: args.latency]:
                fake.library.load_documents([record])
                begin = time.perf_counter()
                result = subprocess.run(
                    [PYTHON, str(SCRIPT)],
                    env=script_env(record["id"], url),
                    capture_output=True,
                    text=True,
                )
                timed.append(((time.perf_counter() - begin) * 1000, record["id"]))
                if result.returncode or not result.stdout.startswith("dupeless: document"):
                    print(f"  document {record['id']}: {result.stdout!r} {result.stderr!r}")
                duplicates += "possible duplicate" in result.stdout
            timings = [ms for ms, _ in timed]
            p50, p99 = percentile(timings, 0.5), percentile(timings, 0.99)
            print(
                f"script -> verdict over {len(timings)} documents: p50 {p50:.0f}"
                f" ms, p99 {p99:.0f} ms, mean"
                f" {statistics.fmean(timings):.0f} ms ({duplicates} duplicates found)"
            )
            for line in explain_slowest(settings.database_path, sorted(timed)[-3:]):
                print(line)
            # The script itself, stopping before any request (no DUPELESS_URL): start + imports.
            begin = time.perf_counter()
            for _ in range(20):
                subprocess.run(
                    [PYTHON, str(SCRIPT)], env={"DOCUMENT_ID": "1"}, capture_output=True, check=True
                )
            print(
                f"  of which interpreter start + imports: {(time.perf_counter() - begin) * 50:.0f}"
                " ms"
            )

            # -- burst: many consumptions at once --
            burst = new[args.latency :]
            fake.library.load_documents(burst)
            begin = time.perf_counter()
            statuses = asyncio.run(post_burst(url, [record["id"] for record in burst]))
            answered = time.perf_counter() - begin
            done, failed, left = drain(settings.database_path, timeout=300)
            drained = time.perf_counter() - begin
        with contextlib.closing(sqlite3.connect(settings.database_path)) as conn:
            rows = conn.execute(
                "SELECT received_at, processed_at FROM hook_events"
                " WHERE status = 'done' ORDER BY id DESC LIMIT ?",
                (len(burst),),
            ).fetchall()
        waits = [seconds_between(received, processed) for received, processed in rows]
    accepted = statuses.count(202)
    print(
        f"burst of {len(burst)}: {accepted} accepted (202) in {answered:.2f}s; all done after"
        f" {drained:.1f}s: {done - args.latency} done, {failed} failed, {left} left"
    )
    if waits:
        print(
            f"  received -> processed: p50 {percentile(waits, 0.5):.2f}s,"
            f" p99 {percentile(waits, 0.99):.2f}s"
        )
    all_done = accepted == len(burst) and not failed and not left
    print(f"all {len(burst)} processed: {'yes' if all_done else 'NO'}")
    print(f"targets p50 <= 150 ms: {'met' if p50 <= 150 else 'MISSED'},", end=" ")
    print(f"p99 <= 500 ms: {'met' if p99 <= 500 else 'MISSED'}")
    return 0 if all_done else 1


if __name__ == "__main__":
    sys.exit(main())
