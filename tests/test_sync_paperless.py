"""Sync against the fake Paperless over real HTTP: 3.x and 2.x, a non-UTC server clock, edits
during a sync, deletions, checksums for short texts, and every fault path ending consistent."""

from __future__ import annotations

import threading

import pytest
from dupeless.core.paperless import PaperlessUnavailable
from dupeless.core.pipeline import Pipeline
from dupeless.core.sync import sync
from dupeless.core.tasks import open_source

LONG = "word " * 30


def fill(fake, count: int = 30) -> None:
    fake.library.load_documents(
        {
            "id": i,
            "title": f"Doc {i}",
            "content": f"Document {i} {LONG}",
            "correspondent": "ACME",
            "document_type": "Invoice",
            "tags": ["inbox", f"t{i % 3}"],
            "created": "2026-10-01",
        }
        for i in range(1, count + 1)
    )


@pytest.fixture
def paperless_2x_settings(settings, fake_paperless_2x, paperless_token):
    settings.paperless.url = fake_paperless_2x.url
    settings.paperless.api_token = paperless_token
    return settings


async def run_sync(store, settings, **options):
    settings.paperless.max_retries = options.pop("retries", 3)
    settings.paperless.timeout = 2.0
    async with open_source(Pipeline(settings)) as (source, key):
        source.client.backoff_base = 0.001
        return await sync(store, source, key, **options)


@pytest.mark.parametrize("line", ["3.x", "2.x"])
async def test_full_then_incremental_sync(
    store, line, fake_paperless, fake_paperless_2x, paperless_settings
):
    fake = fake_paperless if line == "3.x" else fake_paperless_2x
    settings = paperless_settings
    settings.paperless.url = fake.url
    fill(fake)
    first = await run_sync(store, settings)
    assert (first.inserted, first.full) == (30, True)
    row = await store.fetchone("SELECT * FROM documents WHERE id = 4")
    assert (row["correspondent"], row["document_type"], row["created_date"]) == (
        "ACME",
        "Invoice",
        "2026-10-01",
    )
    assert row["modified_at"].endswith("Z")  # stored as UTC whatever the server's clock says
    tags = {
        r[0] for r in await store.fetchall("SELECT tag FROM document_tags WHERE document_id = 4")
    }
    assert tags == {"inbox", "t1"}

    fake.library.update_document(5, content=f"changed {LONG}")
    fake.requests.clear()
    second = await run_sync(store, settings)
    assert (second.inserted, second.updated, second.full) == (0, 1, False)
    assert await store.fetchval("SELECT processing_status FROM documents WHERE id = 5") == "pending"
    listing = [r for r in fake.requests if r.path == "/api/documents/"]
    assert len(listing) <= 3  # the changed page and the id listing, not the library


async def test_unchanged_library_costs_a_few_requests(store, fake_paperless, paperless_settings):
    fill(fake_paperless, 120)
    await run_sync(store, paperless_settings)
    fake_paperless.requests.clear()
    result = await run_sync(store, paperless_settings)
    assert (result.inserted, result.updated, result.deleted) == (0, 0, 0)
    assert len(fake_paperless.requests) <= 8


async def test_edit_made_while_a_sync_runs_is_caught_by_the_next(
    store, fake_paperless, paperless_settings
):
    fill(fake_paperless, 60)
    paperless_settings.paperless.page_size = 10
    paperless_settings.paperless.max_concurrency = 1
    fake_paperless.faults.slow(0.05, path="/api/documents/")
    edit = threading.Timer(
        0.15, lambda: fake_paperless.library.update_document(1, content=f"edited {LONG}")
    )
    edit.start()
    await run_sync(store, paperless_settings)
    edit.join()
    fake_paperless.faults.clear()
    await run_sync(store, paperless_settings)
    text = await store.fetchval("SELECT full_text FROM content WHERE document_id = 1")
    assert text.startswith("edited")


async def test_deletions_are_reconciled_on_an_incremental_sync(
    store, fake_paperless, paperless_settings
):
    fill(fake_paperless, 10)
    await run_sync(store, paperless_settings)
    fake_paperless.library.delete_document(3)
    result = await run_sync(store, paperless_settings)
    assert result.deleted == 1
    assert await store.fetchval("SELECT COUNT(*) FROM documents WHERE id = 3") == 0
    fake_paperless.library.restore([3])  # restored from the trash: back at the next sync
    assert (await run_sync(store, paperless_settings)).inserted == 1


async def test_checksums_are_fetched_only_for_short_texts(
    store, fake_paperless, paperless_settings
):
    fake_paperless.library.load_documents(
        [
            {"id": 1, "title": "photo", "content": "", "checksum": "a" * 64},
            {"id": 2, "title": "letter", "content": LONG, "checksum": "b" * 64},
        ]
    )
    await run_sync(store, paperless_settings)
    rows = dict(await store.fetchall("SELECT id, original_checksum FROM documents"))
    assert rows == {1: "a" * 64, 2: None}
    assert [r.path for r in fake_paperless.requests if "metadata" in r.path] == [
        "/api/documents/1/metadata/"
    ]


@pytest.mark.parametrize(
    "fault",
    [
        lambda f: f.fail_next(2, status=500),
        lambda f: f.rate_limit_next(1, retry_after=0.01),
        lambda f: f.drop_next(2),
    ],
    ids=["500", "429", "dropped"],
)
async def test_transient_faults_are_retried_and_nothing_is_lost(
    store, fake_paperless, paperless_settings, fault
):
    fill(fake_paperless, 25)
    fault(fake_paperless.faults)
    result = await run_sync(store, paperless_settings)
    assert result.inserted == 25
    assert await store.fetchval("SELECT COUNT(*) FROM content") == 25


async def test_a_failed_sync_leaves_the_store_consistent_and_the_next_one_completes(
    store, fake_paperless, paperless_settings
):
    fill(fake_paperless, 40)
    paperless_settings.paperless.page_size = 10
    paperless_settings.paperless.max_concurrency = 1
    fake_paperless.faults.fail_next(50, status=503, path="/api/documents/")
    with pytest.raises(PaperlessUnavailable):
        await run_sync(store, paperless_settings, retries=1)
    assert await store.fetchval("SELECT COUNT(*) FROM sync_state") == 0  # no cursor advanced
    documents = await store.fetchval("SELECT COUNT(*) FROM documents")
    contents = await store.fetchval("SELECT COUNT(*) FROM content")
    assert documents == contents  # never a document without its text
    fake_paperless.faults.clear()
    result = await run_sync(store, paperless_settings)
    assert result.inserted + result.unchanged == 40
    assert await store.fetchval("SELECT COUNT(*) FROM documents") == 40
