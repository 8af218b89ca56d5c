"""Duplicate groups over the API: list, detail, review, statistics, graph, the CSV export and
the dashboard built from them."""

from __future__ import annotations

import csv
import io

import pytest
from apiclient import data, error_of, fields
from seed import add_document, add_group

pytest_plugins = ["fixtures_paperless", "fixtures_api"]


@pytest.fixture
async def groups(api):
    """Three groups: a strong pending trio, a pending pair, an ignored pair."""
    store = api.state.store
    for document, correspondent in [(1, "Acme"), (2, "Acme"), (3, None), (4, "Bank")]:
        await add_document(
            store, document, title=f"Doc {document}", correspondent=correspondent,
            content=f"text of {document}", original_size=100 * document,
        )  # fmt: skip
    await add_document(store, 5, title="=HYPERLINK(1)", correspondent="Bank", content=None)
    await add_document(store, 6, title="Doc 6", content="six")
    await add_document(store, 7, title="Doc 7", content="seven")
    return {
        "trio": await add_group(
            store, [1, 2, 3], confidence=0.95, created_at="2026-01-01T00:00:00.000Z"
        ),
        "pair": await add_group(
            store, [4, 5], primary=5, confidence=0.81, created_at="2026-01-03T00:00:00.000Z"
        ),
        "ignored": await add_group(
            store, [6, 7], status="ignored", confidence=0.7, created_at="2026-01-02T00:00:00.000Z"
        ),
    }


def ids(response) -> list[str]:
    return [group["id"] for group in data(response)]


async def test_list_defaults_to_confidence_descending(api, groups):
    response = await api.get("/api/v1/duplicates")
    assert ids(response) == [groups["trio"], groups["pair"], groups["ignored"]]
    assert response.json()["meta"] == {"total": 3, "limit": 50, "offset": 0}
    trio = data(response)[0]
    assert trio["memberCount"] == 3
    assert trio["primaryDocumentId"] == "1"
    assert trio["primaryDocumentTitle"] == "Doc 1"
    assert trio["status"] == "pending"
    assert trio["components"] == {"jaccard": 0.95, "fuzzy": 0.95}
    assert trio["jaccardSimilarity"] == 0.95


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending", ["trio", "pair"]),
        ("status=ignored,deleted", ["ignored"]),
        ("minConfidence=0.8&maxConfidence=0.9", ["pair"]),
        ("sortBy=created_at&sortOrder=asc", ["trio", "ignored", "pair"]),
        ("sortBy=member_count&sortOrder=desc&limit=1", ["trio"]),
        ("sortBy=confidence&sortOrder=asc&offset=1", ["pair", "trio"]),
    ],
)
async def test_list_filters_and_sorts(api, groups, query, expected):
    assert ids(await api.get(f"/api/v1/duplicates?{query}")) == [groups[n] for n in expected]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=pending,reviewed", {"status"}),
        ("minConfidence=2", {"minConfidence"}),
        ("minConfidence=0.9&maxConfidence=0.1", {"minConfidence"}),
        ("sortOrder=up", {"sortOrder"}),
        ("reviewed=true", {"reviewed"}),
    ],
)
async def test_list_rejects_bad_filters(api, query, expected):
    assert fields(await api.get(f"/api/v1/duplicates?{query}")) == expected


async def test_detail_with_and_without_text(api, groups):
    group = data(await api.get(f"/api/v1/duplicates/{groups['pair']}"))
    assert [m["id"] for m in group["members"]] == ["5", "4"]  # the primary first
    assert [m["isPrimary"] for m in group["members"]] == [True, False]
    assert group["members"][1]["content"] == {
        "documentId": "4",
        "fullText": "text of 4",
        "wordCount": 3,
    }
    assert group["members"][0]["content"] is None  # no text synced
    assert group["pairs"] == [
        {
            "documentA": "4",
            "documentB": "5",
            "confidenceScore": 0.81,
            "components": {
                "similarities": {"jaccard": 0.81, "fuzzy": 0.81},
                "penalties": {},
                "exact": False,
            },
            "explanation": {},
        }
    ]
    light = data(await api.get(f"/api/v1/duplicates/{groups['pair']}?light=true"))
    assert all("content" not in member for member in light["members"])
    error_of(await api.get("/api/v1/duplicates/nope"), 404, "NOT_FOUND")


async def test_content_of_two_members(api, groups):
    response = await api.get(f"/api/v1/duplicates/{groups['trio']}/content?docA=1&docB=3")
    assert data(response) == {
        "docA": {"documentId": "1", "fullText": "text of 1", "wordCount": 3},
        "docB": {"documentId": "3", "fullText": "text of 3", "wordCount": 3},
    }
    url = f"/api/v1/duplicates/{groups['trio']}/content"
    error_of(await api.get(f"{url}?docA=1&docB=4"), 404, "NOT_FOUND")  # not a member
    error_of(await api.get(f"{url}?docA=1&docB=x"), 404, "NOT_FOUND")
    assert fields(await api.get(f"{url}?docA=1")) == {"docB"}


async def test_false_positive_remembers_every_pair_and_reverting_forgets(api, groups):
    store = api.state.store
    url = f"/api/v1/duplicates/{groups['trio']}/status"
    response = await api.put(url, json={"status": "false_positive"})
    assert data(response) == {"groupId": groups["trio"], "status": "false_positive"}
    decided = await store.fetchall(
        "SELECT document_a, document_b, decision FROM pair_decisions ORDER BY 1, 2"
    )
    assert [tuple(row) for row in decided] == [
        (1, 2, "not_duplicate"),
        (1, 3, "not_duplicate"),
        (2, 3, "not_duplicate"),
    ]
    assert data(await api.put(url, json={"status": "pending"}))["status"] == "pending"
    assert await store.fetchval("SELECT COUNT(*) FROM pair_decisions") == 0


async def test_status_errors(api, groups):
    url = f"/api/v1/duplicates/{groups['trio']}/status"
    assert fields(await api.put(url, json={"status": "resolved"})) == {"status"}
    assert fields(await api.put(url, json={})) == {"status"}
    assert fields(await api.put(url)) == {"body"}
    error_of(
        await api.put("/api/v1/duplicates/nope/status", json={"status": "ignored"}),
        404,
        "NOT_FOUND",
    )


async def test_primary(api, groups):
    url = f"/api/v1/duplicates/{groups['trio']}/primary"
    assert data(await api.put(url, json={"documentId": "3"})) == {
        "groupId": groups["trio"],
        "documentId": "3",
    }
    group = data(await api.get(f"/api/v1/duplicates/{groups['trio']}?light=true"))
    assert group["primaryDocumentId"] == "3"
    assert await api.state.store.fetchval(
        "SELECT primary_set_by_user FROM duplicate_groups WHERE id = ?", (groups["trio"],)
    )
    assert fields(await api.put(url, json={"documentId": "4"})) == {"documentId"}  # not a member
    assert fields(await api.put(url, json={"documentId": 3})) == {"documentId"}
    error_of(
        await api.put("/api/v1/duplicates/x/primary", json={"documentId": "1"}), 404, "NOT_FOUND"
    )


async def test_delete_group_keeps_documents(api, groups):
    assert data(await api.delete(f"/api/v1/duplicates/{groups['pair']}")) == {"deleted": True}
    error_of(await api.delete(f"/api/v1/duplicates/{groups['pair']}"), 404, "NOT_FOUND")
    assert await api.state.store.fetchval("SELECT COUNT(*) FROM documents") == 7
    assert await api.state.store.fetchval("SELECT COUNT(*) FROM group_members") == 5


async def test_stats(api, groups):
    stats = data(await api.get("/api/v1/duplicates/stats"))
    assert stats["totalGroups"] == 3
    assert stats["unresolvedGroups"] == 2
    assert stats["statusCounts"] == {"pending": 2, "false_positive": 0, "ignored": 1, "deleted": 0}
    buckets = {bucket["label"]: bucket["count"] for bucket in stats["confidenceDistribution"]}
    assert buckets == {"90-100%": 1, "80-90%": 1, "70-80%": 1, "60-70%": 0, "50-60%": 0, "0-50%": 0}
    assert stats["topCorrespondents"] == [
        {"correspondent": "Acme", "groupCount": 1},
        {"correspondent": "Bank", "groupCount": 1},
    ]


async def test_graph(api, groups):
    response = await api.get("/api/v1/duplicates/graph?status=pending&maxGroups=1")
    graph = data(response)
    assert response.json()["meta"] == {"totalGroups": 2, "shownGroups": 1}
    assert [group["id"] for group in graph["groups"]] == [groups["trio"]]
    assert {node["id"] for node in graph["nodes"]} == {"1", "2", "3"}
    assert {(edge["source"], edge["target"]) for edge in graph["edges"]} == {
        ("1", "2"),
        ("1", "3"),
        ("2", "3"),
    }
    assert fields(await api.get("/api/v1/duplicates/graph?maxGroups=501")) == {"maxGroups"}


async def test_csv_export_follows_the_filters(api, groups):
    response = await api.get("/api/v1/export/duplicates.csv?status=pending&sortOrder=asc")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="duplicates.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["group_id"], row["paperless_id"]) for row in rows] == [
        (groups["pair"], "5"),
        (groups["pair"], "4"),
        (groups["trio"], "1"),
        (groups["trio"], "2"),
        (groups["trio"], "3"),
    ]
    assert rows[0]["is_primary"] == "true"
    assert rows[0]["title"] == "'=HYPERLINK(1)"  # a formula is neutralised
    assert rows[2]["word_count"] == "0" and rows[2]["original_file_size"] == "100"
    assert fields(await api.get("/api/v1/export/duplicates.csv?limit=5")) == {"limit"}


async def test_dashboard(api, groups):
    assert data(await api.get("/api/v1/dashboard")) == {
        "totalDocuments": 7,
        "unresolvedGroups": 2,
        "storageSavingsBytes": 200 + 300 + 400,  # the non-primary members of pending groups
        "pendingAnalysis": 0,
        "lastSyncAt": None,
        "lastSyncDocumentCount": 0,
        "lastAnalysisAt": None,
        "totalDuplicateGroups": 3,
        "topCorrespondents": [
            {"correspondent": "Acme", "groupCount": 1},
            {"correspondent": "Bank", "groupCount": 1},
        ],
    }
