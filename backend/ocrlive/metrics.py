"""Prometheus metrics of one server: counted from events as they are published and read
from the live objects at scrape time, in a registry of its own (not the process-wide
default, so two apps in one process never mix)."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ocrlive import events as ev

log = logging.getLogger(__name__)

# Buckets from what was measured on a 2-core machine: ~4-5 s per dense A4 page per
# worker, minutes of queueing under a burst of scans.
PAGE_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 120)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
RATE_WINDOW_S = 60.0


class RecentRate:
    """Amounts over the last RATE_WINDOW_S, per second (for dashboards without rate())."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, int]] = deque()

    def add(self, amount: int, now: float) -> None:
        self._seen.append((now, amount))

    def per_second(self) -> float:
        horizon = time.monotonic() - RATE_WINDOW_S
        while self._seen and self._seen[0][0] < horizon:
            self._seen.popleft()
        return sum(n for _, n in self._seen) / RATE_WINDOW_S


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events = Counter("ocrlive_events", "Task events published", ["event"], registry=r)
        self.pages = Counter("ocrlive_pages_read", "Pages of completed tasks", registry=r)
        self.queue_wait = Histogram("ocrlive_queue_wait_seconds", "Queued until a worker took it",
                                    buckets=WAIT_BUCKETS, registry=r)  # fmt: skip
        self.page_seconds = Histogram("ocrlive_ocr_seconds_per_page",
                                      "Reading time of a completed task divided by its pages",
                                      buckets=PAGE_BUCKETS, registry=r)  # fmt: skip
        self.latency = Histogram("ocrlive_http_request_duration_seconds",
                                 "HTTP request latency by route", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.tasks = Gauge("ocrlive_tasks", "Tasks in the database by status", ["status"],
                           registry=r)  # fmt: skip
        self.recent_pages, self.recent_events = RecentRate(), RecentRate()
        self._queued_at: dict[str, float] = {}
        self._started_at: dict[str, float] = {}

    def observe(self, event: ev.Event) -> None:
        """Called once per published event, on the event loop."""
        self.events.labels(str(event.type)).inc()
        task, now = event.task, time.monotonic()
        self.recent_events.add(1, now)
        if event.type in (ev.EventType.CREATED, ev.EventType.REQUEUED):
            self._queued_at[task.id] = now
        elif event.type == ev.EventType.STARTED:
            queued = self._queued_at.pop(task.id, None)
            if queued is not None:
                self.queue_wait.observe(now - queued)
            self._started_at[task.id] = now
        elif event.type in ev.TERMINAL_EVENTS:
            self._queued_at.pop(task.id, None)
            started = self._started_at.pop(task.id, None)
            if event.type == ev.EventType.COMPLETED and started is not None:
                self._completed(now - started, task.pages_total, now)

    def _completed(self, seconds: float, pages: int, now: float) -> None:
        pages = max(pages, 1)
        self.page_seconds.observe(seconds / pages)
        self.pages.inc(pages)
        self.recent_pages.add(pages, now)

    def set_task_counts(self, counts: Mapping[str, int]) -> None:
        for status in ev.TaskStatus:
            self.tasks.labels(status.value).set(counts.get(status.value, 0))


class MeteredPublisher(ev.Publisher):
    """Counts every event, then hands it on (app.py puts it before the hub)."""

    def __init__(self, publisher: ev.Publisher, metrics: Metrics) -> None:
        self._publisher, self._metrics = publisher, metrics

    def publish(self, event: ev.Event) -> None:
        try:
            self._metrics.observe(event)
        except Exception:  # a metric must never stop an event from reaching browsers
            log.exception("counting event %s for /metrics failed", event.seq)
        self._publisher.publish(event)


@dataclass(frozen=True)
class LiveValues:
    queue_depth: int
    connections: int
    workers: int
    busy: int
    executor_queue: int
    restarts: Mapping[str, int]
    closes: Mapping[int, int]
    executor: str


class LiveCollector(Collector):
    """Values read from the running objects at scrape time."""

    def __init__(self, metrics: Metrics, read: Callable[[], LiveValues]) -> None:
        self._metrics, self._read = metrics, read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        live, m = self._read(), self._metrics
        gauges = [
            ("ocrlive_queue_depth", "Tasks waiting for a worker", live.queue_depth),
            ("ocrlive_pages_per_second", "Pages completed per second over the last minute",
             m.recent_pages.per_second()),
            ("ocrlive_events_per_second", "Task events published per second over the last "
             "minute", m.recent_events.per_second()),
            ("ocrlive_websocket_connections", "Open WebSocket connections", live.connections),
            ("ocrlive_workers_busy", "Local OCR workers reading, or pages being read on the "
             "Dask cluster", live.busy),
            ("ocrlive_executor_queue_depth", "Jobs handed to the executor, waiting there for a "
             "worker (local: documents; Dask: pages)", live.executor_queue),
        ]  # fmt: skip
        for name, doc, value in gauges:
            yield GaugeMetricFamily(name, doc, value=float(value))
        workers = GaugeMetricFamily("ocrlive_workers", "OCR workers (the local pool's "
                                    "processes or the Dask cluster's engine workers)",
                                    labels=["executor"])  # fmt: skip
        workers.add_metric([live.executor], float(live.workers))
        yield workers
        yield _labelled_counter("ocrlive_worker_restarts", "OCR workers replaced, by cause",
                                "cause", live.restarts)  # fmt: skip
        yield _labelled_counter("ocrlive_websocket_closes", "WebSockets closed by the server, "
                                "by close code (4009: too slow)", "code",
                                {str(code): n for code, n in live.closes.items()})  # fmt: skip
        yield CounterMetricFamily("ocrlive_websocket_slow_closes",
                                  "Clients closed for not keeping up (4009)",
                                  value=live.closes.get(4009, 0))  # fmt: skip


def _labelled_counter(
    name: str, doc: str, label: str, values: Mapping[str, int]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, count in sorted(values.items()):
        family.add_metric([key], count)
    return family
