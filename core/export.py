"""`dupeless export duplicates`: the groups as JSON (the benchmark's interface) or CSV.

JSON: `{"groups": [{"id", "confidence", "status", "members": [paperless ids], "primary": id,
"components": {...}}]}`; CSV: one row per group member.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from .store import Store

CSV_COLUMNS = ("group_id", "confidence", "status", "is_primary", "paperless_id", "title")


async def load_groups(store: Store) -> list[dict[str, Any]]:
    """Every group with its members, highest confidence first."""
    groups = {
        row["id"]: {
            "id": row["id"],
            "confidence": row["confidence"],
            "status": row["status"],
            "members": [],
            "primary": row["primary_document_id"],
            "components": json.loads(row["components"]),
        }
        for row in await store.fetchall(
            "SELECT * FROM duplicate_groups ORDER BY confidence DESC, created_at, id"
        )
    }
    for group_id, document_id in await store.fetchall(
        "SELECT group_id, document_id FROM group_members ORDER BY document_id"
    ):
        groups[group_id]["members"].append(document_id)
    return list(groups.values())


async def export_groups(database: Path, fmt: str) -> str:
    """The groups in `fmt` ("json" or "csv")."""
    store = await Store.open(database, migrate=False)
    try:
        groups = await load_groups(store)
        titles = dict(await store.fetchall("SELECT id, title FROM documents"))
    finally:
        await store.close()
    if fmt == "json":
        return json.dumps({"groups": groups}, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for group in groups:
        for member in group["members"]:
            is_primary = member == group["primary"]
            writer.writerow(
                (
                    group["id"],
                    group["confidence"],
                    group["status"],
                    is_primary,
                    member,
                    titles.get(member, ""),
                )
            )
    return out.getvalue()
