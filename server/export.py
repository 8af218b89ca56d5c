"""Export and import: the duplicate groups as CSV, the configuration as a JSON backup.

The CSV has one row per group member and takes the same filters and sort order as
GET /duplicates; it is streamed a page of groups at a time, so a large library never sits in
memory. Text cells starting with = + - @ are prefixed with ' so a spreadsheet shows them rather
than running them as formulas.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from ..core.dedup_config import KEY_PREFIX, as_api, load_dedup
from ..core.store import Store, utcnow
from .api import Call, Reply, Resource
from .config import CONFIG_META, KEY, VALUE, config_map, write_config
from .dedup import DEDUP, DEDUP_CHANGE
from .duplicates import members_of
from .envelope import ok
from .group_query import FILTER_PARAMS, SORT_PARAMS, order_by, where
from .params import Body
from .schemas import boolean, integer, obj, strict, string

transfer = Resource("Export and import")

BACKUP_VERSION = "1.0"
PAGE = 200
COLUMNS = (
    "group_id",
    "confidence_score",
    "status",
    "jaccard_similarity",
    "fuzzy_text_ratio",
    "member_count",
    "is_primary",
    "paperless_id",
    "title",
    "correspondent",
    "document_type",
    "tags",
    "created_date",
    "original_file_size",
    "word_count",
    "group_created_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@transfer.get(
    "/api/v1/export/duplicates.csv",
    "Download duplicate groups as CSV",
    query=(*FILTER_PARAMS, *SORT_PARAMS),
    reply=Reply(media={"text/csv": string()}, description="One row per group member."),
)
async def export_csv(call: Call) -> Response:
    clause, params = where(call.query)
    rows = _csv_rows(call.app.store, clause, params, order_by(call.query))
    headers = {"Content-Disposition": 'attachment; filename="duplicates.csv"'}
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


async def _csv_rows(store: Store, clause: str, params: list[Any], order: str) -> AsyncIterator[str]:
    yield _line(COLUMNS)
    offset = 0
    while True:
        groups = await store.fetchall(
            "SELECT g.id, g.confidence, g.status, g.components, g.member_count, g.created_at"
            f" FROM duplicate_groups g {clause} {order} LIMIT ? OFFSET ?",
            (*params, PAGE, offset),
        )
        if not groups:
            return
        offset += len(groups)
        by_group: dict[str, list[Any]] = {}
        for member in await members_of(store, [group["id"] for group in groups]):
            by_group.setdefault(member["group_id"], []).append(member)
        lines = []
        for group in groups:
            components = json.loads(group["components"] or "{}")
            for member in by_group.get(group["id"], []):
                lines.append(
                    _line(
                        (
                            group["id"],
                            group["confidence"],
                            group["status"],
                            components.get("jaccard", ""),
                            components.get("fuzzy", ""),
                            group["member_count"],
                            "true" if member["is_primary"] else "false",
                            member["id"],
                            _cell(member["title"]),
                            _cell(member["correspondent"]),
                            _cell(member["document_type"]),
                            _cell("|".join(json.loads(member["tags"]))),
                            member["created_date"],
                            member["original_size"],
                            member["word_count"],
                            group["created_at"],
                        )
                    )
                )
        yield "".join(lines)


def _line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


def _cell(text: str | None) -> str | None:
    """Neutralise spreadsheet formulas in free text."""
    return "'" + text if text and text.startswith(_FORMULA_START) else text


BACKUP = obj(
    {
        "version": string(),
        "exportedAt": string(),
        "appConfig": obj(additional=string()),
        "dedupConfig": DEDUP,
    },
    required=("version", "exportedAt", "appConfig", "dedupConfig"),
)


@transfer.get(
    "/api/v1/export/config.json",
    "Download the configuration as a JSON backup",
    reply=Reply(media={"application/json": BACKUP}),
)
async def export_config(call: Call) -> Response:
    """The runtime key/value map and the dedup settings in effect (secrets are never in it)."""
    app = call.app
    backup = {
        "version": BACKUP_VERSION,
        "exportedAt": utcnow(),
        "appConfig": await config_map(app),
        "dedupConfig": as_api(await load_dedup(app.store, app.settings)),
    }
    headers = {"Content-Disposition": 'attachment; filename="dupeless-config.json"'}
    return JSONResponse(backup, headers=headers)


@transfer.post(
    "/api/v1/import/config",
    "Restore a configuration backup",
    body=Body(
        strict(
            {
                "version": string(),
                "exportedAt": string(),
                "appConfig": obj(additional=VALUE, propertyNames=KEY),
                "dedupConfig": {**DEDUP_CHANGE, "minProperties": 0},
            }
        ),
        description="The JSON of GET /export/config.json.",
    ),
    reply=Reply(
        data=obj(
            {"appConfigKeys": integer(0), "dedupConfigUpdated": boolean()},
            required=("appConfigKeys", "dedupConfigUpdated"),
        ),
        meta=CONFIG_META,
    ),
)
async def import_config(call: Call) -> Response:
    """Validated as a whole before anything is written: `dedup.*` keys and `dedupConfig` go
    through the same checks as PUT /config/dedup (`dedupConfig` wins where both set a value)."""
    app_config = call.body.get("appConfig") or {}
    dedup = call.body.get("dedupConfig") or {}
    entries = {**app_config, **{KEY_PREFIX + name: value for name, value in dedup.items()}}
    meta = await write_config(call.app, entries) if entries else {}
    return ok({"appConfigKeys": len(app_config), "dedupConfigUpdated": bool(dedup)}, meta or None)
