"""Documents as synced from Paperless: list with filters, one with its text and groups, stats.

`noAiResult`: there is no AI results table yet, so every document counts as having no AI result;
`noAiResult=true` therefore filters nothing (and false never filters, as in the contract).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from ..core.store import Store
from .api import Call, Reply, Resource
from .envelope import ApiError, ok
from .params import Param, document_id, page_params
from .schemas import array, boolean, enum, integer, nullable, number, obj, string
from .shapes import (
    DOCUMENT,
    DOCUMENT_COLUMNS,
    GROUP_STATUS,
    PAGE_META,
    TEXT,
    document_json,
    word_count,
)

documents = Resource("Documents")

DOCUMENT_ID = Param("id", string(), "The Paperless id.", location="path")
CONTENT = obj(
    {
        "fullText": string(),
        "normalizedText": string(),
        "wordCount": integer(0),
        "contentHash": string(),
    },
    required=("fullText", "normalizedText", "wordCount", "contentHash"),
)
MEMBERSHIP = obj(
    {
        "groupId": string(),
        "confidenceScore": number(0, 1),
        "status": GROUP_STATUS,
        "isPrimary": boolean(),
        "memberCount": integer(0),
    },
    required=("groupId", "confidenceScore", "status", "isPrimary", "memberCount"),
)
DOCUMENT_DETAIL = {
    "allOf": [
        DOCUMENT,
        obj(
            {
                "storagePath": nullable(string()),
                "customFields": array(obj({"name": string(), "value": {}})),
                "originalFileName": nullable(string()),
                "mimeType": nullable(string()),
                "originalChecksum": nullable(string()),
                "fingerprint": string(),
                "syncedAt": string(),
                "content": nullable(CONTENT),
                "groupMemberships": array(MEMBERSHIP),
            },
            required=("content", "groupMemberships"),
        ),
    ]
}


@documents.get(
    "/api/v1/documents",
    "List documents",
    query=(
        *page_params(),
        Param("correspondent", string(), "Exact correspondent name."),
        Param("documentType", string(), "Exact document type name."),
        Param("tag", string(), "Documents with this tag."),
        Param("processingStatus", enum("pending", "completed")),
        Param("search", string(), "Substring of the title (case-insensitive)."),
        Param("noAiResult", boolean(), "true: only documents without an AI result (all, today)."),
    ),
    reply=Reply(data=array(DOCUMENT), meta=PAGE_META),
)
async def list_documents(call: Call) -> Response:
    """Ordered by Paperless id."""
    q = call.query
    clauses, params = [], []
    for name, column in (
        ("correspondent", "d.correspondent"),
        ("documentType", "d.document_type"),
        ("processingStatus", "d.processing_status"),
    ):
        if q[name] is not None:
            clauses.append(f"{column} = ?")
            params.append(q[name])
    if q["tag"] is not None:
        clauses.append("d.id IN (SELECT document_id FROM document_tags WHERE tag = ?)")
        params.append(q["tag"])
    if q["search"]:
        clauses.append("d.title LIKE ? ESCAPE '\\'")
        params.append("%" + _escape_like(q["search"]) + "%")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    store = call.app.store
    total = await store.fetchval(f"SELECT COUNT(*) FROM documents d {where}", params)
    rows = await store.fetchall(
        f"SELECT {DOCUMENT_COLUMNS} FROM documents d {where} ORDER BY d.id LIMIT ? OFFSET ?",
        (*params, q["limit"], q["offset"]),
    )
    meta = {"total": total, "limit": q["limit"], "offset": q["offset"]}
    return ok([document_json(row) for row in rows], meta)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _document_row(store: Store, raw_id: str, columns: str = DOCUMENT_COLUMNS) -> Any:
    row = await store.fetchone(
        f"SELECT {columns} FROM documents d WHERE d.id = ?", (document_id(raw_id),)
    )
    if row is None:
        raise ApiError("NOT_FOUND", f"Document not found: {raw_id}")
    return row


@documents.get(
    "/api/v1/documents/{id}",
    "One document with its text and group memberships",
    path_params=(DOCUMENT_ID,),
    reply=Reply(data=DOCUMENT_DETAIL),
    errors=("NOT_FOUND",),
)
async def get_document(call: Call) -> Response:
    store = call.app.store
    row = await _document_row(
        store,
        call.path["id"],
        f"{DOCUMENT_COLUMNS}, d.storage_path, d.custom_fields, d.original_file_name, d.mime_type,"
        " d.original_checksum, d.fingerprint, d.synced_at",
    )
    content = await store.fetchone("SELECT * FROM content WHERE document_id = ?", (row["id"],))
    groups = await store.fetchall(
        "SELECT g.id, g.confidence, g.status, g.member_count, g.primary_document_id"
        " FROM group_members gm JOIN duplicate_groups g ON g.id = gm.group_id"
        " WHERE gm.document_id = ? ORDER BY g.confidence DESC, g.id",
        (row["id"],),
    )
    return ok(
        {
            **document_json(row),
            "storagePath": row["storage_path"],
            "customFields": [
                {"name": name, "value": value} for name, value in json.loads(row["custom_fields"])
            ],
            "originalFileName": row["original_file_name"],
            "mimeType": row["mime_type"],
            "originalChecksum": row["original_checksum"],
            "fingerprint": row["fingerprint"],
            "syncedAt": row["synced_at"],
            "content": None if content is None else _content(content),
            "groupMemberships": [
                {
                    "groupId": group["id"],
                    "confidenceScore": group["confidence"],
                    "status": group["status"],
                    "isPrimary": group["primary_document_id"] == row["id"],
                    "memberCount": group["member_count"],
                }
                for group in groups
            ],
        }
    )


def _content(row: Any) -> dict[str, Any]:
    return {
        "fullText": row["full_text"],
        "normalizedText": row["normalized_text"],
        "wordCount": word_count(row["word_count"], row["full_text"]),
        "contentHash": row["content_hash"],
    }


@documents.get(
    "/api/v1/documents/{id}/content",
    "A document's text",
    path_params=(DOCUMENT_ID,),
    reply=Reply(data=TEXT),
    errors=("NOT_FOUND",),
)
async def get_content(call: Call) -> Response:
    """404 NOT_FOUND when the document has no text (nothing synced, or an empty OCR result)."""
    row = await _document_row(call.app.store, call.path["id"], "d.id")
    text = await text_of(call.app.store, row["id"])
    if text is None:
        raise ApiError("NOT_FOUND", f"Document {row['id']} has no text content")
    return ok(text)


async def text_of(store: Store, document: int) -> dict[str, Any] | None:
    """The TEXT shape of a document, or None when it has no text."""
    row = await store.fetchone(
        "SELECT full_text, word_count FROM content WHERE document_id = ?", (document,)
    )
    if row is None or not row["full_text"].strip():
        return None
    return {
        "documentId": str(document),
        "fullText": row["full_text"],
        "wordCount": word_count(row["word_count"], row["full_text"]),
    }


DISTRIBUTION = array(obj({"name": string(), "count": integer(0)}, required=("name", "count")))
STATS = obj(
    {
        "totalDocuments": integer(0),
        "ocrCoverage": obj(
            {"withContent": integer(0), "withoutContent": integer(0), "percentage": number(0, 100)}
        ),
        "processingStatus": obj({"pending": integer(0), "completed": integer(0)}),
        "correspondentDistribution": DISTRIBUTION,
        "documentTypeDistribution": DISTRIBUTION,
        "tagDistribution": DISTRIBUTION,
        "totalStorageBytes": integer(0),
        "averageWordCount": number(0),
    },
    required=("totalDocuments", "ocrCoverage", "processingStatus", "totalStorageBytes"),
)
TOP = 10


@documents.get("/api/v1/documents/stats", "Document statistics", reply=Reply(data=STATS))
async def document_stats(call: Call) -> Response:
    """Distributions list the ten most frequent values; word counts are the analysed ones."""
    return ok(await call.app.aggregates.get("documents/stats", call.app.store, documents_summary))


async def documents_summary(store: Store) -> dict[str, Any]:
    """The document statistics, computed from the store."""
    total = await store.fetchval("SELECT COUNT(*) FROM documents")
    # Counted through the partial index: the planner would otherwise read every text.
    with_content = await store.fetchval(
        "SELECT COUNT(*) FROM content INDEXED BY content_with_text WHERE TRIM(full_text) != ''"
    )
    statuses = {
        row[0]: row[1]
        for row in await store.fetchall(
            "SELECT processing_status, COUNT(*) FROM documents GROUP BY processing_status"
        )
    }
    return {
        "totalDocuments": total,
        "ocrCoverage": {
            "withContent": with_content,
            "withoutContent": total - with_content,
            "percentage": round(100 * with_content / total, 1) if total else 0.0,
        },
        "processingStatus": {
            "pending": statuses.get("pending", 0),
            "completed": statuses.get("completed", 0),
        },
        "correspondentDistribution": await _distribution(store, "documents", "correspondent"),
        "documentTypeDistribution": await _distribution(store, "documents", "document_type"),
        "tagDistribution": await _distribution(store, "document_tags", "tag"),
        "totalStorageBytes": await store.fetchval(
            "SELECT COALESCE(SUM(original_size), 0) FROM documents"
        ),
        "averageWordCount": round(
            await store.fetchval(
                "SELECT COALESCE(AVG(word_count), 0) FROM content WHERE word_count > 0"
            ),
            1,
        ),
    }


async def _distribution(store: Store, table: str, column: str) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        f"SELECT {column}, COUNT(*) AS n FROM {table} WHERE {column} IS NOT NULL"
        f" GROUP BY {column} ORDER BY n DESC, {column} LIMIT ?",
        (TOP,),
    )
    return [{"name": row[0], "count": row[1]} for row in rows]
