"""The Paperless client against the fake server over real HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from dupeless.core.config import load_settings
from dupeless.core.paperless import (
    MAX_PAGE_SIZE,
    PaperlessAuthError,
    PaperlessClient,
    PaperlessError,
    PaperlessNotFound,
    PaperlessRequestError,
    PaperlessUnavailable,
    format_instant,
    parse_date,
    parse_instant,
)

T0 = datetime(2026, 11, 22, 12, 20, 38, 691436, tzinfo=UTC)


def add(fake, n: int) -> list[int]:
    return [fake.library.add_document(title=f"Doc {i}", content=f"text {i}") for i in range(n)]


def accepts(fake) -> list[str]:
    return [request.accept for request in fake.requests]


async def warm_up(client, fake) -> None:
    """Negotiate first, then forget those requests: counts below are of the call under test."""
    await client.count_documents()
    fake.requests.clear()


# --- values ---------------------------------------------------------------------------------


def test_timestamps_parse_to_instants_and_created_to_a_date():
    assert parse_instant("2026-11-22T12:20:38.691436Z") == T0
    assert parse_instant("2026-11-22T14:20:38.691436+02:00") == T0
    assert parse_instant("2026-11-22 12:20:38.691436+00:00") == T0
    assert parse_instant("2026-11-22T12:20:38") == T0.replace(microsecond=0)
    assert parse_instant(None) is None
    assert parse_date("2026-11-22") == date(2026, 11, 22)
    assert parse_date("2026-11-22T00:00:00+02:00") == date(2026, 11, 22)  # 2.x local datetime
    assert format_instant(T0) == "2026-11-22T12:20:38.691436+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_instant(T0.replace(tzinfo=None))


def test_from_settings_reads_the_paperless_section(tmp_path):
    settings = load_settings(
        environ={
            "DATABASE_URL": str(tmp_path / "d.db"),
            "PAPERLESS_URL": "http://paperless:8000/",
            "PAPERLESS_API_TOKEN": "secret",
        }
    )
    client = PaperlessClient.from_settings(settings.paperless, max_retries=0)
    assert (client.url, client.page_size, client.max_retries) == ("http://paperless:8000", 1000, 0)
    assert "secret" not in repr(client)
    with pytest.raises(PaperlessError, match="PAPERLESS_URL is not set"):
        PaperlessClient("")
    with pytest.raises(PaperlessError, match="http"):
        PaperlessClient("paperless:8000")


# --- versions -------------------------------------------------------------------------------


async def test_negotiates_then_pins_version_on_3x(fake_paperless, paperless_client):
    assert await paperless_client.server_info() == ("3.0.5", 10)
    await paperless_client.count_documents()
    assert accepts(fake_paperless) == ["application/json", "application/json; version=10"]


async def test_negotiates_version_9_on_2x(fake_paperless_2x, paperless_client_factory):
    client = paperless_client_factory(fake_paperless_2x)
    add(fake_paperless_2x, 3)
    pages = [page async for page in client.iter_documents()]  # lists carry `all` under 9
    assert [doc["title"] for doc in pages[0]] == ["Doc 0", "Doc 1", "Doc 2"]
    assert (client.server_version, client.api_version) == ("2.20.15", 9)
    assert accepts(fake_paperless_2x)[-1] == "application/json; version=9"


async def test_refused_version_renegotiates_once(fake_paperless, paperless_client):
    add(fake_paperless, 2)
    assert await paperless_client.count_documents() == 2  # pinned to 10
    fake_paperless.set_version("2.20.15")  # a downgrade: 10 is now refused
    assert await paperless_client.count_documents() == 2
    assert paperless_client.api_version == 9
    statuses = accepts(fake_paperless)[2:]
    assert statuses == [
        "application/json; version=10",  # 406
        "application/json",  # negotiation
        "application/json; version=9",
    ]


async def test_test_connection(fake_paperless, paperless_client):
    add(fake_paperless, 3)
    assert await paperless_client.test_connection() == {
        "connected": True,
        "version": "3.0.5",
        "documentCount": 3,
    }


# --- authentication -------------------------------------------------------------------------


async def test_basic_auth(fake_paperless, paperless_client_factory):
    client = paperless_client_factory(fake_paperless, username="admin", password="admin")
    assert await client.count_documents() == 0


@pytest.mark.parametrize(
    ("credentials", "secret"),
    [
        ({"token": "wrong-token-123"}, "wrong-token-123"),
        ({"username": "admin", "password": "wrong-password"}, "wrong-password"),
        ({"token": None}, None),
    ],
)
async def test_rejected_credentials_fail_at_once(
    fake_paperless, paperless_client_factory, credentials, secret
):
    client = paperless_client_factory(fake_paperless, **credentials)
    with pytest.raises(PaperlessAuthError) as caught:
        await client.count_documents()
    assert caught.value.status == 401
    assert len(fake_paperless.requests) == 1  # never retried
    if secret:
        assert secret not in str(caught.value)


# --- lists ----------------------------------------------------------------------------------


async def test_pages_arrive_in_order_and_complete(fake_paperless, paperless_client_factory):
    ids = add(fake_paperless, 23)
    client = paperless_client_factory(fake_paperless, page_size=5)
    pages = [[doc["id"] for doc in page] async for page in client.iter_documents()]
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert [i for page in pages for i in page] == ids
    assert all("ordering=id" in r.query for r in fake_paperless.requests[1:])


async def test_pages_after_the_first_load_concurrently(fake_paperless, paperless_client_factory):
    add(fake_paperless, 20)
    client = paperless_client_factory(fake_paperless, page_size=2, max_concurrency=3)
    await warm_up(client, fake_paperless)
    fake_paperless.faults.slow(0.05)
    ids = [doc["id"] for page in [p async for p in client.iter_documents()] for doc in page]
    assert len(ids) == 20
    assert fake_paperless.injector.peak_in_flight == 3


async def test_a_list_that_shrinks_ends_at_the_invalid_page(
    fake_paperless, paperless_client_factory
):
    ids = add(fake_paperless, 12)
    client = paperless_client_factory(fake_paperless, page_size=5)
    seen = []
    async for page in client.iter_documents():
        if not seen:
            for doc_id in ids[4:]:
                fake_paperless.library.delete_document(doc_id)
        seen.extend(doc["id"] for doc in page)
    assert seen == ids[:5]
    assert any("page=2" in r.query for r in fake_paperless.requests)  # answered 404


async def test_a_list_that_grows_is_read_to_its_end(fake_paperless, paperless_client_factory):
    add(fake_paperless, 10)
    client = paperless_client_factory(fake_paperless, page_size=5, max_concurrency=1)
    seen = []
    async for page in client.iter_documents():
        if not seen:
            add(fake_paperless, 6)
        seen.extend(doc["id"] for doc in page)
    assert len(seen) == len(set(seen)) == 16


async def test_page_size_is_capped_at_paperless_maximum(fake_paperless, paperless_client_factory):
    client = paperless_client_factory(fake_paperless, page_size=10**7)
    assert client.page_size == MAX_PAGE_SIZE
    assert client.lookup_page_size == MAX_PAGE_SIZE
    await client.document_ids()
    assert f"page_size={MAX_PAGE_SIZE}" in fake_paperless.requests[-1].query


async def test_ids_and_names_are_listed_in_larger_pages(fake_paperless, paperless_client_factory):
    ids = add(fake_paperless, 7)
    for i in range(5):
        fake_paperless.library.ensure("tags", f"tag {i}")
    client = paperless_client_factory(fake_paperless, page_size=2, lookup_page_size=3)
    await warm_up(client, fake_paperless)
    assert await client.document_ids() == set(ids)
    assert len(await client.names("tags")) == 5
    assert [r.query.count("page_size=3") for r in fake_paperless.requests] == [1] * 5
    assert paperless_client_factory(fake_paperless, page_size=5000).lookup_page_size == 10_000
    assert paperless_client_factory(fake_paperless, page_size=20_000).lookup_page_size == 20_000


async def test_fields_and_document_ids(fake_paperless, paperless_client):
    ids = add(fake_paperless, 3)
    pages = [page async for page in paperless_client.iter_documents(fields=["id", "title"])]
    assert [set(doc) for doc in pages[0]] == [{"id", "title"}] * 3
    assert await paperless_client.document_ids() == set(ids)
    assert "fields=id" in fake_paperless.requests[-1].query


async def test_modified_after_with_a_non_utc_server_clock(
    fake_paperless_2x, paperless_client_factory
):
    library = fake_paperless_2x.library
    library.add_document(title="at", modified=T0)
    later = library.add_document(title="later", modified=T0 + timedelta(microseconds=1))
    client = paperless_client_factory(fake_paperless_2x)
    # The same instant in another zone than the server's: instants, not strings, are compared.
    after = T0.astimezone(timezone(timedelta(hours=-5)))
    [page] = [page async for page in client.iter_documents(modified_after=after)]
    assert [doc["id"] for doc in page] == [later]
    assert page[0]["modified"].endswith("+02:00")
    assert parse_instant(page[0]["modified"]) == T0 + timedelta(microseconds=1)


# --- documents ------------------------------------------------------------------------------


async def test_document_metadata_and_missing_ones(fake_paperless, paperless_client):
    [doc_id] = add(fake_paperless, 1)
    assert (await paperless_client.get_document(doc_id))["title"] == "Doc 0"
    assert len((await paperless_client.get_metadata(doc_id))["original_checksum"]) == 64
    assert await paperless_client.get_document(999) is None
    assert await paperless_client.get_metadata(999) is None


async def test_patch_bumps_modified(fake_paperless, paperless_client):
    [doc_id] = add(fake_paperless, 1)
    before = parse_instant((await paperless_client.get_document(doc_id))["modified"])
    tag = await paperless_client.ensure_tag("duplicate")
    patched = await paperless_client.patch_document(doc_id, title="Renamed", tags=[tag])
    assert (patched["title"], patched["tags"]) == ("Renamed", [tag])
    assert parse_instant(patched["modified"]) > before
    with pytest.raises(PaperlessRequestError) as caught:
        await paperless_client.patch_document(doc_id, tags=[999])
    assert caught.value.status == 400
    assert "does not exist" in str(caught.value)


async def test_notes(fake_paperless, paperless_client):
    [doc_id] = add(fake_paperless, 1)
    added = await paperless_client.add_note(doc_id, "Duplicate of #7")
    assert [note["note"] for note in added] == ["Duplicate of #7"]
    assert await paperless_client.notes(doc_id) == added


async def test_names_and_ensure_name(fake_paperless, paperless_client):
    fake_paperless.library.add_document(title="a", tags=["Inbox"], correspondent="ACME")
    tag = await paperless_client.ensure_tag("duplicate")
    assert await paperless_client.ensure_tag("duplicate") == tag
    assert await paperless_client.ensure_tag("inbox") == await paperless_client.ensure_tag("Inbox")
    assert await paperless_client.ensure_name("correspondents", "ACME") == 1
    assert set((await paperless_client.names("tags")).values()) == {"Inbox", "duplicate"}
    assert fake_paperless.library.entities["tags"][tag]["matching_algorithm"] == 0
    with pytest.raises(ValueError):
        await paperless_client.names("users")


async def test_delete_trash_restore_and_empty(fake_paperless, paperless_client):
    first, second, third = add(fake_paperless, 3)
    await paperless_client.delete_document(first)
    await paperless_client.delete_document(second)
    assert await paperless_client.trash_ids() == {first, second}
    assert await paperless_client.document_ids() == {third}
    with pytest.raises(PaperlessRequestError, match="not yet been deleted") as caught:
        await paperless_client.restore_from_trash([third])
    assert caught.value.status == 400
    await paperless_client.restore_from_trash([first])
    await paperless_client.empty_trash([second])
    assert await paperless_client.document_ids() == {first, third}
    await paperless_client.delete_document(third)
    await paperless_client.empty_trash()
    assert await paperless_client.trash_ids() == set()
    with pytest.raises(PaperlessNotFound):
        await paperless_client.delete_document(third)


async def test_streams(fake_paperless, paperless_client):
    doc_id = fake_paperless.library.add_document(title="scan", content="pdf text")
    preview = await paperless_client.stream_preview(doc_id)
    assert preview.content_type == "application/pdf"
    assert b"".join([chunk async for chunk in preview]).endswith(b"pdf text")
    thumb = await paperless_client.stream_thumb(doc_id)
    assert thumb.content_type == "image/webp"
    await thumb.aclose()
    with pytest.raises(PaperlessNotFound):
        await paperless_client.stream_preview(999)


@pytest.mark.parametrize("fixture", ["fake_paperless", "fake_paperless_2x"])
async def test_task_lookup_on_both_lines(request, paperless_client_factory, fixture):
    fake = request.getfixturevalue(fixture)
    [doc_id] = add(fake, 1)
    task_id = fake.library.add_task(doc_id)
    client = paperless_client_factory(fake)
    assert (await client.task(task_id))["task_id"] == task_id
    assert await client.task("00000000-0000-0000-0000-000000000000") is None


# --- faults ---------------------------------------------------------------------------------


async def test_server_errors_are_retried(fake_paperless, paperless_client):
    await warm_up(paperless_client, fake_paperless)
    fake_paperless.faults.fail_next(2, status=500)
    assert await paperless_client.count_documents() == 0
    assert len(fake_paperless.requests) == 3


async def test_rate_limit_honours_retry_after(fake_paperless, paperless_client):
    await warm_up(paperless_client, fake_paperless)
    fake_paperless.faults.rate_limit_next(1, retry_after=0.3)
    started = time.monotonic()
    assert await paperless_client.count_documents() == 0
    assert time.monotonic() - started >= 0.3  # the backoff alone would be ~0.001 s


async def test_slow_response_times_out_and_is_retried(fake_paperless, paperless_client_factory):
    client = paperless_client_factory(fake_paperless, timeout=0.2)
    await warm_up(client, fake_paperless)
    fake_paperless.faults.slow(0.5, 1)
    assert await client.count_documents() == 0
    assert len(fake_paperless.requests) == 2


async def test_dropped_connection_is_retried(fake_paperless, paperless_client):
    await warm_up(paperless_client, fake_paperless)
    fake_paperless.faults.drop_next(2)
    assert await paperless_client.count_documents() == 0
    assert len(fake_paperless.requests) == 3


async def test_failing_page_is_retried_within_a_listing(fake_paperless, paperless_client_factory):
    ids = add(fake_paperless, 9)
    client = paperless_client_factory(fake_paperless, page_size=3, lookup_page_size=3)
    await warm_up(client, fake_paperless)
    fake_paperless.faults.fail_next(1, status=502, path="/api/documents/")
    fake_paperless.faults.drop_next(1, path="/api/documents/")
    assert await client.document_ids() == set(ids)


async def test_retries_exhausted_raise_unavailable(fake_paperless, paperless_client):
    await warm_up(paperless_client, fake_paperless)
    fake_paperless.faults.fail_next(10, status=503)
    with pytest.raises(PaperlessUnavailable, match="HTTP 503") as caught:
        await paperless_client.count_documents()
    assert caught.value.status == 503
    assert len(fake_paperless.requests) == 4  # max_retries=3


async def test_unreachable_server_raises_unavailable(paperless_client_factory):
    class Nowhere:  # a port nobody listens on
        url = "http://127.0.0.1:9"

    client = paperless_client_factory(Nowhere, max_retries=1)
    with pytest.raises(PaperlessUnavailable, match="ConnectError") as caught:
        await client.count_documents()
    assert caught.value.status is None


async def test_concurrent_first_calls_negotiate_once(fake_paperless, paperless_client):
    await asyncio.gather(*(paperless_client.count_documents() for _ in range(5)))
    assert accepts(fake_paperless).count("application/json") == 1


async def test_a_post_that_may_have_arrived_is_not_repeated(fake_paperless, paperless_client):
    [doc_id] = add(fake_paperless, 1)
    await warm_up(paperless_client, fake_paperless)
    fake_paperless.faults.drop_next(1)
    with pytest.raises(PaperlessUnavailable, match="RemoteProtocolError"):
        await paperless_client.add_note(doc_id, "once")
    fake_paperless.faults.fail_next(1, status=500)
    with pytest.raises(PaperlessUnavailable) as caught:
        await paperless_client.add_note(doc_id, "once")
    assert caught.value.status == 500
    fake_paperless.faults.rate_limit_next(1, retry_after=0)
    assert [n["note"] for n in await paperless_client.add_note(doc_id, "once")] == ["once"]
    assert len(fake_paperless.requests) == 4
