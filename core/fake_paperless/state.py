"""The fake's in-memory library: documents, named entities, notes, trash and consume tasks.

Tests and the demo mutate it directly (from another thread than the server's), so every method
takes one lock. Each document's JSON is rendered once and cached until it changes; list queries,
entity lists and document counts are cached until the library next changes, and byte-identical
copies are found through a checksum index kept up to date: nothing a request or a change does
walks the whole library more than once, so a 100k-document library loads and lists in seconds.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os.path
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from attrs import define, field, frozen

KINDS = ("tags", "correspondents", "document_types", "storage_paths", "custom_fields")
#: Document fields that hold one entity id, and the kind of that entity.
SINGLE_LINKS = {
    "correspondent": "correspondents",
    "document_type": "document_types",
    "storage_path": "storage_paths",
}
ARCHIVED_MIME_PREFIXES = ("application/pdf", "image/")
OWNER_ID = 1
#: Answers (document queries, entity lists, counts) kept until the library next changes.
CACHE_SIZE = 16


@frozen
class Flavour:
    """What differs between the Paperless lines the fake imitates: 3.x or 2.x (e.g. 2.20.15)."""

    version: str = "3.0.5"

    @property
    def legacy(self) -> bool:
        return int(self.version.split(".")[0]) < 3

    @property
    def api_versions(self) -> range:
        """Versions the `Accept` header may ask for; the last is the default and `X-Api-Version`."""
        return range(1, 10) if self.legacy else range(9, 11)

    @property
    def checksum(self) -> str:
        return "md5" if self.legacy else "sha256"


@define
class Document:
    """One stored document; ids link to entities, instants are aware UTC datetimes."""

    id: int
    title: str
    content: str
    created: date
    added: datetime
    modified: datetime
    original_file_name: str
    mime_type: str
    correspondent: int | None = None
    document_type: int | None = None
    storage_path: int | None = None
    tags: list[int] = field(factory=list)
    custom_fields: list[dict[str, Any]] = field(factory=list)
    notes: list[dict[str, Any]] = field(factory=list)
    checksum: str | None = None
    archive_serial_number: int | None = None
    page_count: int | None = None
    deleted_at: datetime | None = None
    #: Caches, dropped whenever the document (or the flavour) changes.
    json: dict[str, Any] | None = None
    digest: str | None = None

    @property
    def has_archive(self) -> bool:
        return self.mime_type.startswith(ARCHIVED_MIME_PREFIXES)

    @property
    def original(self) -> bytes:
        """Stand-in bytes of the original file: deterministic, so checksums are stable."""
        return self.content.encode()

    @property
    def archive(self) -> bytes | None:
        return (
            b"%PDF-1.7\n% archived by fake Paperless\n" + self.original
            if self.has_archive
            else None
        )


class NotFound(LookupError):
    """No live document (or entity) with that id."""


class Invalid(ValueError):
    """A request the real server rejects with 400; `errors` is its body (field -> messages)."""

    def __init__(self, errors: dict[str, Any]):
        super().__init__(errors)
        self.errors = errors


class Library:
    """All state of one fake Paperless server."""

    def __init__(
        self,
        flavour: Flavour | None = None,
        *,
        utc_offset: timedelta = timedelta(0),
        clock: Callable[[], datetime] | None = None,
        user: str = "admin",
    ):
        self.flavour = flavour or Flavour()
        #: The server's clock zone: datetimes render in it (2.x installs are often not UTC).
        self.tz: tzinfo = timezone(utc_offset)
        self.user = {"id": OWNER_ID, "username": user, "first_name": "", "last_name": ""}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_now = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.RLock()
        self.documents: dict[int, Document] = {}
        self.trash: dict[int, Document] = {}
        self.entities: dict[str, dict[int, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._names: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self.tasks: dict[str, dict[str, Any]] = {}
        self._next_id: Counter[str] = Counter()
        self.revision = 0
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        #: checksum -> ids of the live documents with it; built on first use, then kept current.
        self._by_checksum: dict[str, set[int]] | None = None
        #: kind -> live documents per entity id, and what each live document adds to it; built on
        #: first use, then kept current (a recount of 100k documents per change would make every
        #: entity request after a change as slow as a listing).
        self._link_counts: dict[str, Counter[int]] | None = None
        self._counted: dict[int, dict[str, list[int]]] = {}

    # -- basics ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The clock, strictly increasing so that every change gets a later `modified`."""
        with self._lock:
            self._last_now = max(self._clock(), self._last_now + timedelta(microseconds=1))
            return self._last_now

    def _new_id(self, sequence: str, wanted: int | None = None) -> int:
        if wanted is not None:
            self._next_id[sequence] = max(self._next_id[sequence], wanted)
            return wanted
        self._next_id[sequence] += 1
        return self._next_id[sequence]

    def _changed(self, *docs: Document) -> None:
        """Drop what the change made stale: the documents' own caches, every cached answer, and
        their old checksum index entries and link counts (a document still live is counted and
        indexed again)."""
        index = self._by_checksum
        for doc in docs:
            live = self.documents.get(doc.id) is doc
            if index is not None and doc.digest is not None:
                index.get(doc.digest, set()).discard(doc.id)
            doc.json = doc.digest = None
            if index is not None and live:
                index.setdefault(self.checksum(doc), set()).add(doc.id)
            if self._link_counts is not None:
                self._count_links(doc, live)
        self.revision += 1
        self._cache.clear()

    def _count_links(self, doc: Document, live: bool) -> None:
        """Take the document's previous links out of the counts and, when live, add its current."""
        assert self._link_counts is not None
        for kind, ids in self._counted.pop(doc.id, {}).items():
            self._link_counts[kind].subtract(ids)
        if live:
            links = _links(doc)
            for kind, ids in links.items():
                self._link_counts[kind].update(ids)
            self._counted[doc.id] = links

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """`compute()`, remembered under `key` until the library next changes (LRU-bounded)."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
            else:
                self._cache[key] = compute()
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            return self._cache[key]

    def set_flavour(self, flavour: Flavour) -> None:
        """Switch between 3.x and 2.x behaviour at run time (an upgrade or a downgrade)."""
        with self._lock:
            self.flavour = flavour
            self._by_checksum = None  # computed checksums change with the algorithm
            self._changed(*self.documents.values(), *self.trash.values())

    def stamp(self, instant: datetime) -> str:
        """Render an instant as Paperless does: microseconds, `Z` in UTC, an offset otherwise."""
        text = instant.astimezone(self.tz).isoformat(timespec="microseconds")
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text

    # -- entities --------------------------------------------------------------------------

    def create_entity(self, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Create a tag, correspondent, ...; a name already taken is a 400 like Paperless'."""
        with self._lock:
            name = str(data.get("name") or "").strip()
            if not name:
                raise Invalid({"name": ["This field is required."]})
            if name in self._names[kind]:
                singular = kind.removesuffix("s").replace("_", " ")
                raise Invalid({"name": [f"{singular} with this name already exists."]})
            if kind == "custom_fields" and not data.get("data_type"):
                raise Invalid({"data_type": ["This field is required."]})
            entity = _entity_defaults(kind, name)
            entity.update({k: v for k, v in data.items() if k in entity and k != "id"})
            entity["id"] = self._new_id(kind)
            self.entities[kind][entity["id"]] = entity
            self._names[kind][name] = entity["id"]
            self._changed()
            return _render_entity(kind, entity, Counter())  # nothing links to it yet

    def ensure(self, kind: str, name: str, **extra: Any) -> int:
        """The id of the entity with this exact name, created when missing."""
        with self._lock:
            found = self._names[kind].get(name)
            if found is None:
                found = self.create_entity(kind, {"name": name, **extra})["id"]
            return found

    def _counts(self, kind: str) -> Counter[int]:
        """Live documents per entity id of one kind."""
        with self._lock:
            if self._link_counts is None:
                self._link_counts = {other: Counter() for other in KINDS}
                for doc in self.documents.values():
                    self._count_links(doc, live=True)
            return self._link_counts[kind]

    def list_entities(self, kind: str) -> list[dict[str, Any]]:
        """Entities ordered by name, as Paperless lists them."""

        def render() -> list[dict[str, Any]]:
            counts = self._counts(kind)
            ordered = sorted(self.entities[kind].values(), key=lambda e: e["name"].casefold())
            return [_render_entity(kind, entity, counts) for entity in ordered]

        return self._cached(("entities", kind), render)

    def get_entity(self, kind: str, entity_id: int) -> dict[str, Any]:
        with self._lock:
            if entity_id not in self.entities[kind]:
                raise NotFound(entity_id)
            return _render_entity(kind, self.entities[kind][entity_id], self._counts(kind))

    def statistics(self) -> dict[str, Any]:
        """What GET /api/statistics/ answers: counts over live documents, file types by count,
        inbox documents (None when no tag is an inbox tag), as Paperless' StatisticsView does."""
        with self._lock:
            docs = list(self.documents.values())
            inbox = [i for i, tag in self.entities["tags"].items() if tag.get("is_inbox_tag")]
            mime_types = Counter(doc.mime_type for doc in docs)
            return {
                "documents_total": len(docs),
                "documents_inbox": (
                    sum(1 for doc in docs if set(doc.tags) & set(inbox)) if inbox else None
                ),
                "inbox_tag": inbox[0] if inbox else None,
                "inbox_tags": inbox or None,
                "document_file_type_counts": [
                    {"mime_type": mime_type, "mime_type_count": count}
                    for mime_type, count in mime_types.most_common()
                ],
                "character_count": sum(len(doc.content) for doc in docs),
                "tag_count": len(self.entities["tags"]),
                "correspondent_count": len(self.entities["correspondents"]),
                "document_type_count": len(self.entities["document_types"]),
                "storage_path_count": len(self.entities["storage_paths"]),
                "current_asn": max((doc.archive_serial_number or 0 for doc in docs), default=0),
            }

    # -- documents -------------------------------------------------------------------------

    def add_document(
        self,
        *,
        id: int | None = None,
        title: str = "",
        content: str = "",
        correspondent: str | int | None = None,
        document_type: str | int | None = None,
        storage_path: str | int | None = None,
        tags: Iterable[str | int] = (),
        custom_fields: Mapping[str, Any] | None = None,
        created: date | str | None = None,
        added: datetime | str | None = None,
        modified: datetime | str | None = None,
        original_file_name: str | None = None,
        mime_type: str | None = None,
        checksum: str | None = None,
        page_count: int | None = None,
        archive_serial_number: int | None = None,
    ) -> int:
        """Add a document as if Paperless had consumed it; names create missing entities.

        Missing instants are now; given ones are kept (the bulk loader replays a library).
        """
        with self._lock:
            doc_id = self._new_id("documents", id)
            if doc_id in self.documents or doc_id in self.trash:
                raise ValueError(f"document {doc_id} exists already")
            now = self.now()
            file_name = original_file_name or f"{title or doc_id}.pdf"
            doc = Document(
                id=doc_id,
                title=title,
                content=content,
                created=_as_date(created) or now.astimezone(self.tz).date(),
                added=self._as_instant(added) or now,
                modified=self._as_instant(modified) or now,
                original_file_name=file_name,
                mime_type=mime_type or mimetypes.guess_type(file_name)[0] or "application/pdf",
                checksum=checksum,
                page_count=page_count,
                archive_serial_number=archive_serial_number,
            )
            self._assign(
                doc,
                correspondent=correspondent,
                document_type=document_type,
                storage_path=storage_path,
                tags=tags,
                custom_fields=self._named_custom_fields(custom_fields or {}),
            )
            self.documents[doc_id] = doc
            self._changed(doc)
            return doc_id

    def load_documents(self, records: Iterable[Mapping[str, Any]]) -> list[int]:
        """Bulk-load Paperless-shaped dicts (id, title, content, correspondent, document_type,
        tags as names, created, added, modified, original_file_name, checksum, ...)."""
        with self._lock:
            return [self.add_document(**record) for record in records]

    def update_document(self, doc_id: int, **changes: Any) -> dict[str, Any]:
        """Change fields as a PATCH does and bump `modified`; names are accepted for links."""
        with self._lock:
            doc = self._live(doc_id)
            links = {k: changes.pop(k) for k in (*SINGLE_LINKS, "tags") if k in changes}
            if "custom_fields" in changes:
                links["custom_fields"] = changes.pop("custom_fields")
            if "created" in changes:
                doc.created = _as_date(changes.pop("created")) or doc.created
            for name, value in changes.items():
                if name not in ("title", "content", "archive_serial_number", "page_count"):
                    raise ValueError(f"cannot change {name!r}")
                setattr(doc, name, value)
            self._assign(doc, **links)
            self._touch(doc)
            return self.document_json(doc_id)

    def delete_document(self, doc_id: int) -> None:
        """Move a document to the trash, as DELETE does (a soft delete saves, so `modified`
        moves too; a restore likewise)."""
        with self._lock:
            doc = self.documents.pop(self._live(doc_id).id)
            doc.deleted_at = doc.modified = self.now()
            self.trash[doc_id] = doc
            self._changed(doc)

    def restore(self, doc_ids: Iterable[int] | None = None) -> list[int]:
        return self._trash_action(doc_ids, restore=True)

    def empty_trash(self, doc_ids: Iterable[int] | None = None) -> list[int]:
        return self._trash_action(doc_ids, restore=False)

    def _trash_action(self, doc_ids: Iterable[int] | None, *, restore: bool) -> list[int]:
        with self._lock:
            ids = list(self.trash) if doc_ids is None else [int(i) for i in doc_ids]
            if any(i not in self.trash for i in ids):
                raise Invalid(
                    {"documents": ["Some documents in the list have not yet been deleted."]}
                )
            for doc_id in ids:
                doc = self.trash.pop(doc_id)
                if restore:
                    doc.deleted_at, doc.modified = None, self.now()
                    self.documents[doc_id] = doc
                self._changed(doc)
            return ids

    def add_note(self, doc_id: int, text: str) -> list[dict[str, Any]]:
        """Add a note (which bumps the document's `modified`); returns all its notes."""
        with self._lock:
            doc = self._live(doc_id)
            note_id = self._new_id("notes")
            created = self.stamp(self.now())
            doc.notes.append({"id": note_id, "note": text, "created": created, "user": self.user})
            self._touch(doc)
            return list(doc.notes)

    def notes(self, doc_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._live(doc_id).notes)

    def add_task(self, document_id: int | None, *, file_name: str = "upload.pdf") -> str:
        """Record a finished consume task (failed when there is no document); returns its UUID."""
        with self._lock:
            task_id = str(uuid.uuid4())
            done = self.stamp(self.now())
            self.tasks[task_id] = {
                "id": self._new_id("tasks"),
                "task_id": task_id,
                "task_name": "consume_file",
                "task_file_name": file_name,
                "date_created": done,
                "date_done": done,
                "type": "file",
                "succeeded": document_id is not None,
                "document_id": document_id,
            }
            return task_id

    def _render_task(self, task: dict[str, Any]) -> dict[str, Any]:
        """A task as this flavour shows it: 3.x lower-case status and `result_data`."""
        ok, doc_id = task["succeeded"], task["document_id"]
        rendered = {k: v for k, v in task.items() if k not in ("succeeded", "document_id")}
        rendered["result"] = f"Success. New document id {doc_id} created" if ok else "Failed"
        rendered["acknowledged"] = False
        rendered["owner"] = OWNER_ID
        if self.flavour.legacy:
            rendered["status"] = "SUCCESS" if ok else "FAILURE"
            rendered["related_document"] = str(doc_id) if ok else None
        else:
            rendered["status"] = "success" if ok else "failure"
            rendered["result_data"] = {"document_id": doc_id} if ok else {}
            rendered["related_document_ids"] = [doc_id] if ok else []
        return rendered

    def list_tasks(self, task_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            tasks = [t for t in self.tasks.values() if task_id in (None, t["task_id"])]
            return [self._render_task(task) for task in tasks]

    def _live(self, doc_id: int) -> Document:
        try:
            return self.documents[doc_id]
        except KeyError:
            raise NotFound(doc_id) from None

    def _touch(self, doc: Document) -> None:
        doc.modified = self.now()
        self._changed(doc)

    def _as_instant(self, value: datetime | str | None) -> datetime | None:
        """Parse a timestamp; naive ones are in the server's zone, as Django would read them."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=self.tz)).astimezone(UTC)

    def _link(self, kind: str, value: str | int | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        return self.ensure(kind, value)

    def _named_custom_fields(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [
            {"field": self.ensure("custom_fields", name, data_type="string"), "value": value}
            for name, value in values.items()
        ]

    def _assign(self, doc: Document, **links: Any) -> None:
        for name, kind in SINGLE_LINKS.items():
            if name in links:
                setattr(doc, name, self._link(kind, links[name]))
        if "tags" in links:
            doc.tags = list(dict.fromkeys(self._link("tags", tag) for tag in links["tags"]))
        if "custom_fields" in links:
            doc.custom_fields = [dict(cf) for cf in links["custom_fields"]]

    # -- rendering and queries ---------------------------------------------------------------

    def _render(self, doc: Document) -> dict[str, Any]:
        if doc.json is None:
            created = doc.created.isoformat()
            stem = _stem(doc.original_file_name)
            doc.json = {
                "id": doc.id,
                "correspondent": doc.correspondent,
                "document_type": doc.document_type,
                "storage_path": doc.storage_path,
                "title": doc.title,
                "content": doc.content,
                "tags": list(doc.tags),
                "created": created,
                "created_date": created,
                "modified": self.stamp(doc.modified),
                "added": self.stamp(doc.added),
                "deleted_at": self.stamp(doc.deleted_at) if doc.deleted_at else None,
                "archive_serial_number": doc.archive_serial_number,
                "original_file_name": doc.original_file_name,
                "archived_file_name": f"{stem}.pdf" if doc.has_archive else None,
                "owner": OWNER_ID,
                "user_can_change": True,
                "is_shared_by_requester": False,
                "notes": list(doc.notes),
                "custom_fields": [dict(cf) for cf in doc.custom_fields],
                "page_count": doc.page_count,
                "mime_type": doc.mime_type,
            }
            if not self.flavour.legacy:  # fields 3.x added (copies are filled in on detail)
                doc.json.update(duplicate_documents=[], root_document=None, versions=[])
        return doc.json

    def document_json(self, doc_id: int, *, detail: bool = False) -> dict[str, Any]:
        """One live document; the detail view adds byte-identical copies on 3.x."""
        with self._lock:
            doc = self._live(doc_id)
            rendered = self._render(doc)
            if not detail or self.flavour.legacy:
                return rendered
            copies = [
                {"id": other.id, "title": other.title, "deleted_at": None}
                for other in self._same_checksum(doc)
                if other is not doc
            ]
            return {**rendered, "duplicate_documents": copies}

    def _same_checksum(self, doc: Document) -> list[Document]:
        """Live documents with the checksum of `doc` (itself included), by id."""
        if self._by_checksum is None:
            self._by_checksum = {}
            for other in self.documents.values():
                self._by_checksum.setdefault(self.checksum(other), set()).add(other.id)
        ids = self._by_checksum.get(self.checksum(doc), set())
        return [self.documents[other] for other in sorted(ids)]

    def query(
        self, key: Hashable, select: Callable[[Iterable[Document]], list[Document]]
    ) -> list[dict[str, Any]]:
        """Rendered documents chosen and ordered by `select`, cached under `key` until the
        library next changes."""
        return self._cached(
            ("documents", key), lambda: [self._render(d) for d in select(self.documents.values())]
        )

    def list_trash(self) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self.trash.values(), key=lambda d: d.deleted_at, reverse=True)
            return [self._render(doc) for doc in ordered]

    def checksum(self, doc: Document) -> str:
        """The original's checksum: the loaded one when given, else of the stand-in bytes."""
        if doc.digest is None:
            algorithm = self.flavour.checksum
            doc.digest = doc.checksum or hashlib.new(algorithm, doc.original).hexdigest()
        return doc.digest

    def metadata(self, doc_id: int) -> dict[str, Any]:
        with self._lock:
            doc = self._live(doc_id)
            archive = doc.archive
            stem = f"{doc.id:07d}"
            return {
                "original_checksum": self.checksum(doc),
                "original_size": len(doc.original),
                "original_mime_type": doc.mime_type,
                "media_filename": stem + os.path.splitext(doc.original_file_name)[1],
                "has_archive_version": archive is not None,
                "original_metadata": [],
                "archive_checksum": (
                    hashlib.new(self.flavour.checksum, archive).hexdigest() if archive else None
                ),
                "archive_media_filename": f"{stem}.pdf" if archive else None,
                "original_filename": doc.original_file_name,
                "archive_size": len(archive) if archive else None,
                "archive_metadata": [] if archive else None,
                "lang": "en",
            }

    def file(self, doc_id: int, *, original: bool) -> tuple[bytes, str, str]:
        """(bytes, content type, file name) as preview/download serve it: the archive if any."""
        with self._lock:
            doc = self._live(doc_id)
            if doc.archive is None or original:
                return doc.original, doc.mime_type, doc.original_file_name
            return doc.archive, "application/pdf", f"{_stem(doc.original_file_name)}.pdf"


def _links(doc: Document) -> dict[str, list[int]]:
    """The entity ids a document is counted under, by kind."""
    single = {
        "correspondents": doc.correspondent,
        "document_types": doc.document_type,
        "storage_paths": doc.storage_path,
    }
    links = {kind: [value] for kind, value in single.items() if value is not None}
    links["tags"] = list(doc.tags)
    links["custom_fields"] = [cf["field"] for cf in doc.custom_fields]
    return links


def _render_entity(kind: str, entity: dict[str, Any], counts: Counter[int]) -> dict[str, Any]:
    rendered = {**entity, "document_count": counts[entity["id"]]}
    if kind == "tags":
        rendered["display_count"] = rendered["document_count"]
    return rendered


def _entity_defaults(kind: str, name: str) -> dict[str, Any]:
    """A new entity's fields as Paperless shows them (document counts are added on render)."""
    if kind == "custom_fields":
        return {"id": 0, "name": name, "data_type": "string", "extra_data": {}}
    entity: dict[str, Any] = {
        "id": 0,
        "slug": name.lower().replace(" ", "-"),
        "name": name,
        "match": "",
        "matching_algorithm": 1,
        "is_insensitive": True,
        "owner": OWNER_ID,
        "user_can_change": True,
    }
    if kind == "tags":
        entity.update(color="#a6cee3", text_color="#000000", is_inbox_tag=False)
    if kind == "storage_paths":
        entity["path"] = "{{ created_year }}/{{ title }}"
    return entity


def _stem(file_name: str) -> str:
    return os.path.splitext(file_name)[0]


def _as_date(value: date | str | None) -> date | None:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value.date() if isinstance(value, datetime) else value
