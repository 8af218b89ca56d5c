"""REST API latency with a large store: 100k documents and 10k duplicate groups.

    .venv/bin/python -m bench.api [--docs 100000] [--groups 10000] [--requests 200]

The store is filled with SQL (a real analysis of 100k documents is `bench.analysis`' job), the
real app is served by uvicorn on loopback, and each endpoint is called `--requests` times.
Prints p50 and p95 per endpoint. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from dupeless.core.config import load_settings
from dupeless.core.fake_paperless import serve
from dupeless.core.store import Store
from dupeless.server.app import create_app

from bench.common import percentile

CORRESPONDENTS = [f"Correspondent {n}" for n in range(200)]
TYPES = ["Invoice", "Letter", "Statement", "Payslip", "Contract", "Receipt"]
TAGS = [f"tag{n}" for n in range(50)]
NOW = "2026-11-01T00:00:00.000Z"


async def fill(path: Path, documents: int, groups: int) -> list[str]:
    """Documents, their text, groups of 2-3 members with scored pairs; returns the group ids."""
    rng = random.Random(1)
    store = await Store.open(path)
    try:
        async with store.transaction() as conn:
            await conn.executemany(
                "INSERT INTO documents (id, title, correspondent, document_type, tags,"
                " created_date, added_at, modified_at, original_size, fingerprint,"
                " processing_status, synced_at) VALUES (?, ?, ?, ?, ?, '2026-01-01', ?, ?, ?, ?,"
                " 'completed', ?)",
                [
                    (i, f"Document {i}", rng.choice(CORRESPONDENTS), rng.choice(TYPES),
                     json.dumps(rng.sample(TAGS, 2)), NOW, NOW, 50_000, f"f{i}", NOW)
                    for i in range(1, documents + 1)
                ],
            )  # fmt: skip
            await conn.executemany(
                "INSERT INTO document_tags (document_id, tag) VALUES (?, ?)",
                [(i, tag) for i in range(1, documents + 1) for tag in rng.sample(TAGS, 2)],
            )
            await conn.executemany(
                "INSERT INTO content (document_id, full_text, normalized_text, word_count,"
                " content_hash) VALUES (?, ?, ?, 500, ?)",
                [(i, "word " * 500, "word " * 500, f"h{i}") for i in range(1, documents + 1)],
            )
            group_ids = []
            members = rng.sample(range(1, documents + 1), groups * 3)
            for n in range(groups):
                group_id = str(uuid.uuid4())
                group_ids.append(group_id)
                ids = sorted(members[3 * n : 3 * n + rng.choice((2, 3))])
                confidence = round(rng.uniform(0.75, 1.0), 3)
                components = {"jaccard": confidence, "fuzzy": confidence, "template_penalty": 0.0}
                await conn.execute(
                    "INSERT INTO duplicate_groups (id, confidence, components, status,"
                    " member_count, primary_document_id, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (group_id, confidence, json.dumps(components),
                     rng.choice(("pending", "pending", "ignored", "false_positive")),
                     len(ids), ids[0], NOW, NOW),
                )  # fmt: skip
                await conn.executemany(
                    "INSERT INTO group_members (group_id, document_id) VALUES (?, ?)",
                    [(group_id, i) for i in ids],
                )
                stored = json.dumps(
                    {"similarities": {"jaccard": confidence, "fuzzy": confidence},
                     "penalties": {"template_penalty": 0.0}, "exact": False}
                )  # fmt: skip
                await conn.executemany(
                    "INSERT INTO pair_scores (document_a, document_b, confidence, components,"
                    " explanation, scored_at) VALUES (?, ?, ?, ?, '{}', ?)",
                    [(a, b, confidence, stored, NOW) for a in ids for b in ids if a < b],
                )
        return group_ids
    finally:
        await store.close()


def endpoints(group_ids: list[str]) -> dict[str, list[str]]:
    rng = random.Random(2)
    some = lambda values: [rng.choice(values) for _ in range(50)]  # noqa: E731
    return {
        "documents (list)": ["/documents?limit=50", "/documents?limit=50&offset=5000"],
        "documents (filter)": [f"/documents?correspondent={c}" for c in some(CORRESPONDENTS)]
        + [f"/documents?tag={t}&documentType=Invoice" for t in some(TAGS)],
        "documents/{id}": [f"/documents/{rng.randint(1, 99_999)}" for _ in range(50)],
        "documents/stats": ["/documents/stats"],
        "duplicates (list)": [
            "/duplicates?limit=50",
            "/duplicates?status=pending&sortBy=member_count&sortOrder=desc",
            "/duplicates?minConfidence=0.9&sortBy=created_at",
        ],
        "duplicates/{id}": [f"/duplicates/{g}" for g in some(group_ids)],
        "duplicates/stats": ["/duplicates/stats"],
        "dashboard": ["/dashboard"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "api.db"
        started = time.perf_counter()
        group_ids = asyncio.run(fill(database, args.docs, args.groups))
        print(f"api, {args.docs} documents, {args.groups} groups (filled in"
              f" {time.perf_counter() - started:.0f} s)")  # fmt: skip
        settings = load_settings(
            environ={"DATABASE_URL": str(database), "DUPELESS_SYNC_INTERVAL_MINUTES": "0"}
        )
        with serve(create_app(settings)) as url, httpx.Client(base_url=f"{url}/api/v1") as client:
            for name, paths in endpoints(group_ids).items():
                client.get(paths[0]).raise_for_status()  # warm up
                latencies = []
                for n in range(args.requests):
                    began = time.perf_counter()
                    client.get(paths[n % len(paths)]).raise_for_status()
                    latencies.append((time.perf_counter() - began) * 1000)
                print(
                    f"  {name:<20} p50 {percentile(latencies, 0.5):6.1f} ms"
                    f"  p95 {percentile(latencies, 0.95):6.1f} ms"
                )


if __name__ == "__main__":
    main()
