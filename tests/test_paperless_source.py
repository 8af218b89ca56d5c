"""The `paperless` fetch plugin, loaded through the pipeline, against the fake server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dupeless.core.models import SourceDocument
from dupeless.core.paperless import PaperlessError
from dupeless.core.pipeline import Pipeline
from dupeless.plugins.paperless_source import PaperlessSource

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


async def open_source(settings, location: str | None = None) -> PaperlessSource:
    pipeline = Pipeline(settings, load={"paperless"}, entrypoints=False)
    return await pipeline.call(
        "dupeless_fetch_source", pipeline.provider("fetch"), settings=settings, location=location
    )


@pytest.fixture
async def source(paperless_settings):
    opened = await open_source(paperless_settings)
    yield opened
    await opened.aclose()


def invoice(library, **fields) -> int:
    return library.add_document(
        title="ACME invoice 7",
        content="Invoice 7 total 12.00",
        correspondent="ACME",
        document_type="Invoice",
        storage_path="Archive",
        tags=["inbox", "paid"],
        custom_fields={"Amount": "12.00"},
        created="2026-10-30",
        added=T0,
        modified=T0,
        original_file_name="acme-7.pdf",
        **fields,
    )


async def test_documents_resolve_names(fake_paperless, source):
    doc_id = invoice(fake_paperless.library)
    batches = [batch async for batch in source.documents()]
    assert batches == [
        [
            SourceDocument(
                id=doc_id,
                title="ACME invoice 7",
                content="Invoice 7 total 12.00",
                correspondent="ACME",
                document_type="Invoice",
                storage_path="Archive",
                tags=("inbox", "paid"),
                custom_fields=(("Amount", "12.00"),),
                created=date(2026, 10, 30),
                added=T0,
                modified=T0,
                original_file_name="acme-7.pdf",
                mime_type="application/pdf",
                checksum=None,
            )
        ]
    ]
    listed = [r for r in fake_paperless.requests if r.path == "/api/documents/"]
    assert "fields=id%2Ctitle%2Ccontent" in listed[-1].query


async def test_batches_follow_pages_and_modified_after_filters(fake_paperless, paperless_settings):
    paperless_settings.paperless.page_size = 2
    for i in range(5):
        fake_paperless.library.add_document(title=f"d{i}", modified=T0 + timedelta(seconds=i))
    source = await open_source(paperless_settings)
    try:
        sizes = [len(batch) async for batch in source.documents()]
        recent = [
            d.title async for batch in source.documents(T0 + timedelta(seconds=2)) for d in batch
        ]
    finally:
        await source.aclose()
    assert sizes == [2, 2, 1]
    assert recent == ["d3", "d4"]


async def test_document_refreshes_names_for_new_entities(fake_paperless, source):
    doc_id = invoice(fake_paperless.library)
    assert (await source.document(doc_id)).tags == ("inbox", "paid")
    fake_paperless.library.update_document(doc_id, tags=["inbox", "reviewed"])
    seen = len(fake_paperless.requests)
    assert (await source.document(doc_id)).tags == ("inbox", "reviewed")
    # Only the new tag is fetched, by id: no kind is listed again.
    paths = [r.path for r in fake_paperless.requests[seen:]]
    assert paths[0] == f"/api/documents/{doc_id}/"
    assert len(paths) == 2 and paths[1].startswith("/api/tags/") and paths[1] != "/api/tags/"
    assert await source.document(999) is None


async def test_document_ids(fake_paperless, source):
    ids = {invoice(fake_paperless.library) for _ in range(3)}
    assert await source.document_ids() == ids


async def test_location_overrides_url_and_a_missing_url_is_an_error(fake_paperless, settings):
    settings.paperless.api_token = "fake-paperless-token"
    with pytest.raises(PaperlessError, match="PAPERLESS_URL is not set"):
        await open_source(settings)
    source = await open_source(settings, location=fake_paperless.url)
    try:
        assert await source.document_ids() == set()
    finally:
        await source.aclose()


async def test_a_single_document_fetches_only_the_entities_it_names(fake_paperless, source):
    fake_paperless.library.ensure("tags", "unrelated")
    doc_id = invoice(fake_paperless.library)
    document = await source.document(doc_id)
    assert (document.correspondent, document.tags) == ("ACME", ("inbox", "paid"))
    assert document.custom_fields == (("Amount", "12.00"),)
    paths = [r.path for r in fake_paperless.requests]
    # No kind is listed: each entity the document names is one request by id.
    assert not {"/api/tags/", "/api/correspondents/", "/api/document_types/"} & set(paths)
    by_id = [path for path in paths if path.count("/") == 4 and "/documents/" not in path]
    assert len(by_id) == 6  # correspondent, type, storage path, two tags, custom field
