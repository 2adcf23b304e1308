"""The Dask executor (`OCRLIVE_EXECUTOR=dask`): documents read as pages on a Dask
cluster of `ocrlive worker` processes, possibly on other machines.

A document is opened and checked here (type, page count, pixel limits: a bad file
fails without reaching the cluster), its bytes go to the cluster once as the result
of a task (no shared disk; each worker fetches one copy however many of its pages it
reads) and each page becomes one task needing the `ocr` resource. The scheduler spreads them
over every free worker; the pages come back in any order and are assembled in
page order. A worker that dies mid-page has its page run elsewhere by the
scheduler; run with `allowed-failures: 1` (`ocrlive scheduler` sets it), a page
whose second worker dies too fails the task with `worker_crashed`.
Progress comes back as Dask events on a topic of this node's own. A restarted
scheduler knows no subscriber: the node subscribes on it before it submits a page
there (one ordered stream carries both), then reads back what the scheduler already
holds on its topic (reports of pages submitted while it reconnected), so no page's
progress is lost (docs/deployment.md says what still can be).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from distributed import Client, Future, as_completed
from distributed.scheduler import KilledWorker

from ocrlive.events import Stage, TaskErrorCode
from ocrlive.ocr.dask_worker import (
    ENGINE_RESOURCE,
    PageOutput,
    describe_worker,
    document_bytes,
    read_page,
)
from ocrlive.ocr.documents import open_document
from ocrlive.ocr.page_progress import DocumentProgress
from ocrlive.ocr.pool_state import PoolClosed, SchedulerLost, TaskTimedOut, WorkerCrashed
from ocrlive.ocr.types import (
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrPage,
    OcrResult,
    PageJob,
    Progress,
    TaskCancelled,
)

log = logging.getLogger(__name__)
PROGRESS_FIELDS = frozenset(f.name for f in fields(Progress))

CONNECT_TIMEOUT_S = 30.0
REFRESH_S = 1.0  # how often the list of workers for /api/status is fetched
CONNECTING_POLL_S = 0.25  # how often a document waiting for a scheduler looks again
# Pages waiting on each worker beside the one it reads (see _read); None: every page of
# a document at once. One waiting page against all at once on a 24-page PDF
# (scripts/bench_scale.py): 0.87x (load 7 -> 15), 1.06x (quiet); with the scheduler
# stealing every 100 ms 1.09x, 1.37x, 0.87x (loads 2.7-12.7), 1.11x (load 1.7-2.1): all
# at once stays the default until a quiet run decides.
LOOKAHEAD: int | None = None
CANCEL_TIMEOUT_S = 2.0  # a cancel sent to a scheduler that is gone is not waited for
LOST = "scheduler-connection-lost"  # the reason Dask gives futures when the scheduler goes


@dataclass
class _Document:
    job: OcrJob
    progress: DocumentProgress
    futures: dict[Future[PageOutput], int] = field(default_factory=dict)  # -> page number
    keys: set[str] = field(default_factory=set)  # of this run's page tasks
    heard: dict[str, float] = field(default_factory=dict)  # key -> newest report's time
    started: set[int] = field(default_factory=set)
    reader: asyncio.Future[list[OcrPage]] | None = None
    holder: Future[bytes] | None = None
    cancelled: bool = False

    def fresh(self, key: str, at: float) -> bool:
        """A report of one of this run's pages (not of an earlier run of the task), newer
        than any heard of that page: a report heard live and read back counts once."""
        if key not in self.keys or at <= self.heard.get(key, 0.0):
            return False
        self.heard[key] = at
        return True


class DaskExecutor:
    def __init__(
        self, scheduler: str, config: EngineConfig, *, task_timeout: float,
        lookahead: int | None = LOOKAHEAD,
    ) -> None:  # fmt: skip
        self._address, self._config, self._task_timeout = scheduler, config, task_timeout
        self._lookahead = lookahead  # None: every page at once
        self._client: Client | None = None
        self._topic = f"ocrlive-progress-{uuid.uuid4().hex}"  # this node's own
        self._docs: dict[str, _Document] = {}
        self._workers: dict[str, dict[str, Any]] = {}
        self._pages_read: Counter[str] = Counter()  # by worker address, for /api/status
        self._refresh: asyncio.Task[None] | None = None
        self._scheduler_id: str | None = None
        self._closed = False
        self.versions: dict[str, str] = {}
        # Dask's nannies restart their own workers; this node does not see the causes.
        self.restart_causes: Counter[str] = Counter()
        # Called in the loop when a (new) scheduler answers after one was lost: the
        # leader then re-submits the work in flight (tasks/cluster.py).
        self.on_reconnect: Callable[[], None] | None = None

    @property
    def size(self) -> int:
        return len(self._workers)

    @property
    def busy(self) -> int:
        return sum(len(d.started) - d.progress.pages_done for d in self._docs.values())

    @property
    def queue_depth(self) -> int:
        return sum(len(d.futures) - len(d.started) for d in self._docs.values())

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self._client = await self._connect()
        self._refresh = asyncio.create_task(self._refresh_loop(), name="ocrlive-dask-workers")

    async def _connect(self) -> Client:
        client: Client = await Client(
            self._address, asynchronous=True, timeout=CONNECT_TIMEOUT_S, name="ocrlive-node"
        )
        client.subscribe_topic(self._topic, self._on_event)
        return client

    async def _connected(self) -> Client:
        """The client once it talks to a scheduler: while one is restarted, a document
        waits here (Dask reconnects for CONNECT_TIMEOUT_S, then _refresh_loop makes a
        new client), not in the task's timeout; subscribed there before any page goes."""
        while True:
            client = self._require()
            if client.status == "running":
                # The identity Dask read when it (re)connected: a restarted scheduler is
                # seen here at once, not at the next refresh (a second of lost progress).
                await self._follow(client, str(client.scheduler_info().get("id", "")))
                return client
            await asyncio.sleep(CONNECTING_POLL_S)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until at least one OCR worker has joined the cluster."""
        async with asyncio.timeout(timeout):
            while not self._workers:
                if self._closed:
                    raise PoolClosed("the Dask executor is closed")
                await self._fetch_workers()
                await asyncio.sleep(0.1)

    async def close(self, grace: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        for doc in list(self._docs.values()):
            if doc.reader:
                doc.reader.cancel()
        if self._refresh:
            self._refresh.cancel()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.close(), grace)

    def _require(self) -> Client:
        if self._closed:
            raise PoolClosed("the Dask executor is closed")
        if self._client is None:
            raise RuntimeError("start() the Dask executor first")
        return self._client

    # --- documents ----------------------------------------------------------

    async def run(self, job: OcrJob, on_progress: Callable[[Progress], None]) -> OcrResult:
        if job.task_id in self._docs:
            raise ValueError(f"task {job.task_id} is already on the Dask executor")
        data, pages_total = await asyncio.to_thread(self._load, job.path)
        client = await self._connected()
        doc = _Document(job, DocumentProgress(job.task_id, pages_total, on_progress))
        self._docs[job.task_id] = doc
        try:
            async with asyncio.timeout(self._task_timeout):
                doc.reader = asyncio.ensure_future(self._read(client, doc, data))
                pages = await doc.reader
        except TimeoutError:
            message = f"task {job.task_id} ran longer than {self._task_timeout:g}s"
            raise TaskTimedOut(message) from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if doc.cancelled and not (task and task.cancelling()):
                raise TaskCancelled(job.task_id) from None
            raise
        finally:
            del self._docs[job.task_id]
            await self._release(client, doc)
        return OcrResult(pages=pages, engine=dict(self.versions))

    def cancel(self, task_id: str) -> bool:
        doc = self._docs.get(task_id)
        if doc is None or doc.reader is None or doc.reader.done():
            return False
        doc.cancelled = True
        doc.reader.cancel()
        return True

    def _load(self, path: str) -> tuple[bytes, int]:
        """The file's bytes and its page count, once its type and limits are checked."""
        cfg = self._config
        with open_document(
            path, pdf_dpi=cfg.pdf_dpi, max_pages=cfg.max_pages, max_pixels=cfg.max_pixels
        ) as document:
            pages = document.page_count
        return Path(path).read_bytes(), pages

    async def _read(self, client: Client, doc: _Document, data: bytes) -> list[OcrPage]:
        """Pages go to the cluster `_window` at a time, each next one as one comes back
        (with `lookahead`; by default every page at once); the scheduler spreads them
        over the workers, and they are assembled in page order."""
        source = doc.holder = self._hold(client, doc.job.task_id, data)
        numbers = iter(range(1, doc.progress.pages_total + 1))
        completed: as_completed = as_completed()
        self._top_up(client, doc, source, numbers, completed)
        doc.progress.opened()
        pages: dict[int, OcrPage] = {}
        async for future in completed:
            self._top_up(client, doc, source, numbers, completed)  # before the result's fetch
            number = doc.futures[future]
            output = await self._page_result(future, number)
            await asyncio.to_thread(self._save_image, doc.job, number, output.png)
            pages[number] = output.page
            self._pages_read[output.worker] += 1
            self.versions = self.versions or dict(output.versions)
            doc.progress.page_done(number, len(output.page.lines))
        return [pages[number] for number in sorted(pages)]

    def _window(self) -> int:
        """Pages of one document in the cluster at once: one read and `lookahead`
        waiting per OCR worker (each worker process holds one `ocr` resource)."""
        if self._lookahead is None:
            return 1 << 30
        return max(1, len(self._workers)) * (1 + self._lookahead)

    def _top_up(
        self, client: Client, doc: _Document, source: Future[bytes], numbers: Iterator[int],
        completed: as_completed,
    ) -> None:  # fmt: skip
        in_flight = sum(1 for future in doc.futures if not future.done())
        for _ in range(self._window() - in_flight):
            number = next(numbers, None)
            if number is None:
                return
            key = f"ocrlive-page-{doc.job.task_id}-{number}-{uuid.uuid4().hex[:8]}"
            doc.keys.add(key)
            page_job = PageJob(doc.job.task_id, number, doc.progress.pages_total, doc.job.settings)
            future = client.submit(
                read_page, source, page_job, self._topic, key=key, pure=False,
                resources={ENGINE_RESOURCE: 1},
            )  # fmt: skip
            doc.futures[future] = number
            completed.add(future)

    @staticmethod
    def _hold(client: Client, task_id: str, data: bytes) -> Future[bytes]:
        """The document as the result of a task rather than scattered data: a worker
        fetches it once from a peer, and if every worker holding it dies, the scheduler
        makes it again from the task (scattered data would be lost with its pages)."""
        key = f"ocrlive-document-{task_id}-{uuid.uuid4().hex[:8]}"
        with warnings.catch_warnings():  # "large object in the graph": on purpose
            warnings.simplefilter("ignore", UserWarning)
            future: Future[bytes] = client.submit(document_bytes, data, key=key, pure=False)
        return future

    async def _page_result(self, future: Future[PageOutput], number: int) -> PageOutput:
        try:
            output: PageOutput = await future
        except KilledWorker as exc:
            message = f"The OCR workers crashed twice on page {number} of this document"
            raise OcrFailure(TaskErrorCode.WORKER_CRASHED, message) from exc
        except Exception as exc:
            if isinstance(exc, OcrFailure):
                raise
            if self._closed:
                raise PoolClosed("the Dask executor closed while the task ran") from exc
            if self._scheduler_lost(exc):
                raise SchedulerLost(f"page {number}: {exc!r}") from exc
            # Every copy of the document was lost: read it again.
            raise WorkerCrashed(f"Dask lost page {number}: {exc!r}") from exc
        return output

    def _scheduler_lost(self, exc: Exception) -> bool:
        if isinstance(exc, concurrent.futures.CancelledError):
            return getattr(exc, "reason", LOST) == LOST or self._client_down()
        return self._client_down()

    def _client_down(self) -> bool:
        return self._client is None or self._client.status != "running"

    @staticmethod
    def _save_image(job: OcrJob, number: int, png: bytes) -> None:
        folder = Path(job.pages_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"page-{number}.png").write_bytes(png)

    async def _release(self, client: Client, doc: _Document) -> None:
        pending = [f for f in doc.futures if not f.done()]
        if pending and not self._closed and client.status == "running":
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.cancel(pending), CANCEL_TIMEOUT_S)
        for future in doc.futures:
            future.release()
        doc.futures.clear()
        if doc.holder is not None:
            doc.holder.release()

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A page's progress, from whichever worker reads it (in the event loop), heard
        live or read back from a restarted scheduler (_follow); `event[0]` is the
        scheduler's time, the page task's key is in the message (dask_worker.py)."""
        try:  # Dask adds the sending worker's address to the message
            at, message = float(event[0]), event[1]
            found = {k: v for k, v in message.items() if k in PROGRESS_FIELDS}
            progress = Progress(**(found | {"stage": Stage(str(found.get("stage")))}))
        except (TypeError, ValueError, AttributeError, IndexError):
            log.warning("unreadable progress event on %s: %r", self._topic, event)
            return
        doc = self._docs.get(progress.task_id)
        if doc is not None and doc.fresh(str(message.get("key", "")), at):
            doc.started.add(progress.page)
            doc.progress.page_progress(progress)

    # --- introspection ------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self._watch()
            await asyncio.sleep(REFRESH_S)

    async def _watch(self) -> None:
        """The workers for /api/status; a client Dask gave up on is made again, and a
        scheduler that answers with a new id (restarted) gets this node's topic."""
        client = self._require()
        if client.status in ("closing", "closed"):
            log.warning("the Dask scheduler at %s is unreachable; connecting again", self._address)
            self._client = await self._connect()
            return
        if client.status == "running":
            await self._fetch_workers()

    async def _fetch_workers(self) -> None:
        client = self._require()
        assert client.scheduler is not None
        info = await client.scheduler.identity(n_workers=-1)
        workers = info.get("workers", {})
        self._workers = {a: w for a, w in workers.items() if ENGINE_RESOURCE in w["resources"]}
        await self._follow(client, str(info.get("id", "")))

    async def _follow(self, client: Client, scheduler_id: str) -> None:
        """On a scheduler not seen before (restarted): subscribe this node's topic, at
        once (a new scheduler knows no subscriber; Dask sends the subscription ahead of
        any page submitted after it), then read back what it already holds there: the
        reports of pages submitted while the client reconnected, which reached it
        before the subscription did."""
        if not scheduler_id or scheduler_id == self._scheduler_id:
            return
        known, self._scheduler_id = self._scheduler_id, scheduler_id
        if known is None:
            return  # the first scheduler: _connect subscribed
        log.warning("the Dask scheduler at %s was restarted; this node subscribes again",
                    self._address)  # fmt: skip
        client.subscribe_topic(self._topic, self._on_event)
        if self.on_reconnect is not None:
            self.on_reconnect()
        assert client.scheduler is not None
        try:
            held = await client.scheduler.events(topic=self._topic)
        except Exception as exc:  # gone again: the next scheduler is followed in turn
            log.warning("could not read back the progress held by the scheduler: %r", exc)
            return
        for event in held:
            self._on_event(event)

    def status(self) -> list[dict[str, object]]:
        rows = enumerate(sorted(self._workers.items()))
        return [describe_worker(n, a, w, self._pages_read[a]) for n, (a, w) in rows]
