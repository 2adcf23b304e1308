"""Runner: queued tasks go to the OCR pool, the worker's reports go to the task
registry (which stores and publishes them). The OCR code never sees either.

Nothing here may stop on a fault of the disk: every write of a task's state waits for
storage to answer again (persist.py), so a full disk holds a result in memory until
it can be stored instead of killing the loop that carries it; the loops themselves run
under a Supervisor that restarts one that dies anyway. Each task runs in its own child
task, so a cancel stops exactly that run, whatever it is waiting on, before the cancel
is answered: a retry sent at once never meets the old run in the OCR pool. A cancel
made on another node stops the run here the same way, as soon as this node hears the
event (`_heard`), rather than letting it read every remaining page for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ocrlive.errors import InvalidState, QueueFull, TaskNotFound
from ocrlive.events import FINISHED_STATUSES, Event, Priority, Task, TaskErrorCode, TaskStatus
from ocrlive.ocr.executor import Executor
from ocrlive.ocr.pool_state import (
    PoolClosed,
    SchedulerLost,
    StorageFault,
    TaskTimedOut,
    WorkerCrashed,
)
from ocrlive.ocr.types import (
    OcrFailure,
    OcrJob,
    OcrResultJson,
    ReadSettings,
    TaskCancelled,
    TaskResult,
)
from ocrlive.records import page_images
from ocrlive.store.health import StorageHealth
from ocrlive.store.nodes import RELEASED, Adopted
from ocrlive.tasks import rerun_settings
from ocrlive.tasks.cluster import Cluster
from ocrlive.tasks.manager import NewTask, TaskManager
from ocrlive.tasks.persist import persist, wait_for_disk
from ocrlive.tasks.queue import TaskQueue
from ocrlive.tasks.supervisor import Supervisor

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CRASH_ATTEMPTS = 2  # a document that kills its worker twice is failed, not retried forever


class Runner:
    def __init__(
        self, manager: TaskManager, pool: Executor, pages_dir: Path, *, queue_limit: int,
        concurrency: int, health: StorageHealth | None = None, cluster: Cluster | None = None,
    ) -> None:  # fmt: skip
        self.manager = manager
        self.pool = pool
        self.pages_dir = pages_dir
        self.queue = TaskQueue()
        self.queue_limit = queue_limit
        self.queue_peak = 0  # the deepest the queue has been, for /api/status
        self._admitting = 0  # uploads between the capacity check and their enqueue
        self.concurrency = concurrency
        self.health = health or StorageHealth()
        self.supervisor = Supervisor()
        self.running: dict[str, asyncio.Task[None]] = {}  # task id -> its run
        self._runs: dict[str, int] = {}  # task id -> the run started here (its seq)
        # The newest other node's event on a task in `running`, heard before its run was
        # known here (between mark_started's commit and _run_one reading its seq).
        self._early: dict[str, int] = {}
        manager.on_remote(self._heard)
        self.cluster = cluster  # None: this runner is alone with its database (tests)
        if cluster is not None:  # what the manager creates or queues again is this node's
            manager.owner = cluster.node_id
        self._starting = False  # taking over tasks at start (a restart, not a node's death)

    async def start(self) -> None:
        await self.recover()
        for n in range(self.concurrency):
            self.supervisor.start(f"ocr-runner-{n}", self._loop)

    async def close(self) -> None:
        await self.supervisor.close()
        runs = list(self.running.values())
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)

    async def recover(self) -> None:
        """After a restart (or a crash of the server) tasks that were processing go back
        to the queue, and every queued task is queued again, oldest first. With a
        cluster, those no live node owns, taken by the leader (tasks/cluster.py)."""
        if self.cluster is not None:
            await self._join(self.cluster)
            return
        unfinished = await self.manager.store.tasks.unfinished()
        for task in unfinished:
            if task.status == TaskStatus.PROCESSING:
                message = "Queued again after a server restart"
                task = await self.manager.requeue(task.id, message)
            await self.queue.put(task.id, task.priority)
        if unfinished:
            log.info("recovered %d unfinished tasks", len(unfinished))

    async def _join(self, cluster: Cluster) -> None:
        cluster.on_adopt, cluster.on_lost = self.adopt, self.drop_lost
        await cluster.start()
        if await cluster.lead():
            self._starting = True
            try:
                await cluster.sweep(at_start=True)
            finally:
                self._starting = False
        self.supervisor.start("cluster", cluster.run)

    async def adopt(self, adopted: list[Adopted]) -> None:
        """Tasks the leader took over: queued again here (a processing one first goes
        back to queued; the run that stopped is not held against the document)."""
        for found in adopted:
            if found.task_id in self.queue or found.task_id in self.running:
                continue
            with contextlib.suppress(InvalidState, TaskNotFound):
                task = await self._persist(lambda f=found: self._take(f), "adopting a task")  # type: ignore[misc]
                await self.queue.put(task.id, task.priority)

    async def _take(self, found: Adopted) -> Task:
        if found.status != TaskStatus.PROCESSING:
            return await self.manager.get(found.task_id)
        if found.previous_owner == RELEASED:
            message = "Queued again: the Dask scheduler restarted"
        elif found.previous_owner is None or self._starting:
            message = "Queued again after a server restart"
        else:
            message = "Queued again: the server node reading it stopped"
        return await self.manager.requeue(found.task_id, message, refund=True)

    async def drop_lost(self) -> None:
        """This node was taken for dead and its tasks adopted elsewhere: it drops every
        task it no longer owns, queued or running, so none is read twice."""
        assert self.cluster is not None
        owned = await self.cluster.owned()
        for task_id in [t for t in self.queue.ids() if t not in owned]:
            self.queue.remove(task_id)
        for task_id in [t for t in self.running if t not in owned]:
            self._stop(task_id)

    def _stop(self, task_id: str) -> asyncio.Task[None] | None:
        """This node's work on the task stops: out of the queue, the executor forgets
        the job at once (the pool's worker is told to stop, Dask's page futures are
        cancelled), and the run stops now, wherever it waits. Its run, if any."""
        self.queue.remove(task_id)
        self.pool.cancel(task_id)
        run = self.running.get(task_id)
        if run is not None:
            run.cancel()
        return run

    def _heard(self, events: list[Event]) -> None:
        """Other nodes' events (in seq order, in the loop). A task read here that any
        other node changed after this node started its run is no longer this run's:
        nothing but a cancel there, the leader taking it over, or a newer run can write
        it (the run fence drops the others' stale reports), so the run stops as a local
        cancel stops it. A task only queued here leaves the queue once it is finished."""
        for event in events:
            task_id = event.task.id
            if task_id in self.running:
                run = self._runs.get(task_id)
                if run is None:
                    self._early[task_id] = event.seq
                elif event.seq > run:
                    self._stop_heard(task_id, event)
            elif task_id in self.queue and event.task.status in FINISHED_STATUSES:
                self._stop_heard(task_id, event)

    def _stop_heard(self, task_id: str, event: Event) -> None:
        log.info("task %s: %s on another node; this node stops reading it", task_id,
                 event.type)  # fmt: skip
        self._stop(task_id)

    def check_capacity(self) -> None:
        if len(self.queue) + self._admitting >= self.queue_limit:
            raise QueueFull(f"The queue already holds {self.queue_limit} documents")

    async def submit(self, new: NewTask) -> tuple[Task, bool]:
        """Check, store and enqueue as one step: a place in the queue is taken before
        the first await and given back only once the task is in the queue (or was not
        created), so concurrent uploads can never overshoot the limit."""
        self.check_capacity()
        self._admitting += 1
        try:
            task, created = await self.manager.create(new)
            if created:
                self.queue.put_nowait(task.id, task.priority)
        finally:
            self._admitting -= 1
        self.queue_peak = max(self.queue_peak, len(self.queue))
        return task, created

    async def cancel(self, task_id: str) -> Task:
        task = await self.manager.cancel(task_id)
        run = self._stop(task_id)
        if run is not None:  # stopped before the cancel is answered
            await asyncio.wait([run])
        return task

    async def retry(self, task_id: str) -> Task:
        task = await self.manager.requeue(task_id, "Queued again on request", reset_attempts=True)
        await self.queue.put(task.id, task.priority)
        return task

    async def rerun(self, task_id: str, settings: ReadSettings | None = None) -> Task:
        """Read a completed document again: the current engine, its settings changed by
        `settings`, kept (rerun_settings.py) once the task is queued again and until
        the new reading is stored."""
        self.check_capacity()
        task = await self.manager.rerun(task_id)
        folder = self.pages_dir / task.id
        if settings and settings.values:
            await asyncio.to_thread(rerun_settings.save, folder, settings)
        else:
            await asyncio.to_thread(rerun_settings.forget, folder)
        await self.queue.put(task.id, task.priority)
        return task

    async def _loop(self) -> None:
        while True:
            task_id = await self.queue.get()
            run = asyncio.create_task(self._run_guarded(task_id), name=f"ocr-task-{task_id}")
            self.running[task_id] = run
            try:
                await asyncio.wait([run])  # a cancelled run ends here, not this loop
            except asyncio.CancelledError:
                run.cancel()
                raise
            finally:
                if self.running.get(task_id) is run:
                    del self.running[task_id]
                    self._runs.pop(task_id, None)
                    self._early.pop(task_id, None)
            error = None if run.cancelled() else run.exception()
            if isinstance(error, PoolClosed):
                return
            if error is not None:
                raise error  # the supervisor logs it and starts this loop again

    async def _run_guarded(self, task_id: str) -> None:
        try:
            await self._run_one(task_id)
        except (InvalidState, TaskNotFound):
            return  # cancelled or purged while it waited in the queue
        except (PoolClosed, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("task %s: unexpected error in the runner", task_id)
            # In its run, as every other outcome: a run cancelled and retried on another
            # node must not fail the newer run with its own bug.
            await self._finish_failed(
                task_id, TaskErrorCode.ENGINE_ERROR, "Unexpected server error",
                run=self._runs.get(task_id),  # None: it failed before it started
            )  # fmt: skip

    async def _run_one(self, task_id: str) -> None:
        task = await self._persist(lambda: self.manager.mark_started(task_id), "starting a task")
        # Everything this run reports carries it: once the task is cancelled and retried
        # (here or on another node), its late reports and result are dropped.
        run = task.version
        self._runs[task_id] = run
        if self._early.pop(task_id, 0) > run:  # changed on another node meanwhile
            log.info("task %s: changed on another node as its run started here", task_id)
            return
        job = await self._persist(lambda: self._job(task, run), "reading a task")
        try:
            result = await self.pool.run(job, lambda p: self.manager.report_progress(p, run))
        except TaskCancelled:
            return  # the cancel endpoint already recorded it
        except OcrFailure as exc:
            await self._finish_failed(task_id, exc.code, exc.message, run=run)
        except TaskTimedOut:
            message = "The document took too long to read; its worker was stopped"
            await self._finish_failed(task_id, TaskErrorCode.TIMEOUT, message, run=run)
        except SchedulerLost as exc:
            await self._after_scheduler_lost(task, str(exc))
        except WorkerCrashed:
            await self._after_crash(task)
        except StorageFault as exc:
            await self._after_storage_fault(task, str(exc))
        else:
            stored = self._result_json(task_id, result.to_json(), job.settings, run)
            with contextlib.suppress(InvalidState):  # StaleRun too: logged by the journal
                await self._persist(
                    lambda: self.manager.complete(task_id, stored, run=run), "a result"
                )
                await asyncio.to_thread(rerun_settings.forget, self.pages_dir / task_id)

    async def _persist(self, write: Callable[[], Awaitable[T]], what: str) -> T:
        """Holds this run, and what it carries (a result), until storage takes it."""
        return await persist(self.health, write, what)

    async def _job(self, task: Task, run: int) -> OcrJob:
        """The run's page images go to a folder of its own (records/page_images.py): a
        stale run still writing can never replace the current run's."""
        path = await self.manager.store.tasks.file_path(task.id)
        if path is None:
            raise TaskNotFound(task.id)
        folder = self.pages_dir / task.id
        settings = await asyncio.to_thread(rerun_settings.load, folder)
        images = str(page_images.run_folder(folder, run))
        return OcrJob(task_id=task.id, path=path, pages_dir=images, settings=settings)

    def _result_json(
        self, task_id: str, result: OcrResultJson, settings: ReadSettings, run: int
    ) -> TaskResult:
        """With the run that read it and its page images' URLs, and in
        `engine.settings` what a re-run changed of the server's engine settings (kept
        with the revision)."""
        for page in result["pages"]:
            page["image_url"] = page_images.image_url(task_id, page["number"], run)
        result["engine"] = {**result["engine"], "settings": settings.to_json()}
        return {"task_id": task_id, "run": run, **result}

    async def _finish_failed(
        self, task_id: str, code: TaskErrorCode, message: str, *, run: int | None = None
    ) -> None:
        with contextlib.suppress(InvalidState, TaskNotFound):
            await self._persist(
                lambda: self.manager.fail(task_id, code, message, run=run), "a failure"
            )

    async def _after_crash(self, task: Task) -> None:
        """`task` as its run started (its version names the run)."""
        if task.attempts >= MAX_CRASH_ATTEMPTS:
            message = "The OCR worker crashed or hung on this document twice"
            await self._finish_failed(
                task.id, TaskErrorCode.WORKER_CRASHED, message, run=task.version
            )
            return
        await self._requeue(task.id, "The OCR worker stopped; trying again", run=task.version)

    async def _after_scheduler_lost(self, task: Task, detail: str) -> None:
        """The Dask scheduler went away mid-document: the task is given up to the
        leader, which queues it again from the task table once (with several nodes,
        exactly one node re-submits it). Alone, this runner queues it itself."""
        log.warning("task %s: the Dask scheduler was lost (%s)", task.id, detail[:200])
        if self.cluster is None:
            message = "Queued again: the Dask scheduler restarted"
            await self._requeue(task.id, message, refund=True, run=task.version)
            return
        cluster = self.cluster
        await self._persist(lambda: cluster.release(task.id), "giving a task up")

    async def _after_storage_fault(self, task: Task, detail: str) -> None:
        """The worker could not write the page images: the disk's fault, so the task
        waits for the disk and runs again, and no attempt is held against it."""
        log.warning("task %s: storage failed while it was read (%s); it runs again once "
                    "the disk takes writes", task.id, detail[:200])  # fmt: skip
        await wait_for_disk(self.health, self.pages_dir)
        await self._requeue(task.id, "Storage was unavailable; reading it again", run=task.version)

    async def _requeue(
        self, task_id: str, message: str, *, refund: bool = False, run: int | None = None
    ) -> None:
        """Queued again here after its run (`run`) stopped, unless that run is over."""
        with contextlib.suppress(InvalidState, TaskNotFound):
            task = await self._persist(
                lambda: self.manager.requeue(task_id, message, refund=refund, run=run),
                "a retry",
            )
            await self.queue.put(task.id, Priority.URGENT)
