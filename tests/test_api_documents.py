"""Documents over the API: filters, pagination, one document with text and groups, stats."""

from __future__ import annotations

import pytest
from apiclient import data, error_of
from seed import add_document, add_group

pytest_plugins = ["fixtures_paperless", "fixtures_api"]


@pytest.fixture
async def library(api):
    store = api.state.store
    await add_document(
        store, 1, title="Invoice 100%", correspondent="Acme", document_type="Invoice",
        tags=["finance", "2024"], content="invoice one two three", word_count=4,
    )  # fmt: skip
    await add_document(
        store, 2, title="Invoice copy", correspondent="Acme", document_type="Invoice",
        tags=["finance"], content="invoice one two three", processing_status="pending",
    )  # fmt: skip
    await add_document(store, 3, title="Letter_x", correspondent="Bank", content="   ")
    await add_document(store, 4, title="Scan", content=None, original_size=None)
    group = await add_group(store, [1, 2], primary=2, confidence=0.95)
    return {"group": group}


def ids(response) -> list[str]:
    return [document["id"] for document in data(response)]


async def test_list_with_pagination(api, library):
    response = await api.get("/api/v1/documents?limit=2&offset=1")
    assert ids(response) == ["2", "3"]
    assert response.json()["meta"] == {"total": 4, "limit": 2, "offset": 1}
    first = data(await api.get("/api/v1/documents"))[0]
    assert first == {
        "id": "1",
        "paperlessId": 1,
        "title": "Invoice 100%",
        "correspondent": "Acme",
        "documentType": "Invoice",
        "tags": ["finance", "2024"],
        "createdDate": "2026-01-01",
        "addedDate": "2026-01-01T00:00:00.000000Z",
        "modifiedDate": "2026-01-02T03:04:05.000006Z",
        "processingStatus": "completed",
        "originalFileSize": 1000,
        "archiveFileSize": None,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("correspondent=Acme", ["1", "2"]),
        ("documentType=Invoice&processingStatus=pending", ["2"]),
        ("tag=2024", ["1"]),
        ("tag=finance&correspondent=Bank", []),
        ("search=invoice", ["1", "2"]),
        ("search=100%25", ["1"]),  # % is matched literally
        ("search=r_", ["3"]),  # and so is _
        ("noAiResult=true", ["1", "2", "3", "4"]),  # no AI results exist yet
    ],
)
async def test_filters(api, library, query, expected):
    response = await api.get(f"/api/v1/documents?{query}")
    assert ids(response) == expected
    assert response.json()["meta"]["total"] == len(expected)


async def test_one_document_with_text_and_groups(api, library):
    document = data(await api.get("/api/v1/documents/2"))
    assert document["content"] == {
        "fullText": "invoice one two three",
        "normalizedText": "invoice one two three",
        "wordCount": 4,  # not analysed yet: the raw text's words
        "contentHash": "hash-2",
    }
    assert document["groupMemberships"] == [
        {
            "groupId": library["group"],
            "confidenceScore": 0.95,
            "status": "pending",
            "isPrimary": True,
            "memberCount": 2,
        }
    ]
    assert document["fingerprint"] == "fp-2"
    assert data(await api.get("/api/v1/documents/4"))["content"] is None


@pytest.mark.parametrize("raw", ["99", "abc", "0", "-1", "99999999999999999999999", "9" * 5000])
async def test_unknown_document_is_404(api, library, raw):
    error_of(await api.get(f"/api/v1/documents/{raw}"), 404, "NOT_FOUND")
    error_of(await api.get(f"/api/v1/documents/{raw}/content"), 404, "NOT_FOUND")


async def test_content(api, library):
    assert data(await api.get("/api/v1/documents/1/content")) == {
        "documentId": "1",
        "fullText": "invoice one two three",
        "wordCount": 4,
    }
    error_of(await api.get("/api/v1/documents/3/content"), 404, "NOT_FOUND")  # blank text
    error_of(await api.get("/api/v1/documents/4/content"), 404, "NOT_FOUND")  # no text at all


async def test_stats(api, library):
    stats = data(await api.get("/api/v1/documents/stats"))
    assert stats == {
        "totalDocuments": 4,
        "ocrCoverage": {"withContent": 2, "withoutContent": 2, "percentage": 50.0},
        "processingStatus": {"pending": 1, "completed": 3},
        "correspondentDistribution": [{"name": "Acme", "count": 2}, {"name": "Bank", "count": 1}],
        "documentTypeDistribution": [{"name": "Invoice", "count": 2}],
        "tagDistribution": [{"name": "finance", "count": 2}, {"name": "2024", "count": 1}],
        "totalStorageBytes": 3000,
        "averageWordCount": 4.0,
    }


async def test_stats_of_an_empty_library(api):
    stats = data(await api.get("/api/v1/documents/stats"))
    assert stats["totalDocuments"] == 0
    assert stats["ocrCoverage"]["percentage"] == 0.0
