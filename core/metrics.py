"""Prometheus metrics: one `Metrics` object owns its own CollectorRegistry and every metric.

Nothing here touches prometheus_client's global registry, so a process (or a test) can build as
many apps as it likes. Labels are always bounded: route templates (never raw paths), endpoint
templates (`/api/documents/{id}/`), stage, hook and plugin names, job types, outcomes and status
codes; never document ids, titles or content.

Gauges that describe the store (documents, groups by status, indexed documents) come from a
snapshot that `refresh_store()` takes with a few cheap COUNT queries; the server refreshes it after
every job and at most every `STORE_REFRESH_SECONDS` on scrape, never per scrape.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from . import __version__

log = logging.getLogger("dupeless.metrics")

#: The exposition format the API reference promises.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: Route label of requests that matched no route (so scanners cannot blow up the label set).
UNMATCHED = "unmatched"
#: Store gauges are re-read on scrape at most this often (jobs refresh them as they finish).
STORE_REFRESH_SECONDS = 30.0

#: HTTP methods kept as label values; anything else is counted as `_OTHER` (semconv style).
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
#: What `dupeless_sync_documents_total{result}` counts, as a sync job reports it.
SYNC_RESULTS = ("inserted", "updated", "unchanged", "deleted", "failed")
#: Group statuses in the store (0002_groups.sql); each gets a sample, zero when absent.
GROUP_STATUSES = ("pending", "false_positive", "ignored", "deleted")

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
JOB_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600)
EVENT_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "_OTHER"


class Metrics:
    """Every dupeless metric, registered in `self.registry` (a fresh one unless given)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        version: str = __version__,
        process: bool = True,
    ):
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        Info("dupeless_build", "Build information (always 1).", registry=r).info(
            {"version": version, "python": platform.python_version()}
        )
        self.http_duration = Histogram(
            "dupeless_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ("method", "route", "status"),
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.paperless_requests = Counter(
            "dupeless_paperless_requests_total",
            "HTTP requests sent to Paperless (each retry counts), by endpoint template, method"
            " and status (`error` when no response arrived).",
            ("endpoint", "method", "status"),
            registry=r,
        )
        self.paperless_duration = Histogram(
            "dupeless_paperless_request_duration_seconds",
            "Time until Paperless' response headers arrived, by endpoint template, method and"
            " status.",
            ("endpoint", "method", "status"),
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.stage_duration = Histogram(
            "dupeless_stage_duration_seconds",
            "Duration of a pipeline stage, by stage, plugin and outcome (ok, error, cancelled).",
            ("stage", "plugin", "outcome"),
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.hook_duration = Histogram(
            "dupeless_hook_duration_seconds",
            "Duration of one plugin hook call, by hook, plugin and outcome.",
            ("hook", "plugin", "outcome"),
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.sync_documents = Counter(
            "dupeless_sync_documents_total",
            "Documents seen by sync jobs, by result (inserted, updated, unchanged, deleted,"
            " failed).",
            ("result",),
            registry=r,
        )
        self.analysis_runs = Counter(
            "dupeless_analysis_runs_total",
            "Analysis runs, by outcome (completed, failed, cancelled).",
            ("outcome",),
            registry=r,
        )
        self.hook_events = Counter(
            "dupeless_hook_events_total",
            "Paperless post-consume / webhook events processed, by outcome.",
            ("outcome",),
            registry=r,
        )
        self.hook_event_latency = Histogram(
            "dupeless_hook_event_latency_seconds",
            "From receiving a Paperless hook event to its verdict, by outcome.",
            ("outcome",),
            buckets=EVENT_BUCKETS,
            registry=r,
        )
        self.jobs = Counter(
            "dupeless_jobs_total",
            "Jobs that ended, by type and outcome (completed, failed, cancelled, interrupted).",
            ("type", "outcome"),
            registry=r,
        )
        self.job_duration = Histogram(
            "dupeless_job_duration_seconds",
            "Run time of a job, by type and outcome.",
            ("type", "outcome"),
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.jobs_active = Gauge(
            "dupeless_jobs_active",
            "Jobs running in this process, by type.",
            ("type",),
            registry=r,
        )
        self.store_snapshot: dict[str, Any] = {}
        self.store_refreshed = 0.0  # time.monotonic() of the last refresh, 0 = never
        r.register(_StoreCollector(self))
        self._http_children: dict[tuple[str, str, str], Any] = {}

    # -- exposition --------------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the text exposition format 0.0.4 (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # -- recording ---------------------------------------------------------------------------

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method_label(method), route, str(status))
        child = self._http_children.get(key)
        if child is None:
            child = self._http_children[key] = self.http_duration.labels(*key)
        child.observe(seconds)

    def observe_paperless(self, endpoint: str, method: str, status: str, seconds: float) -> None:
        labels = (endpoint, method_label(method), status)
        self.paperless_requests.labels(*labels).inc()
        self.paperless_duration.labels(*labels).observe(seconds)

    def observe_call(
        self, kind: str, name: str, plugin: str | None, outcome: str, seconds: float
    ) -> None:
        """A pipeline monitor event: kind "stage" or "hook"."""
        metric = self.stage_duration if kind == "stage" else self.hook_duration
        metric.labels(name, plugin or "", outcome).observe(seconds)

    def record_sync_result(self, result: Mapping[str, Any]) -> None:
        """Add a sync job's figures (`SyncResult.as_dict()`) to the per-result counter."""
        for name in SYNC_RESULTS:
            value = result.get(name)
            if isinstance(value, int | float) and value > 0:
                self.sync_documents.labels(name).inc(value)

    def record_analysis(self, outcome: str) -> None:
        self.analysis_runs.labels(outcome).inc()

    def record_hook_event(self, outcome: str, latency_seconds: float | None = None) -> None:
        """One Paperless hook event handled; latency from receipt to verdict when known."""
        self.hook_events.labels(outcome).inc()
        if latency_seconds is not None:
            self.hook_event_latency.labels(outcome).observe(max(0.0, latency_seconds))

    def record_job(self, job_type: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(job_type, outcome).inc()
        self.job_duration.labels(job_type, outcome).observe(seconds)

    # -- store gauges --------------------------------------------------------------------------

    async def refresh_store(self, store: Any) -> None:
        """Re-read the store gauges: a handful of COUNTs served by indexes (cheap)."""
        snapshot: dict[str, Any] = {}
        snapshot["documents"] = await store.fetchval("SELECT COUNT(*) FROM documents")
        rows = await store.fetchall(
            "SELECT status, COUNT(*) AS n FROM duplicate_groups GROUP BY status"
        )
        snapshot["groups"] = {row[0]: row[1] for row in rows}
        snapshot["index"] = await store.fetchval("SELECT COUNT(*) FROM candidate_index")
        rows = await store.fetchall("SELECT status, COUNT(*) AS n FROM hook_events GROUP BY status")
        snapshot["hook_events"] = {row[0]: row[1] for row in rows}
        self.store_snapshot = snapshot
        self.store_refreshed = time.monotonic()

    async def maybe_refresh_store(self, store: Any, max_age: float = STORE_REFRESH_SECONDS) -> None:
        """Refresh the store gauges when the snapshot is older than `max_age`; never raises."""
        if time.monotonic() - self.store_refreshed < max_age and self.store_refreshed:
            return
        try:
            await self.refresh_store(store)
        except Exception as exc:  # a scrape must not fail because the store is busy
            log.warning("metrics: could not read the store gauges: %s", exc)
            self.store_refreshed = time.monotonic()  # do not retry on every scrape


class _StoreCollector(Collector):
    """Yields the store snapshot as gauges at scrape time (no query here)."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the snapshot; skip the describe-time collect

    def collect(self) -> Iterator[Metric]:
        snapshot = self.metrics.store_snapshot
        if not snapshot:
            return
        yield GaugeMetricFamily(
            "dupeless_documents", "Documents in the store.", value=snapshot["documents"]
        )
        groups = GaugeMetricFamily(
            "dupeless_groups", "Duplicate groups in the store, by status.", labels=("status",)
        )
        counts = snapshot["groups"]
        for status in sorted({*GROUP_STATUSES, *counts}):
            groups.add_metric((status,), counts.get(status, 0))
        yield groups
        yield GaugeMetricFamily(
            "dupeless_index_documents",
            "Documents in the candidate (LSH) index.",
            value=snapshot["index"],
        )
        events = GaugeMetricFamily(
            "dupeless_hook_events_stored",
            "Paperless hook events in the store, by status.",
            labels=("status",),
        )
        for status, count in sorted(snapshot["hook_events"].items()):
            events.add_metric((status,), count)
        yield events
