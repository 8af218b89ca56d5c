"""What every request handler can reach: settings, store, pipeline, jobs, one Paperless client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from attrs import define, field

from ..core.config import PaperlessSettings, Settings
from ..core.jobs import JobRunner
from ..core.paperless import PaperlessClient, PaperlessError
from ..core.pipeline import Pipeline
from ..core.store import Store
from ..core.writeback import UNTAG_STATUSES, untag_reviewed_groups


@define
class AppState:
    """`request.app.state.dupeless`; built by the app's lifespan."""

    settings: Settings
    store: Store
    pipeline: Pipeline
    jobs: JobRunner
    #: True when the Paperless behind the API is the built-in sample library.
    demo: bool = False
    aggregates: AggregateCache = field(factory=lambda: AggregateCache())
    _paperless: PaperlessClient | None = field(default=None, alias="_paperless")

    def paperless(self) -> PaperlessClient:
        """The shared client (one connection pool, one version negotiation), made on first use.

        Raises PaperlessError (502 BAD_GATEWAY) when no Paperless URL is configured.
        """
        if self._paperless is None:
            self._paperless = PaperlessClient.from_settings(self.settings.paperless)
        return self._paperless

    async def untag_reviewed(self, group_ids: list[str], status: str) -> None:
        """Take the write-back's duplicate tag off groups a review just cleared."""
        if (
            status in UNTAG_STATUSES
            and self.settings.hooks.write_back
            and self.settings.paperless.url
        ):
            await untag_reviewed_groups(
                self.settings, self.store, self.paperless(), group_ids, status
            )

    async def aclose(self) -> None:
        if self._paperless is not None:
            await self._paperless.aclose()


class AggregateCache:
    """Dashboard and statistics answers, recomputed only when the database has changed.

    They aggregate the whole library, and clients poll them; `PRAGMA data_version` on the reader
    moves with every commit of the writer, so an answer is reused exactly while it is current.
    """

    def __init__(self) -> None:
        self._answers: dict[str, tuple[int, Any]] = {}

    async def get(self, key: str, store: Store, compute: Callable[[Store], Awaitable[Any]]) -> Any:
        version = await store.data_version()
        cached = self._answers.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        answer = await compute(store)
        self._answers[key] = (version, answer)
        return answer


#: Probes (readiness, test-connection) must answer fast: one attempt, a short timeout.
PROBE_TIMEOUT = 5.0


def probe_client(paperless: PaperlessSettings, **overrides: object) -> PaperlessClient:
    """A single-attempt client for a connectivity check; a retry loop would only hide an outage.

    `overrides` (url, token, username, password) replace the configured connection. A URL the
    client cannot use raises PaperlessError.
    """
    timeout = min(paperless.timeout, PROBE_TIMEOUT)
    try:
        return PaperlessClient.from_settings(paperless, max_retries=0, timeout=timeout, **overrides)
    except httpx.InvalidURL as exc:
        raise PaperlessError(f"invalid Paperless URL: {exc}") from None
