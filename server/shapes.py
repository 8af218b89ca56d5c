"""The API's shapes of what several resources return: documents, groups and jobs.

Each shape is a schema (published in openapi.json) next to the function that renders a database
row into it, so the two are read and changed together. Ids: a document's `id` is its Paperless id
as a string (`paperlessId` the number); group and job ids are strings.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .schemas import (
    array,
    component,
    enum,
    integer,
    nullable,
    number,
    obj,
    string,
)

NULLABLE_STRING = nullable(string())
NULLABLE_SIZE = nullable(integer(0))
GROUP_STATUS = enum("pending", "false_positive", "ignored", "deleted")
JOB_STATUS = enum("pending", "running", "completed", "failed", "cancelled")
JOB_TYPE = enum("sync", "analysis", "batch_operation")

#: The documents columns every document shape needs (alias `d`).
DOCUMENT_COLUMNS = (
    "d.id, d.title, d.correspondent, d.document_type, d.tags, d.created_date, d.added_at,"
    " d.modified_at, d.processing_status, d.original_size, d.archive_size"
)

_DOCUMENT_PROPERTIES = {
    "id": string(description="The Paperless id, as a string."),
    "paperlessId": integer(1),
    "title": string(),
    "correspondent": NULLABLE_STRING,
    "documentType": NULLABLE_STRING,
    "tags": array(string()),
    "createdDate": NULLABLE_STRING,
    "addedDate": NULLABLE_STRING,
    "modifiedDate": NULLABLE_STRING,
    "processingStatus": enum("pending", "completed"),
    "originalFileSize": NULLABLE_SIZE,
    "archiveFileSize": NULLABLE_SIZE,
}
DOCUMENT = component("Document", obj(_DOCUMENT_PROPERTIES, required=tuple(_DOCUMENT_PROPERTIES)))


def document_json(row: Any) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "paperlessId": row["id"],
        "title": row["title"],
        "correspondent": row["correspondent"],
        "documentType": row["document_type"],
        "tags": json.loads(row["tags"]),
        "createdDate": row["created_date"],
        "addedDate": row["added_at"],
        "modifiedDate": row["modified_at"],
        "processingStatus": row["processing_status"],
        "originalFileSize": row["original_size"],
        "archiveFileSize": row["archive_size"],
    }


TEXT = component(
    "Text",
    obj(
        {"documentId": string(), "fullText": string(), "wordCount": integer(0)},
        required=("fullText", "wordCount"),
    ),
)


def word_count(stored: int, full_text: str) -> int:
    """The analysis' count of normalised words; before analysis, the raw text's words."""
    return stored or len(full_text.split())


#: The duplicate_groups columns every group shape needs (alias `g`, primary document `p`).
GROUP_COLUMNS = (
    "g.id, g.confidence, g.components, g.status, g.member_count, g.primary_document_id,"
    " g.algorithm_version, g.created_at, g.updated_at, p.title AS primary_title"
)
GROUP_FROM = "duplicate_groups g LEFT JOIN documents p ON p.id = g.primary_document_id"

_GROUP_PROPERTIES = {
    "id": string(),
    "confidenceScore": number(0, 1),
    "status": GROUP_STATUS,
    "memberCount": integer(0),
    "primaryDocumentId": NULLABLE_STRING,
    "primaryDocumentTitle": NULLABLE_STRING,
    "components": obj(
        additional=nullable(number()), description="Mean of each scorer's component."
    ),
    "jaccardSimilarity": nullable(number()),
    "fuzzyTextRatio": nullable(number()),
    "algorithmVersion": string(),
    "createdAt": string(),
    "updatedAt": string(),
}
GROUP = component("DuplicateGroup", obj(_GROUP_PROPERTIES, required=tuple(_GROUP_PROPERTIES)))


def stored_json(text: str | None) -> Any:
    """A JSON column as the API returns it: NaN (a scorer with nothing to compare) as null."""
    return _finite(json.loads(text or "{}"))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def group_json(row: Any) -> dict[str, Any]:
    components = stored_json(row["components"])
    primary = row["primary_document_id"]
    return {
        "id": row["id"],
        "confidenceScore": row["confidence"],
        "status": row["status"],
        "memberCount": row["member_count"],
        "primaryDocumentId": None if primary is None else str(primary),
        "primaryDocumentTitle": row["primary_title"],
        "components": components,
        "jaccardSimilarity": components.get("jaccard"),
        "fuzzyTextRatio": components.get("fuzzy"),
        "algorithmVersion": row["algorithm_version"],
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


_JOB_PROPERTIES = {
    "id": string(),
    "type": string(description="sync, analysis, batch_operation, ..."),
    "status": JOB_STATUS,
    "progress": number(0, 1),
    "progressMessage": NULLABLE_STRING,
    "startedAt": NULLABLE_STRING,
    "completedAt": NULLABLE_STRING,
    "errorMessage": NULLABLE_STRING,
    "resultJson": nullable(obj(description="The job's result, parsed.")),
    "createdAt": string(),
}
JOB = component("Job", obj(_JOB_PROPERTIES, required=tuple(_JOB_PROPERTIES)))


def job_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "type": row["type"],
        "status": row["status"],
        "progress": row["progress"],
        "progressMessage": row["progress_message"],
        "startedAt": row["started_at"],
        "completedAt": row["completed_at"],
        "errorMessage": row["error_message"],
        "resultJson": json.loads(row["result_json"]) if row["result_json"] else None,
        "createdAt": row["created_at"],
    }


PAGE_META = obj(
    {"total": integer(0), "limit": integer(1), "offset": integer(0)},
    required=("total", "limit", "offset"),
)
JOB_STARTED = obj({"jobId": string()}, required=("jobId",))
