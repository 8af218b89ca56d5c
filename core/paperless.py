"""Async client for the Paperless-ngx REST API, used by every part of dupeless that talks to it.

The behaviour follows what real servers do (docs: paperless-facts.md):

- Versions: the first call goes without a version, reads `X-Api-Version`/`X-Version` and pins
  `Accept: application/json; version=N` afterwards, so 2.x (api 9) and 3.x (api 10) both work.
  A 406 (the pin was refused, e.g. after a downgrade) renegotiates once.
- Filters: Paperless silently ignores unknown filter names and then returns every document, so
  this module only ever sends names that exist (`modified__gt`, `id__in`, `ordering`, `fields`,
  `page`, `page_size`, `task_id`). Instants go out as ISO-8601 with an offset.
- Lists: after the first page gives `count`, the rest are fetched concurrently (a sliding window
  of `max_concurrency` pages) and yielded in order; a 404 past the end means the list shrank.
  Lists of small items (document ids, entity names) use larger pages than document listings.
- Failures: network errors, timeouts, 5xx and 429 are retried with full-jitter backoff (429
  honours `Retry-After`), then raise `PaperlessUnavailable`; a POST is repeated only when it
  cannot have arrived. 401/403 raise at once. Messages never carry the token or password.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import httpx

from . import __version__
from .errors import DupelessError

log = logging.getLogger("dupeless.paperless")

#: The newest API version whose shapes dupeless knows; a newer server is pinned to this one.
SUPPORTED_API_VERSION = 10
#: Paperless clamps larger page sizes silently; asking for more only hides the clamp.
MAX_PAGE_SIZE = 100_000
#: Pages of small items (`fields=id` listings, entity names): a few bytes each, so the 100k ids of
#: a large library take ten requests rather than a hundred; kept well below the maximum so that
#: the server never loads more than this many rows for one page.
LOOKUP_PAGE_SIZE = 10_000
#: Entity lists that map ids to names (`names(kind)`).
NAME_KINDS = ("tags", "correspondents", "document_types", "storage_paths", "custom_fields")
#: Kinds `ensure_name` may create: they need nothing but a name.
ENSURABLE_KINDS = ("tags", "correspondents", "document_types")
#: Paperless' "no automatic matching": a tag dupeless creates must not tag new uploads itself.
MATCH_NONE = 0
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 120.0


class PaperlessError(DupelessError):
    """A Paperless call failed; `status` is the HTTP status when there was a response."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None):
        super().__init__(message)
        self.status = status
        self.detail = detail


class PaperlessAuthError(PaperlessError):
    """Paperless rejected the credentials (401) or the user lacks permission (403)."""


class PaperlessUnavailable(PaperlessError):
    """Paperless could not be reached or kept failing (network, timeout, 5xx, 429) after retries."""


class PaperlessNotFound(PaperlessError):
    """The object does not exist (404)."""


class PaperlessRequestError(PaperlessError):
    """Paperless refused the request (another 4xx); the message carries the server's detail."""


# --- values ---------------------------------------------------------------------------------


def parse_instant(value: str | None) -> datetime | None:
    """Parse a Paperless timestamp (`Z` or an offset, any microseconds) into an aware datetime.

    A value without an offset is taken as UTC; None and "" stay None.
    """
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: str | None) -> date | None:
    """Parse `created`: a date on 3.x, a local datetime on older servers (its date part counts)."""
    return date.fromisoformat(value[:10]) if value else None


def format_instant(value: datetime) -> str:
    """An instant as Paperless filters expect it; naive datetimes are refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
    return value.isoformat()


class ByteStream:
    """An open file response (preview, thumbnail, download): headers now, bytes as they arrive.

    Iterate it once; the connection is released at the end of the iteration or by `aclose()`.
    """

    def __init__(self, response: httpx.Response):
        self._response = response
        self.content_type: str = response.headers.get("content-type", "application/octet-stream")
        length = response.headers.get("content-length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None
        self.content_disposition: str | None = response.headers.get("content-disposition")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
        except httpx.HTTPError as exc:
            raise PaperlessUnavailable(
                f"Paperless stopped sending a file: {type(exc).__name__}"
            ) from exc
        finally:
            await self._response.aclose()

    async def aclose(self) -> None:
        await self._response.aclose()


# --- the client -----------------------------------------------------------------------------

_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
#: Failures that prove the request never reached Paperless: the only ones a POST may retry.
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Methods whose repetition does no harm (PATCH sets absolute values in Paperless).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


#: Called with every new client: the extension point telemetry uses to trace and count requests.
CLIENT_HOOKS: list[Callable[[PaperlessClient], None]] = []


class PaperlessClient:
    """One connection pool to one Paperless server; use as `async with PaperlessClient(...)`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        page_size: int = 1000,
        lookup_page_size: int = LOOKUP_PAGE_SIZE,
        max_concurrency: int = 4,
        max_retries: int = 4,
        backoff_base: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not url:
            raise PaperlessError("PAPERLESS_URL is not set")
        if not url.startswith(("http://", "https://")):
            raise PaperlessError(f"PAPERLESS_URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        #: Ids and names per page: never fewer than `page_size`.
        self.lookup_page_size = max(self.page_size, min(lookup_page_size, MAX_PAGE_SIZE))
        self.max_concurrency = max(1, max_concurrency)
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        #: Filled by negotiation: the server's `X-Version` and the pinned API version.
        self.server_version: str | None = None
        self.api_version: int | None = None
        self._negotiated = False
        self._negotiation = asyncio.Lock()
        self._slots = asyncio.Semaphore(self.max_concurrency)
        self._secrets = [secret for secret in (token, password) if secret]
        headers = {"User-Agent": f"dupeless/{__version__}"}
        auth = None
        if token:
            headers["Authorization"] = f"Token {token}"
        elif username:
            auth = httpx.BasicAuth(username, password or "")
        # Streams (previews) hold a connection while a browser reads them; the extra room keeps
        # API calls from waiting on the pool behind them. The semaphore bounds real concurrency.
        limits = httpx.Limits(
            max_connections=2 * self.max_concurrency,
            max_keepalive_connections=self.max_concurrency,
        )
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout),
            limits=limits,
            transport=transport,
        )
        for hook in CLIENT_HOOKS:
            hook(self)

    @classmethod
    def from_settings(cls, paperless: Any, **overrides: Any) -> PaperlessClient:
        """Build a client from the `[paperless]` settings; keyword arguments override them."""
        options: dict[str, Any] = {
            "url": paperless.url,
            "token": paperless.api_token or None,
            "username": paperless.username or None,
            "password": paperless.password or None,
            "timeout": paperless.timeout,
            "page_size": paperless.page_size,
            "max_concurrency": paperless.max_concurrency,
            "max_retries": paperless.max_retries,
        }
        options.update(overrides)
        return cls(options.pop("url"), **options)

    def __repr__(self) -> str:
        return f"PaperlessClient({self.url!r})"

    async def __aenter__(self) -> PaperlessClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- transport ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """Remove credentials from a message, whatever put them there."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, base * 2^attempt], capped."""
        return random.uniform(0, min(MAX_BACKOFF, self.backoff_base * 2**attempt))

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
        pin: bool = True,
    ) -> httpx.Response:
        """Send one call, retrying what may be transient; returns any other response as is.

        A POST (a note, a new tag, a trash action) is repeated only when it surely did not
        arrive (no connection, or 429), so that a retry never adds a second note.
        """
        idempotent = method in _IDEMPOTENT
        retryable = _RETRYABLE_ERRORS if idempotent else _UNSENT_ERRORS
        accept = "application/json"
        if pin and self.api_version is not None:
            accept = f"application/json; version={self.api_version}"
        reason, status, error, wait = "", None, None, 0.0
        for attempt in range(self.max_retries + 1):
            if attempt:
                log.warning(
                    "Paperless %s %s: %s; retry %d/%d in %.2fs",
                    method,
                    path,
                    reason,
                    attempt,
                    self.max_retries,
                    wait,
                )
                await asyncio.sleep(wait)
            request = self._client.build_request(
                method, path, params=params, json=body, headers={"Accept": accept}
            )
            try:
                async with self._slots:
                    response = await self._client.send(request, stream=stream)
            except retryable as exc:
                reason, status, error = type(exc).__name__, None, exc
                wait = self._backoff(attempt)
                continue
            except _RETRYABLE_ERRORS as exc:  # a POST that may have arrived: do not repeat it
                reason, status, error = type(exc).__name__, None, exc
                break
            except httpx.HTTPError as exc:  # an invalid URL or protocol: retrying cannot help
                message = f"cannot call Paperless at {self.url}: {exc}"
                raise PaperlessError(self._scrub(message)) from exc
            if response.status_code != 429 and (response.status_code < 500 or not idempotent):
                return response
            await response.aclose()
            reason, status, error = f"HTTP {response.status_code}", response.status_code, None
            wait = _retry_after(response) if status == 429 else None
            wait = self._backoff(attempt) if wait is None else wait
        message = f"Paperless at {self.url} is unavailable: {reason} on {method} {path}"
        raise PaperlessUnavailable(
            self._scrub(f"{message} (after {attempt + 1} attempts)"), status=status
        ) from error

    async def _check(self, response: httpx.Response) -> httpx.Response:
        """Return a successful response; turn any other into its typed error."""
        status = response.status_code
        if status < 400:
            return response
        await response.aread()
        await response.aclose()
        detail = _detail(response)
        where = f"{response.request.method} {response.request.url.path}"
        text = self._scrub(f"{where}: HTTP {status}: {_describe(detail)}")
        if status in (401, 403):
            raise PaperlessAuthError(f"Paperless rejected the credentials: {text}", status, detail)
        if status == 404:
            raise PaperlessNotFound(f"Paperless has no such object: {text}", status, detail)
        if status >= 500:  # a POST's server error, which is not retried
            raise PaperlessUnavailable(f"Paperless failed: {text}", status, detail)
        raise PaperlessRequestError(f"Paperless refused the request: {text}", status, detail)

    async def _negotiate(self) -> int:
        """Ask without a version and pin the server's `X-Api-Version`; returns the document count.

        The probe is a one-id page, so its own (unversioned) payload shape does not matter.
        """
        async with self._negotiation:
            return await self._probe()

    async def _probe(self) -> int:
        params = {"page_size": 1, "fields": "id"}
        response = await self._check(
            await self._send("GET", "/api/documents/", params=params, pin=False)
        )
        offered = response.headers.get("x-api-version", "")
        self.api_version = min(int(offered), SUPPORTED_API_VERSION) if offered else None
        self.server_version = response.headers.get("x-version")
        self._negotiated = True
        log.debug("Paperless %s, API version %s", self.server_version, self.api_version)
        return int(response.json()["count"])

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        """One API call under the negotiated version; a refused version renegotiates once."""
        if not self._negotiated:
            async with self._negotiation:
                if not self._negotiated:
                    await self._probe()
        response = await self._send(method, path, params=params, body=body, stream=stream)
        if response.status_code == 406 and self.api_version is not None:
            await response.aclose()
            log.warning("Paperless refused API version %s; negotiating again", self.api_version)
            await self._negotiate()
            response = await self._send(method, path, params=params, body=body, stream=stream)
        return await self._check(response)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        return response.json() if response.content else None

    async def _iter_pages(
        self, path: str, params: dict[str, Any], page_size: int | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield a list endpoint's pages in order; pages after the first load concurrently.

        Pages hold `page_size` items, `self.page_size` unless given."""
        params = {**params, "page_size": page_size or self.page_size}
        first = await self._json("GET", path, params={**params, "page": 1})
        if first["results"]:
            yield first["results"]
        if not first.get("next"):
            return
        per_page = len(first["results"])  # the server may have clamped page_size
        last = -(-int(first["count"]) // per_page)
        window: deque[tuple[int, asyncio.Task[dict[str, Any] | None]]] = deque()
        upcoming = 2
        try:
            while True:
                while upcoming <= last and len(window) < self.max_concurrency:
                    task = asyncio.create_task(self._page(path, params, upcoming))
                    window.append((upcoming, task))
                    upcoming += 1
                if not window:
                    return
                number, task = window.popleft()
                page = await task
                if page is None or not page["results"]:
                    return  # the list shrank while we read it
                yield page["results"]
                if number == last and page.get("next"):
                    last += 1  # the list grew while we read it
        finally:
            for _, task in window:
                task.cancel()
            await asyncio.gather(*(task for _, task in window), return_exceptions=True)

    async def _page(self, path: str, params: dict[str, Any], number: int) -> dict[str, Any] | None:
        """One page after the first; None when it is past the end (404 "Invalid page.")."""
        try:
            return await self._json("GET", path, params={**params, "page": number})
        except PaperlessNotFound:
            return None

    async def _stream(self, path: str) -> ByteStream:
        return ByteStream(await self._request("GET", path, stream=True))

    # -- server ------------------------------------------------------------------------------

    async def server_info(self) -> tuple[str | None, int | None]:
        """(server version, pinned API version), asked afresh."""
        await self._negotiate()
        return self.server_version, self.api_version

    async def test_connection(self) -> dict[str, Any]:
        """One fresh round trip: `{"connected": True, "version": ..., "documentCount": N}`.

        Failures raise the typed errors (auth, unavailable, ...) rather than returning False.
        """
        count = await self._negotiate()
        return {"connected": True, "version": self.server_version, "documentCount": count}

    # -- documents ---------------------------------------------------------------------------

    def iter_documents(
        self,
        *,
        modified_after: datetime | None = None,
        fields: Iterable[str] | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of documents ordered by id, only those modified after an instant when given."""
        params: dict[str, Any] = {"ordering": "id"}
        if modified_after is not None:
            params["modified__gt"] = format_instant(modified_after)
        if fields is not None:
            params["fields"] = ",".join(fields)
        return self._iter_pages("/api/documents/", params, page_size)

    async def document_ids(self) -> set[int]:
        """Every document id, listed cheaply with `fields=id` in pages of `lookup_page_size`."""
        pages = self.iter_documents(fields=["id"], page_size=self.lookup_page_size)
        return {doc["id"] async for page in pages for doc in page}

    async def count_documents(self) -> int:
        page = await self._json("GET", "/api/documents/", params={"page_size": 1, "fields": "id"})
        return int(page["count"])

    async def get_document(self, document_id: int) -> dict[str, Any] | None:
        """The document's detail (with `duplicate_documents` on 3.x), or None when it is gone."""
        try:
            return await self._json("GET", f"/api/documents/{int(document_id)}/")
        except PaperlessNotFound:
            return None

    async def get_metadata(self, document_id: int) -> dict[str, Any] | None:
        """File metadata (`original_checksum`, sizes, mime type), or None when it is gone."""
        try:
            return await self._json("GET", f"/api/documents/{int(document_id)}/metadata/")
        except PaperlessNotFound:
            return None

    async def patch_document(self, document_id: int, **fields: Any) -> dict[str, Any]:
        """Change fields (title, tags, correspondent, document_type, custom_fields, ...)."""
        return await self._json("PATCH", f"/api/documents/{int(document_id)}/", body=fields)

    async def delete_document(self, document_id: int) -> None:
        """Move a document to Paperless' trash (it can be restored from there).

        PaperlessNotFound means it is not there, possibly because a retried attempt deleted it.
        """
        await self._request("DELETE", f"/api/documents/{int(document_id)}/")

    async def notes(self, document_id: int) -> list[dict[str, Any]]:
        return await self._json("GET", f"/api/documents/{int(document_id)}/notes/")

    async def add_note(self, document_id: int, text: str) -> list[dict[str, Any]]:
        """Add a note; returns the document's notes afterwards."""
        path = f"/api/documents/{int(document_id)}/notes/"
        return await self._json("POST", path, body={"note": text})

    async def stream_preview(self, document_id: int) -> ByteStream:
        """The archived (or original) file for inline display."""
        return await self._stream(f"/api/documents/{int(document_id)}/preview/")

    async def stream_thumb(self, document_id: int) -> ByteStream:
        return await self._stream(f"/api/documents/{int(document_id)}/thumb/")

    # -- names -------------------------------------------------------------------------------

    async def names(self, kind: str) -> dict[int, str]:
        """id -> name for one of NAME_KINDS."""
        if kind not in NAME_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NAME_KINDS)}, got {kind!r}")
        pages = self._iter_pages(f"/api/{kind}/", {}, self.lookup_page_size)
        return {item["id"]: item["name"] async for page in pages for item in page}

    async def entity(self, kind: str, entity_id: int) -> dict[str, Any] | None:
        """One tag, correspondent, ... by id, or None when it is gone or not visible to us."""
        if kind not in NAME_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NAME_KINDS)}, got {kind!r}")
        try:
            return await self._json("GET", f"/api/{kind}/{int(entity_id)}/")
        except PaperlessNotFound:
            return None

    async def ensure_name(self, kind: str, name: str) -> int:
        """The id of the tag, correspondent or document type with this name, created if missing.

        An exact match wins over a case-insensitive one, so existing entities are reused rather
        than duplicated. Created entities never match new uploads automatically.
        """
        if kind not in ENSURABLE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(ENSURABLE_KINDS)}, got {kind!r}")
        found = _find_name(await self.names(kind), name)
        if found is not None:
            return found
        body = {"name": name, "matching_algorithm": MATCH_NONE}
        try:
            return int((await self._json("POST", f"/api/{kind}/", body=body))["id"])
        except PaperlessRequestError:
            found = _find_name(await self.names(kind), name)  # created by someone else meanwhile
            if found is None:
                raise
            return found

    async def ensure_tag(self, name: str) -> int:
        return await self.ensure_name("tags", name)

    # -- trash and tasks ---------------------------------------------------------------------

    async def trash_ids(self) -> set[int]:
        return {doc["id"] async for page in self._iter_pages("/api/trash/", {}) for doc in page}

    async def empty_trash(self, document_ids: Iterable[int] | None = None) -> None:
        """Delete trashed documents for good; None empties the whole trash."""
        await self._trash("empty", document_ids)

    async def restore_from_trash(self, document_ids: Iterable[int]) -> None:
        await self._trash("restore", document_ids)

    async def _trash(self, action: str, document_ids: Iterable[int] | None) -> None:
        body: dict[str, Any] = {"action": action}
        if document_ids is not None:
            body["documents"] = [int(i) for i in document_ids]
        await self._request("POST", "/api/trash/", body=body)

    async def task(self, task_id: str) -> dict[str, Any] | None:
        """A consume task by its UUID (a plain list under API 9, a page under 10), or None."""
        found = await self._json("GET", "/api/tasks/", params={"task_id": task_id})
        results = found["results"] if isinstance(found, dict) else found
        return results[0] if results else None


# --- helpers --------------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header (HTTP dates are rare here and fall back to backoff)."""
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return None


def _detail(response: httpx.Response) -> Any:
    """The server's explanation: `detail` when it gives one, the whole JSON body otherwise."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    return body["detail"] if isinstance(body, dict) and set(body) == {"detail"} else body


def _describe(detail: Any) -> str:
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return text[:300] or "(no detail)"


def _find_name(names: dict[int, str], name: str) -> int | None:
    """The id of `name`: an exact match first, then a case-insensitive one, lowest id first."""
    folded = name.casefold()
    ranked = sorted(
        (existing != name, id_) for id_, existing in names.items() if existing.casefold() == folded
    )
    return ranked[0][1] if ranked else None
