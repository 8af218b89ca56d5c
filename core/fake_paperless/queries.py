"""How the fake reads list requests: document filters, ordering, `fields` and pagination.

Only filters real Paperless has are understood, and, as in Paperless, every other query
parameter is ignored silently (a typo in a client's filter name then returns everything).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from attrs import frozen
from starlette.requests import Request

from .state import Document

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100_000
INSTANT_FIELDS = ("modified", "added")
LOOKUPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
ORDERING_FIELDS = (
    "id",
    "title",
    "created",
    "modified",
    "added",
    "archive_serial_number",
    "page_count",
)
DEFAULT_ORDERING = ("-created",)


class ApiError(Exception):
    """An HTTP error response with Paperless' JSON body."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


@frozen
class DocumentQuery:
    """The document filters and ordering of one request; hashable, so results can be cached."""

    instants: tuple[tuple[str, str, datetime], ...] = ()
    ids: frozenset[int] | None = None
    ordering: tuple[str, ...] = DEFAULT_ORDERING

    @classmethod
    def parse(cls, params: Mapping[str, str], tz: tzinfo) -> DocumentQuery:
        """Read known filters; malformed values are 400s with Django's messages.

        Empty values are skipped, as django-filter does.
        """
        instants = []
        for name in INSTANT_FIELDS:
            for lookup in LOOKUPS:
                key = f"{name}__{lookup}"
                if params.get(key):
                    instants.append((name, lookup, _instant(key, params[key], tz)))
        ids: frozenset[int] | None = None
        if params.get("id__in"):
            ids = frozenset(_ints("id__in", params["id__in"].split(",")))
        if params.get("id"):
            exact = frozenset(_ints("id", [params["id"]]))
            ids = exact if ids is None else ids & exact
        wanted = [f.strip() for f in params.get("ordering", "").split(",") if f.strip()]
        ordering = tuple(f for f in wanted if f.removeprefix("-") in ORDERING_FIELDS)
        return cls(tuple(instants), ids, ordering or DEFAULT_ORDERING)

    def __call__(self, docs: Iterable[Document]) -> list[Document]:
        """Filter and order documents (the `select` of `Library.query`)."""
        chosen = [doc for doc in docs if self._matches(doc)]
        chosen.sort(key=lambda doc: doc.id)  # a stable tie-break, so pages never overlap
        for name in reversed(self.ordering):
            field = name.removeprefix("-")
            chosen.sort(key=lambda doc: _sort_key(getattr(doc, field)), reverse=name[0] == "-")
        return chosen

    def _matches(self, doc: Document) -> bool:
        if self.ids is not None and doc.id not in self.ids:
            return False
        return all(
            LOOKUPS[lookup](getattr(doc, name), value) for name, lookup, value in self.instants
        )


def _instant(key: str, value: str, tz: tzinfo) -> datetime:
    """Parse a filter instant; naive values are in the server's zone, as Django reads them."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, {key: ["Enter a valid date/time."]}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _ints(key: str, values: Iterable[str]) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        raise ApiError(400, {key: ["Enter a number."]}) from None


def _sort_key(value: Any) -> tuple[bool, Any]:
    return (value is not None, value)


def project(items: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Apply `?fields=a,b`: only the named (existing) fields remain, as in Paperless."""
    if "fields" not in params:
        return items
    wanted = [name for name in params["fields"].split(",") if name]
    return [{name: item[name] for name in wanted if name in item} for item in items]


def paginate(request: Request, items: list[dict[str, Any]], *, with_all: bool) -> dict[str, Any]:
    """One page as DRF's PageNumberPagination renders it (plus `all` under API 9 and older).

    `page_size` is clamped to 100000 and invalid values fall back to 25; a page past the end,
    or one that is not a number, is 404 "Invalid page.".
    """
    params = request.query_params
    size = _page_size(params.get("page_size"))
    pages = max(1, -(-len(items) // size))
    raw = params.get("page", "1")
    number = pages if raw == "last" else int(raw) if raw.isdigit() else 0
    if not 1 <= number <= pages:
        raise ApiError(404, {"detail": "Invalid page."})
    url = request.url
    previous = None
    if number == 2:
        previous = str(url.remove_query_params("page"))
    elif number > 2:
        previous = str(url.include_query_params(page=number - 1))
    body: dict[str, Any] = {
        "count": len(items),
        "next": str(url.include_query_params(page=number + 1)) if number < pages else None,
        "previous": previous,
    }
    if with_all:
        body["all"] = [item["id"] for item in items]
    body["results"] = project(items[(number - 1) * size : number * size], params)
    return body


def _page_size(raw: str | None) -> int:
    try:
        size = int(raw or "")
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE) if size > 0 else DEFAULT_PAGE_SIZE
