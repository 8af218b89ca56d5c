"""Optional Paperless system metrics, under the names prometheus-paperless-exporter uses.

With PAPERLESS_METRICS_ENABLED=true a background task polls the Paperless API every
`paperless_metrics.interval_seconds` (default 300) and keeps the answers; a scrape only reads that
snapshot, so Prometheus never causes a Paperless call. Collectors are chosen with
PAPERLESS_METRICS_COLLECTORS (comma-separated ids, default all of them):

=============  ==============================================================================
collector      metrics (the names of hansmi/prometheus-paperless-exporter, so dashboards work)
=============  ==============================================================================
document       paperless_documents
tag            paperless_tag_info{id,name,slug}, paperless_tag_document_count{id}
correspondent  paperless_correspondent_info{id,name,slug},
               paperless_correspondent_document_count{id},
               paperless_correspondent_last_correspondence_timestamp_seconds{id}
document_type  paperless_document_type_info{id,name,slug},
               paperless_document_type_document_count{id}
storage_path   paperless_storage_path_info{id,name,slug},
               paperless_storage_path_document_count{id}
statistics     paperless_statistics_documents_total, paperless_statistics_documents_inbox_count,
               paperless_statistics_documents_file_type_counts{mime_type},
               paperless_statistics_character_count, paperless_statistics_tag_count,
               paperless_statistics_correspondent_count, paperless_statistics_document_type_count,
               paperless_statistics_storage_path_count
=============  ==============================================================================

Plus `dupeless_paperless_metrics_collector_success{collector}` (1/0 for the last poll) and
`dupeless_paperless_metrics_last_poll_timestamp_seconds`. A collector that fails drops its
metrics until it succeeds again (stale numbers would look current).

Settings: `[paperless_metrics]` in the configuration (docs/configuration.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .config import PaperlessMetricsSettings
from .paperless import PaperlessClient, parse_instant

log = logging.getLogger("dupeless.paperless_metrics")

#: Every collector, in the order they run (the configuration validates names against it).
COLLECTORS = tuple(PaperlessMetricsSettings().collectors)

#: collector id -> (API list path, metric name stem) for the entity collectors.
_ENTITIES = {
    "tag": ("/api/tags/", "tag", "a tag"),
    "correspondent": ("/api/correspondents/", "correspondent", "a correspondent"),
    "document_type": ("/api/document_types/", "document_type", "a document type"),
    "storage_path": ("/api/storage_paths/", "storage_path", "a storage path"),
}
#: statistics field -> (metric name, help).
_STATISTICS = {
    "documents_total": ("paperless_statistics_documents_total", "Total number of documents."),
    "documents_inbox": (
        "paperless_statistics_documents_inbox_count",
        "Total number of documents that have the defined 'Inbox' tag.",
    ),
    "character_count": (
        "paperless_statistics_character_count",
        "Number of characters stored across the total number of documents.",
    ),
    "tag_count": ("paperless_statistics_tag_count", "Total number of tags."),
    "correspondent_count": (
        "paperless_statistics_correspondent_count",
        "Total number of correspondents.",
    ),
    "document_type_count": (
        "paperless_statistics_document_type_count",
        "Total number of document types.",
    ),
    "storage_path_count": (
        "paperless_statistics_storage_path_count",
        "Total number of storage paths.",
    ),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class PaperlessMetricsPoller(Collector):
    """Polls Paperless in the background; registered in a registry, it yields the last answers.

    `client_factory` makes a PaperlessClient per poll (closed afterwards), e.g.
    `lambda: telemetry.instrument_paperless(PaperlessClient.from_settings(settings.paperless))`.
    """

    def __init__(
        self,
        client_factory: Callable[[], PaperlessClient],
        *,
        collectors: Iterable[str] = COLLECTORS,
        interval: float = 300.0,
        registry: CollectorRegistry | None = None,
    ):
        self.client_factory = client_factory
        self.collectors = [name for name in COLLECTORS if name in set(collectors)]
        self.interval = interval
        self.families: dict[str, list[Metric]] = {}
        self.success: dict[str, bool] = {}
        self.last_poll: float | None = None
        self._task: asyncio.Task[None] | None = None
        if registry is not None:
            registry.register(self)

    # -- polling -----------------------------------------------------------------------------

    async def poll(self) -> None:
        """Ask Paperless once for every chosen collector; failures are logged, not raised."""
        client = self.client_factory()
        try:
            for name in self.collectors:
                try:
                    self.families[name] = await getattr(self, f"_collect_{name}")(client)
                    self.success[name] = True
                except Exception as exc:
                    log.warning("Paperless metrics: collector %s failed: %s", name, exc)
                    self.families.pop(name, None)
                    self.success[name] = False
        finally:
            await client.aclose()
        self.last_poll = time.time()

    async def run(self) -> None:
        """Poll now and then every `interval` seconds until cancelled."""
        while True:
            started = time.monotonic()
            try:
                await self.poll()
            except Exception:  # e.g. the client could not be built; try again next round
                log.exception("Paperless metrics: poll failed")
            await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name="paperless-metrics")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- collectors --------------------------------------------------------------------------

    async def _collect_document(self, client: PaperlessClient) -> list[Metric]:
        count = await client.count_documents()
        return [GaugeMetricFamily("paperless_documents", "Number of documents.", value=count)]

    async def _entities(self, client: PaperlessClient, kind: str) -> list[Metric]:
        path, stem, what = _ENTITIES[kind]
        info = GaugeMetricFamily(
            f"paperless_{stem}_info",
            f"Static information about {what}.",
            labels=("id", "name", "slug"),
        )
        count = GaugeMetricFamily(
            f"paperless_{stem}_document_count",
            f"Number of documents associated with {what}.",
            labels=("id",),
        )
        families: list[Metric] = [info, count]
        last = None
        if kind == "correspondent":
            last = GaugeMetricFamily(
                "paperless_correspondent_last_correspondence_timestamp_seconds",
                "Number of seconds since 1970 of the most recent correspondence.",
                labels=("id",),
            )
            families.append(last)
        # The client's own pager (concurrent pages, retries); a public `iter_entities` would
        # be nicer, see the report.
        async for page in client._iter_pages(path, {}):
            for item in page:
                entity_id = str(item["id"])
                info.add_metric((entity_id, item.get("name", ""), item.get("slug", "")), 1)
                count.add_metric((entity_id,), item.get("document_count") or 0)
                if last is not None:
                    last.add_metric((entity_id,), _timestamp(item.get("last_correspondence")))
        return families

    async def _collect_tag(self, client: PaperlessClient) -> list[Metric]:
        return await self._entities(client, "tag")

    async def _collect_correspondent(self, client: PaperlessClient) -> list[Metric]:
        return await self._entities(client, "correspondent")

    async def _collect_document_type(self, client: PaperlessClient) -> list[Metric]:
        return await self._entities(client, "document_type")

    async def _collect_storage_path(self, client: PaperlessClient) -> list[Metric]:
        return await self._entities(client, "storage_path")

    async def _collect_statistics(self, client: PaperlessClient) -> list[Metric]:
        stats = await client._json("GET", "/api/statistics/")
        families: list[Metric] = []
        for key, (name, help_text) in _STATISTICS.items():
            value = stats.get(key)
            if isinstance(value, int | float):
                families.append(GaugeMetricFamily(name, help_text, value=value))
        mime = GaugeMetricFamily(
            "paperless_statistics_documents_file_type_counts",
            "Total number of documents per MIME type.",
            labels=("mime_type",),
        )
        for entry in stats.get("document_file_type_counts") or []:
            mime.add_metric((str(entry.get("mime_type", "")),), entry.get("mime_type_count", 0))
        families.append(mime)
        return families

    # -- prometheus_client Collector -----------------------------------------------------------

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for name in self.collectors:
            yield from self.families.get(name, [])
        success = GaugeMetricFamily(
            "dupeless_paperless_metrics_collector_success",
            "1 when the collector's last Paperless poll succeeded, 0 when it failed.",
            labels=("collector",),
        )
        for name in self.collectors:
            if name in self.success:
                success.add_metric((name,), 1.0 if self.success[name] else 0.0)
        yield success
        if self.last_poll is not None:
            yield GaugeMetricFamily(
                "dupeless_paperless_metrics_last_poll_timestamp_seconds",
                "When Paperless was last polled for its metrics (Unix time).",
                value=self.last_poll,
            )


def _timestamp(value: Any) -> float:
    """A Paperless date or instant as Unix seconds; 0 when absent (as the exporter does)."""
    if not value:
        return 0.0
    try:
        instant = parse_instant(value)
    except ValueError:
        return 0.0
    return instant.timestamp() if isinstance(instant, datetime) else 0.0


def start_paperless_metrics(
    settings: Any,
    registry: CollectorRegistry,
    *,
    instrument: Callable[[PaperlessClient], PaperlessClient] | None = None,
) -> PaperlessMetricsPoller | None:
    """Start the poller when enabled and Paperless is configured; returns it (stop() it later)."""
    config = settings.paperless_metrics
    if not config.enabled:
        return None
    if not settings.paperless.url:
        log.info("Paperless metrics are enabled but no Paperless URL is set (demo); skipped")
        return None

    def client_factory() -> PaperlessClient:
        client = PaperlessClient.from_settings(settings.paperless)
        return instrument(client) if instrument is not None else client

    poller = PaperlessMetricsPoller(
        client_factory,
        collectors=config.collectors,
        interval=config.interval_seconds,
        registry=registry,
    )
    poller.start()
    return poller
