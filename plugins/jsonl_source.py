"""The `jsonl` fetch source: one JSON object per line with Paperless document fields.

It makes dupeless usable offline (`dupeless analyze --source jsonl:PATH`) and is the benchmark's
input format. Fields: id, title, content, correspondent, document_type, tags (names), created,
added, modified, original_file_name, and optional checksum.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dupeless.core.errors import DupelessError
from dupeless.core.hookspecs import hookimpl
from dupeless.core.models import SourceDocument

BATCH_SIZE = 1000


def parse_instant(value: str | None) -> datetime | None:
    """Parse an ISO-8601 timestamp (`Z` or an offset); None stays None."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def document_from_json(record: dict[str, Any]) -> SourceDocument:
    """Build a SourceDocument from one Paperless-shaped JSON object."""
    created = record.get("created")
    return SourceDocument(
        id=int(record["id"]),
        title=record.get("title") or "",
        content=record.get("content") or "",
        correspondent=record.get("correspondent"),
        document_type=record.get("document_type"),
        tags=tuple(record.get("tags") or ()),
        created=date.fromisoformat(created[:10]) if created else None,
        added=parse_instant(record.get("added")),
        modified=parse_instant(record.get("modified")),
        original_file_name=record.get("original_file_name"),
        checksum=record.get("checksum"),
    )


class JsonlSource:
    """Reads a JSONL file (parsed once per change); `modified_after` filters by `modified`."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise DupelessError(f"jsonl source: no such file: {path}")
        self.path = path
        self._parsed: tuple[float, dict[int, SourceDocument]] | None = None

    def _read(self) -> dict[int, SourceDocument]:
        """The file's documents by id, in file order, parsed again only when the file changed."""
        changed = self.path.stat().st_mtime
        if self._parsed is None or self._parsed[0] != changed:
            self._parsed = (changed, {d.id: d for d in self._parse()})
        return self._parsed[1]

    def _parse(self) -> list[SourceDocument]:
        documents = []
        with self.path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    documents.append(document_from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    raise DupelessError(f"{self.path}:{number}: not a document ({exc})") from None
        return documents

    async def documents(
        self, modified_after: datetime | None = None
    ) -> AsyncIterator[list[SourceDocument]]:
        documents = list(self._read().values())
        if modified_after is not None:
            documents = [d for d in documents if d.modified and d.modified > modified_after]
        for start in range(0, len(documents), BATCH_SIZE):
            yield documents[start : start + BATCH_SIZE]

    async def document(self, document_id: int) -> SourceDocument | None:
        return self._read().get(document_id)

    async def document_ids(self) -> set[int]:
        return set(self._read())

    async def checksums(self, document_ids: list[int]) -> dict[int, str]:
        documents = self._read()
        found = (documents.get(document_id) for document_id in document_ids)
        return {d.id: d.checksum for d in found if d is not None and d.checksum}

    async def aclose(self) -> None:
        """Nothing to release: the file is opened per call."""


@hookimpl
def dupeless_fetch_source(settings, plugin_config, location):
    path = location or plugin_config.get("path")
    if not path:
        raise DupelessError(
            "jsonl source needs a path: --source jsonl:PATH or [plugins.jsonl] path"
        )
    return JsonlSource(Path(path))
