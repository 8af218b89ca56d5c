"""Duplicate groups: list, one with its members and scored pairs, review, statistics, graph.

Review decisions go through core/review.py: marking a group `false_positive` also remembers each
member pair as "not a duplicate", so no later analysis regroups them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from ..core import review
from ..core.store import Store, chunks, marks
from .api import Call, Reply, Resource
from .documents import text_of
from .envelope import ApiError, ok
from .group_query import FILTER_PARAMS, SORT_PARAMS, order_by, where
from .params import Body, Param, document_id, page_params
from .schemas import array, boolean, integer, nullable, number, obj, strict, string
from .shapes import (
    DOCUMENT,
    DOCUMENT_COLUMNS,
    GROUP,
    GROUP_COLUMNS,
    GROUP_FROM,
    GROUP_STATUS,
    PAGE_META,
    TEXT,
    document_json,
    group_json,
    stored_json,
    word_count,
)

duplicates = Resource("Duplicates")

GROUP_ID = Param("id", string(), "The group id.", location="path")
DOCUMENT_REF = string(pattern="^[1-9][0-9]{0,17}$", description="A document id.")
MEMBER = {
    "allOf": [
        DOCUMENT,
        obj(
            {"isPrimary": boolean(), "content": nullable(TEXT)},
            required=("isPrimary",),
        ),
    ]
}
PAIR = obj(
    {
        "documentA": string(),
        "documentB": string(),
        "confidenceScore": number(0, 1),
        "components": obj(),
        "explanation": obj(),
    },
    required=("documentA", "documentB", "confidenceScore", "components"),
)
GROUP_DETAIL = {
    "allOf": [GROUP, obj({"members": array(MEMBER), "pairs": array(PAIR)}, required=("members",))]
}


async def group_row(store: Store, group_id: str) -> Any:
    row = await store.fetchone(
        f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} WHERE g.id = ?", (group_id,)
    )
    if row is None:
        raise ApiError("NOT_FOUND", f"Duplicate group not found: {group_id}")
    return row


async def members_of(store: Store, group_ids: Sequence[str], *, text: bool = False) -> list[Any]:
    """Member rows (documents columns, `group_id`, `is_primary`, `word_count`, and `full_text`
    when asked), grouped by group, primary first."""
    found = []
    for chunk in chunks(list(group_ids)):
        found += await store.fetchall(
            f"SELECT gm.group_id, {DOCUMENT_COLUMNS}, c.word_count"
            f"{', c.full_text' if text else ''}, d.id = g.primary_document_id AS is_primary"
            " FROM group_members gm JOIN documents d ON d.id = gm.document_id"
            " JOIN duplicate_groups g ON g.id = gm.group_id"
            " LEFT JOIN content c ON c.document_id = d.id"
            f" WHERE gm.group_id IN ({marks(chunk)})"
            " ORDER BY gm.group_id, is_primary DESC, d.id",
            chunk,
        )
    return found


@duplicates.get(
    "/api/v1/duplicates",
    "List duplicate groups",
    query=(*page_params(), *FILTER_PARAMS, *SORT_PARAMS),
    reply=Reply(data=array(GROUP), meta=PAGE_META),
)
async def list_groups(call: Call) -> Response:
    q, store = call.query, call.app.store
    clause, params = where(q)
    total = await store.fetchval(f"SELECT COUNT(*) FROM duplicate_groups g {clause}", params)
    rows = await store.fetchall(
        f"SELECT {GROUP_COLUMNS} FROM {GROUP_FROM} {clause} {order_by(q)} LIMIT ? OFFSET ?",
        (*params, q["limit"], q["offset"]),
    )
    meta = {"total": total, "limit": q["limit"], "offset": q["offset"]}
    return ok([group_json(row) for row in rows], meta)


@duplicates.get(
    "/api/v1/duplicates/{id}",
    "One group with its members and scored pairs",
    path_params=(GROUP_ID,),
    query=(Param("light", boolean(default=False), "true: leave out the members' full text."),),
    reply=Reply(data=GROUP_DETAIL),
    errors=("NOT_FOUND",),
)
async def get_group(call: Call) -> Response:
    store, light = call.app.store, call.query["light"]
    group = await group_row(store, call.path["id"])
    members = []
    for row in await members_of(store, [group["id"]], text=not light):
        member = {**document_json(row), "isPrimary": bool(row["is_primary"])}
        if not light:
            member["content"] = _text(row)
        members.append(member)
    return ok({**group_json(group), "members": members, "pairs": await _pairs(store, group["id"])})


def _text(row: Any) -> dict[str, Any] | None:
    if row["full_text"] is None:
        return None
    return {
        "documentId": str(row["id"]),
        "fullText": row["full_text"],
        "wordCount": word_count(row["word_count"], row["full_text"]),
    }


async def _pairs(store: Store, group_id: str) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        "SELECT p.* FROM pair_scores p JOIN group_members a ON a.document_id = p.document_a"
        " JOIN group_members b ON b.document_id = p.document_b AND b.group_id = a.group_id"
        " WHERE a.group_id = ? ORDER BY p.confidence DESC, p.document_a, p.document_b",
        (group_id,),
    )
    return [
        {
            "documentA": str(row["document_a"]),
            "documentB": str(row["document_b"]),
            "confidenceScore": row["confidence"],
            "components": stored_json(row["components"]),
            "explanation": stored_json(row["explanation"]),
        }
        for row in rows
    ]


@duplicates.delete(
    "/api/v1/duplicates/{id}",
    "Forget a group (the documents stay in Paperless)",
    path_params=(GROUP_ID,),
    reply=Reply(data=obj({"deleted": boolean()}, required=("deleted",))),
    errors=("NOT_FOUND",),
)
async def delete_group(call: Call) -> Response:
    """Removes the group and its memberships; "not a duplicate" decisions are kept."""
    await review.delete_group(call.app.store, call.path["id"])
    return ok({"deleted": True})


@duplicates.get(
    "/api/v1/duplicates/{id}/content",
    "The texts of two members, side by side",
    path_params=(GROUP_ID,),
    query=(
        Param("docA", string(), "A member's document id.", required=True),
        Param("docB", string(), "Another member's document id.", required=True),
    ),
    reply=Reply(data=obj({"docA": TEXT, "docB": TEXT}, required=("docA", "docB"))),
    errors=("NOT_FOUND",),
)
async def group_content(call: Call) -> Response:
    """404 NOT_FOUND unless both documents are members of the group."""
    store = call.app.store
    group = await group_row(store, call.path["id"])
    members = {row["id"] for row in await members_of(store, [group["id"]])}
    texts = {}
    for name in ("docA", "docB"):
        raw = call.query[name]
        document = document_id(raw)
        if document not in members:
            raise ApiError("NOT_FOUND", f"Document {raw} is not a member of group {group['id']}")
        texts[name] = await text_of(store, document) or {
            "documentId": str(document),
            "fullText": "",
            "wordCount": 0,
        }
    return ok(texts)


@duplicates.put(
    "/api/v1/duplicates/{id}/status",
    "Set a group's status",
    path_params=(GROUP_ID,),
    body=Body(strict({"status": GROUP_STATUS}, required=("status",))),
    reply=Reply(data=obj({"groupId": string(), "status": GROUP_STATUS})),
    errors=("NOT_FOUND",),
)
async def put_status(call: Call) -> Response:
    """`false_positive` remembers every member pair as "not a duplicate" for later analyses."""
    status = call.body["status"]
    await review.set_group_status(call.app.store, call.path["id"], status)
    await call.app.untag_reviewed([call.path["id"]], status)
    return ok({"groupId": call.path["id"], "status": status})


@duplicates.put(
    "/api/v1/duplicates/{id}/primary",
    "Choose the document to keep",
    path_params=(GROUP_ID,),
    body=Body(strict({"documentId": DOCUMENT_REF}, required=("documentId",))),
    reply=Reply(data=obj({"groupId": string(), "documentId": string()})),
    errors=("NOT_FOUND",),
)
async def put_primary(call: Call) -> Response:
    """The document must be a member; later analyses keep this choice."""
    document = call.body["documentId"]
    await review.set_primary(call.app.store, call.path["id"], int(document))
    return ok({"groupId": call.path["id"], "documentId": document})


BUCKETS = ((0.9, 1.0), (0.8, 0.9), (0.7, 0.8), (0.6, 0.7), (0.5, 0.6), (0.0, 0.5))
TOP_CORRESPONDENTS = array(
    obj(
        {"correspondent": string(), "groupCount": integer(0)},
        required=("correspondent", "groupCount"),
    )
)
STATS = obj(
    {
        "totalGroups": integer(0),
        "unresolvedGroups": integer(0),
        "statusCounts": obj({status: integer(0) for status in review.STATUSES}),
        "confidenceDistribution": array(
            obj({"label": string(), "min": number(), "max": number(), "count": integer(0)})
        ),
        "topCorrespondents": TOP_CORRESPONDENTS,
    },
    required=("totalGroups", "statusCounts", "confidenceDistribution", "topCorrespondents"),
)


async def top_correspondents(store: Store, *, status: str | None = None) -> list[dict[str, Any]]:
    """Correspondents of the primary documents with the most groups (of one status, if given)."""
    clause, params = ("AND g.status = ?", [status]) if status else ("", [])
    rows = await store.fetchall(
        "SELECT p.correspondent, COUNT(*) AS n FROM duplicate_groups g"
        " JOIN documents p ON p.id = g.primary_document_id"
        f" WHERE p.correspondent IS NOT NULL {clause}"
        " GROUP BY p.correspondent ORDER BY n DESC, p.correspondent LIMIT 10",
        params,
    )
    return [{"correspondent": row[0], "groupCount": row[1]} for row in rows]


@duplicates.get("/api/v1/duplicates/stats", "Group statistics", reply=Reply(data=STATS))
async def group_stats(call: Call) -> Response:
    """Totals by status, confidence buckets (upper bound inclusive only for 100%), and the ten
    correspondents with the most groups."""
    return ok(await call.app.aggregates.get("duplicates/stats", call.app.store, groups_summary))


async def groups_summary(store: Store) -> dict[str, Any]:
    """The group statistics, computed from the store."""
    counts = {status: 0 for status in review.STATUSES}
    for row in await store.fetchall(
        "SELECT status, COUNT(*) FROM duplicate_groups GROUP BY status"
    ):
        counts[row[0]] = row[1]
    buckets = []
    for low, high in BUCKETS:
        upper = "<=" if high == 1.0 else "<"
        count = await store.fetchval(
            f"SELECT COUNT(*) FROM duplicate_groups WHERE confidence >= ? AND confidence {upper} ?",
            (low, high),
        )
        label = f"{round(low * 100)}-{round(high * 100)}%"
        buckets.append({"label": label, "min": low, "max": high, "count": count})
    return {
        "totalGroups": sum(counts.values()),
        "unresolvedGroups": counts["pending"],
        "statusCounts": counts,
        "confidenceDistribution": buckets,
        "topCorrespondents": await top_correspondents(store),
    }


GRAPH = obj(
    {
        "nodes": array(
            obj(
                {
                    "id": string(),
                    "paperlessId": integer(1),
                    "title": string(),
                    "correspondent": nullable(string()),
                    "groupId": string(),
                    "isPrimary": boolean(),
                },
                required=("id", "groupId", "isPrimary"),
            )
        ),
        "edges": array(
            obj(
                {
                    "source": string(),
                    "target": string(),
                    "groupId": string(),
                    "confidenceScore": number(0, 1),
                },
                required=("source", "target", "groupId", "confidenceScore"),
            )
        ),
        "groups": array(
            obj(
                {
                    "id": string(),
                    "confidenceScore": number(0, 1),
                    "status": GROUP_STATUS,
                    "memberCount": integer(0),
                }
            )
        ),
    },
    required=("nodes", "edges", "groups"),
)


@duplicates.get(
    "/api/v1/duplicates/graph",
    "Groups as a graph of documents and scored pairs",
    query=(
        *FILTER_PARAMS,
        Param("maxGroups", integer(1, 500, default=100), "The most confident groups, at most."),
    ),
    reply=Reply(data=GRAPH, meta=obj({"totalGroups": integer(0), "shownGroups": integer(0)})),
)
async def group_graph(call: Call) -> Response:
    """Nodes are member documents (a document in two groups appears once, with its first
    group), edges the scored pairs inside each group."""
    q, store = call.query, call.app.store
    clause, params = where(q)
    total = await store.fetchval(f"SELECT COUNT(*) FROM duplicate_groups g {clause}", params)
    groups = await store.fetchall(
        f"SELECT g.id, g.confidence, g.status, g.member_count FROM duplicate_groups g {clause}"
        " ORDER BY g.confidence DESC, g.id DESC LIMIT ?",
        (*params, q["maxGroups"]),
    )
    ids = [row["id"] for row in groups]
    nodes: dict[str, dict[str, Any]] = {}
    for row in await members_of(store, ids):
        nodes.setdefault(
            str(row["id"]),
            {
                "id": str(row["id"]),
                "paperlessId": row["id"],
                "title": row["title"],
                "correspondent": row["correspondent"],
                "groupId": row["group_id"],
                "isPrimary": bool(row["is_primary"]),
            },
        )
    edges = [
        {
            "source": pair["documentA"],
            "target": pair["documentB"],
            "groupId": group_id,
            "confidenceScore": pair["confidenceScore"],
        }
        for group_id in ids
        for pair in await _pairs(store, group_id)
    ]
    data = {
        "nodes": list(nodes.values()),
        "edges": edges,
        "groups": [
            {
                "id": row["id"],
                "confidenceScore": row["confidence"],
                "status": row["status"],
                "memberCount": row["member_count"],
            }
            for row in groups
        ],
    }
    return ok(data, {"totalGroups": total, "shownGroups": len(groups)})
