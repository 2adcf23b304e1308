"""The page task of the Dask executor and the plugin that gives each worker process
its engine (see ocrlive.ocr.dask_cluster for the processes themselves).

Progress goes back to the node that submitted the page as Dask events on that node's
topic (worker -> scheduler -> subscribed client), never through a shared disk. Each
report names its page task's key: the node tells this run's pages from an earlier
run's, and a report it hears twice (live, then read back after a scheduler restart).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from distributed import WorkerPlugin, get_worker
from distributed.utils import thread_state  # type: ignore[attr-defined]

from ocrlive.events import TaskErrorCode, WorkerState
from ocrlive.ocr.types import (
    EngineConfig,
    OcrFailure,
    OcrPage,
    PageJob,
    Progress,
    ProgressSink,
    TaskCancelled,
)
from ocrlive.ocr.worker import EngineLike, load_factory, short_error, thread_env


class PageEngine(EngineLike, Protocol):
    def read_page(
        self, document: bytes, job: PageJob, pages_dir: Path, report: ProgressSink
    ) -> OcrPage: ...


log = logging.getLogger(__name__)

PLUGIN_NAME = "ocrlive-engine"
ENGINE_RESOURCE = "ocr"  # one per worker process: one engine, one page at a time
GPU_RESOURCE = "GPU"
# Pages this worker process has read, for every node: sent with Dask's heartbeats.
PAGES_METRIC = "ocrlive_pages"


@dataclass(frozen=True)
class PageOutput:
    page: OcrPage
    png: bytes  # the page image for the viewer, written to the node's pages folder
    versions: dict[str, str]
    worker: str  # the Dask worker's address, for the logs


class EnginePlugin(WorkerPlugin):
    """Loads the engine once per worker process, off the worker's event loop."""

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, config: EngineConfig, factory: str) -> None:
        self.config, self.factory = config, factory
        self.engine: PageEngine | None = None
        self.versions: dict[str, str] = {}
        self.lock: threading.Lock | None = None  # made in the worker: a lock cannot be pickled
        self.pages = 0

    async def setup(self, worker: Any) -> None:
        self.lock = threading.Lock()  # an engine is not thread safe
        os.environ.update(thread_env(self.config.threads))
        engine = cast(PageEngine, await asyncio.to_thread(load_factory(self.factory), self.config))
        self.versions = {str(k): str(v) for k, v in engine.versions().items()}
        self.engine = engine
        worker.metrics[PAGES_METRIC] = lambda _: self.pages
        log.info("OCR engine loaded in %s (%s)", worker.address, self.config.device)


def progress_message(progress: Progress) -> dict[str, object]:
    """As Dask events take it: plain types only (msgpack), so the Stage as its str."""
    return {k: str(v) if isinstance(v, str) else v for k, v in asdict(progress).items()}


def document_bytes(data: bytes) -> bytes:
    """The task whose result is a document: pages depend on it (see DaskExecutor._hold)."""
    return data


def read_page(document: bytes, job: PageJob, topic: str) -> PageOutput:
    """The page task. `document` is the whole file, fetched once by this worker."""
    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, EnginePlugin) or plugin.engine is None or plugin.lock is None:
        raise OcrFailure(
            TaskErrorCode.ENGINE_ERROR, f"Dask worker {worker.address} has no OCR engine"
        )
    key = thread_state.key

    def report(progress: Progress) -> None:
        task = worker.state.tasks.get(key)
        if task is None or task.state == "cancelled":  # released by the node
            raise TaskCancelled(progress.task_id)
        worker.log_event(topic, {**progress_message(progress), "key": str(key)})

    with plugin.lock, tempfile.TemporaryDirectory(prefix="ocrlive-page-") as folder:
        try:
            page = plugin.engine.read_page(document, job, Path(folder), report)
        except (OcrFailure, TaskCancelled):
            raise
        except Exception as exc:  # an engine without read_page, or a bug of ours
            raise OcrFailure(TaskErrorCode.ENGINE_ERROR, short_error(exc)) from exc
        png = (Path(folder) / f"page-{job.number}.png").read_bytes()
        plugin.pages += 1
    return PageOutput(page, png, plugin.versions, worker.address)


def describe_worker(
    slot: int, address: str, worker: dict[str, Any], pages: int
) -> dict[str, object]:
    """A worker process as the scheduler knows it (its resources, its heartbeat's
    metrics), as a row of /api/status; `pages`: those this node had read there."""
    metrics = worker.get("metrics", {})
    resources = worker.get("resources", {})
    return {
        "slot": slot,
        "name": worker.get("name"),
        "address": address,
        "host": worker.get("host"),
        "state": WorkerState.BUSY if metrics.get("executing") else WorkerState.IDLE,
        "device": "gpu" if GPU_RESOURCE in resources else "cpu",
        "threads": worker.get("nthreads"),
        "gpu": resources.get(GPU_RESOURCE, 0),
        "pages_done": metrics.get(PAGES_METRIC, 0),  # by every node, since it started
        "rss_mb": round(metrics.get("memory", 0) / 2**20, 1),
        "tasks_done": pages,  # pages this node had read there
        "started_at": None,
        "restarts": None,
        "error": None,
    }
