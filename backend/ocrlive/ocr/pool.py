"""A pool of OCR worker processes, scheduled from the asyncio event loop.

One engine per spawned process: PaddleOCR is not thread safe and its memory
only grows, so workers are recycled after a number of jobs or past an RSS cap,
and a replacement is spawned the moment one is taken out of service.

How messages are read and deaths seen is ocrlive.ocr.worker.WorkerProcess's
business: a reader thread per worker posts every message, then EXITED, to the
loop. Spawning, retiring and reaping workers is pool_workers.py's (a base class);
this module schedules jobs and handles the workers' messages.
All of this module runs in the event loop thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable

from ocrlive.events import TaskErrorCode, WorkerState
from ocrlive.ocr.pool_state import (
    PoolClosed,
    StorageFault,
    TaskTimedOut,
    WorkerCrashed,
    WorkerStartFailed,
    _Pending,
    _Slot,
    _Worker,
    describe,
)
from ocrlive.ocr.pool_workers import CLOSED_PIPE_GRACE_S, WATCH_INTERVAL_S, WorkerLifecycle
from ocrlive.ocr.types import (
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrResult,
    Progress,
    TaskCancelled,
)
from ocrlive.ocr.worker import (
    EXITED,
    HEARTBEAT_S,
    READER_POLL_S,
    Cancel,
    JobEnd,
    Ready,
    RunJob,
    StartFailed,
    Stop,
    thread_env,
)

__all__ = [
    "OcrPool", "PoolClosed", "StorageFault", "TaskTimedOut", "WorkerCrashed", "WorkerStartFailed",
]  # fmt: skip

log = logging.getLogger(__name__)

REAP_TIMEOUT_S = 5.0
# A worker silent for this long is not given a job (it may have just hung); its
# heartbeat comes every HEARTBEAT_S, so a live one is never this quiet.
FRESH_S = 3 * HEARTBEAT_S


class OcrPool(WorkerLifecycle):
    def __init__(
        self,
        *,
        workers: int,
        engine_config: EngineConfig,
        engine_factory: str = "ocrlive.ocr.engine:Engine",
        task_timeout: float = 600.0,
        max_tasks_per_worker: int = 200,
        max_rss_mb: int = 2500,
        start_timeout: float = 300.0,
        cancel_grace: float = 10.0,  # a cancelled job still not reporting is killed after this
        liveness: float = 15.0,  # a ready worker silent this long is hung: killed, replaced
    ) -> None:
        if workers < 1:
            raise ValueError("an OCR pool needs at least one worker")
        self._config, self._factory = engine_config, engine_factory
        self._task_timeout, self._start_timeout = task_timeout, start_timeout
        self._max_tasks, self._max_rss_mb = max_tasks_per_worker, max_rss_mb
        self._cancel_grace, self._liveness = cancel_grace, liveness
        self._ctx = multiprocessing.get_context("spawn")
        self._slots = [_Slot(i) for i in range(workers)]
        self._retiring: list[_Worker] = []  # replaced, not yet exited
        self._reaping: list[_Worker] = []  # exited; reader thread and pipe to release
        self._queue: deque[_Pending] = deque()
        self._tasks: dict[str, _Pending] = {}
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self._close_done: asyncio.Event | None = None
        self.versions: dict[str, str] = {}
        self.restart_causes: Counter[str] = Counter()
        self.on_reconnect: Callable[[], None] | None = None  # never: no scheduler here

    @property
    def size(self) -> int:
        return len(self._slots)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers() if w.pending is not None)

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        if self._closing:
            raise PoolClosed("the OCR pool is closed")
        if self._loop is not None:
            raise RuntimeError("the OCR pool is already started")
        self._loop = asyncio.get_running_loop()
        # A spawned child re-imports the parent's __main__ before worker_main
        # can set anything, and whatever that imports (numpy...) sizes its
        # thread pool then: only the inherited environment reaches that early.
        os.environ.update(thread_env(self._config.threads))
        for slot in self._slots:
            self._spawn(slot)
        self._watch = self._loop.call_later(WATCH_INTERVAL_S, self._on_watch)

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until every worker has loaded its engine; WorkerStartFailed if one could not."""
        if self._loop is None:
            raise RuntimeError("start() the OCR pool first")
        async with asyncio.timeout(timeout):
            while not self._closing:
                errors = [slot.last_error for slot in self._slots if slot.last_error]
                if errors:
                    raise WorkerStartFailed(errors[0])
                if all(slot.worker and slot.worker.ready for slot in self._slots):
                    return
                await self._changed.wait()
        raise PoolClosed("the OCR pool is closed")

    async def close(self, grace: float = 5.0) -> None:
        if self._close_done is not None:
            await self._close_done.wait()
            return
        self._close_done = asyncio.Event()
        self._notify()  # wait_ready() must raise PoolClosed now
        while self._queue:
            self._settle(self._queue.popleft(), None, PoolClosed("the OCR pool closed"))
        for slot in self._slots:
            if slot.respawn:
                slot.respawn.cancel()
        workers = self._workers()
        for worker in workers:
            worker.state = WorkerState.STOPPING
            worker.proc.send(Stop())
        await self._wait_exits(workers, grace)
        for worker in workers:
            self._kill(worker)
        await self._wait_exits(workers, REAP_TIMEOUT_S)
        await self._release_all()
        if self._watch:
            self._watch.cancel()
        self._close_done.set()

    async def _wait_exits(self, workers: list[_Worker], within: float) -> None:
        futures = [w.exited for w in workers if not w.exited.done()]
        if futures:
            await asyncio.wait(futures, timeout=within)

    async def _release_all(self) -> None:
        for _ in range(int(4 * READER_POLL_S / 0.02)):
            self._release_exited()
            if not self._reaping:
                return
            await asyncio.sleep(0.02)
        log.warning("%d OCR worker reader thread(s) did not stop", len(self._reaping))

    # --- jobs ---------------------------------------------------------------

    async def run(self, job: OcrJob, on_progress: Callable[[Progress], None]) -> OcrResult:
        if self._loop is None:
            raise RuntimeError("start() the OCR pool first")
        if self._closing:
            raise PoolClosed("the OCR pool is closed")
        if job.task_id in self._tasks:
            raise ValueError(f"task {job.task_id} is already in the OCR pool")
        pending = _Pending(job, on_progress, self._loop.create_future())
        self._tasks[job.task_id] = pending
        self._queue.append(pending)
        self._dispatch()
        try:
            return await pending.future
        except asyncio.CancelledError:
            self._drop(pending)  # its future is cancelled too: nothing more is reported
            self._forget(pending)  # the same task may be submitted again at once
            raise

    def cancel(self, task_id: str) -> bool:
        """Call from the event loop thread."""
        pending = self._tasks.get(task_id)
        if pending is None or pending.future.done():
            return False
        self._drop(pending)
        self._forget(pending)  # a retry may run the task again before its worker stops
        return True

    def _drop(self, pending: _Pending) -> None:
        """Cancelled, or its caller's task was: unqueue it or tell its worker to stop."""
        if pending in self._queue:
            self._queue.remove(pending)
            self._settle(pending, None, TaskCancelled(pending.job.task_id))
        elif pending.worker and pending.worker.pending is pending and not pending.cancelled:
            self._request_cancel(pending.worker, pending)
        pending.cancelled = True

    def _request_cancel(self, worker: _Worker, pending: _Pending) -> None:
        worker.proc.send(Cancel(pending.seq))
        grace = self._cancel_grace
        self._set_timer(worker, "cancel", grace, self._on_overdue, worker, pending, None)

    def _dispatch(self) -> None:
        assert self._loop is not None
        while self._queue and not self._closing:
            fresh = self._loop.time() - min(FRESH_S, self._liveness / 2)
            idle = [
                s.worker for s in self._slots
                if s.worker and s.worker.state == WorkerState.IDLE and s.worker.last_seen > fresh
            ]  # fmt: skip
            if not idle:
                return
            self._assign(idle[0], self._queue.popleft())

    def _assign(self, worker: _Worker, pending: _Pending) -> None:
        pending.seq, pending.worker = next(self._seq), worker
        worker.pending, worker.state = pending, WorkerState.BUSY
        if not worker.proc.send(RunJob(pending.seq, pending.job)):
            # It died since its last message. Not the document's fault: the job
            # goes back first in line and the death is handled as any other.
            pending.worker, worker.pending, worker.state = None, None, WorkerState.STOPPING
            self._queue.appendleft(pending)
            self._kill(worker)
            return
        timeout = self._task_timeout
        error = TaskTimedOut(f"task {pending.job.task_id} ran longer than {timeout:g}s")
        self._set_timer(worker, "task", timeout, self._on_overdue, worker, pending, error)

    def _on_overdue(self, worker: _Worker, pending: _Pending, error: Exception | None) -> None:
        """Timed out, or cancelled but no longer reporting: kill and replace."""
        if worker.pending is not pending:
            return
        worker.pending = None
        log.warning("OCR task %s overdue; killing worker %s", pending.job.task_id, worker.proc.pid)
        if isinstance(error, TaskTimedOut) and self._silent_for(worker) > FRESH_S:
            # No heartbeat either: the worker hung, the document may be fine.
            error = WorkerCrashed(f"OCR worker {worker.proc.pid} stopped responding")
        self._settle(pending, None, error or TaskCancelled(pending.job.task_id))
        cause = "hung" if isinstance(error, WorkerCrashed) else "timeout"
        self._retire(worker, kill=True, cause=cause if error else "cancel_unanswered")

    def _silent_for(self, worker: _Worker) -> float:
        assert self._loop is not None
        return self._loop.time() - worker.last_seen

    def _check_alive(self, worker: _Worker) -> None:
        """The liveness check (every WATCH_INTERVAL_S): a ready worker that sent nothing,
        not even a heartbeat, for `liveness` seconds is hung. It is killed and replaced;
        a job it never reported on goes back first in line (not the document's fault),
        one it was reading fails like a crash (retried once)."""
        if not worker.ready or worker.finished or worker.state == WorkerState.STOPPING:
            return
        silent = self._silent_for(worker)
        if silent < self._liveness:
            return
        log.warning("OCR worker %s sent nothing for %.0fs (hung); replacing it",
                    worker.proc.pid, silent)  # fmt: skip
        pending, worker.pending = worker.pending, None
        if pending is not None and not pending.started and not pending.cancelled:
            self._cancel_timer(worker, "task")
            pending.worker = None
            self._queue.appendleft(pending)
        elif pending is not None:
            error = WorkerCrashed(f"OCR worker {worker.proc.pid} stopped responding (hung)")
            self._settle(pending, None, error)
        self._retire(worker, kill=True, cause="hung")
        self._dispatch()

    def _forget(self, pending: _Pending) -> None:
        if self._tasks.get(pending.job.task_id) is pending:
            del self._tasks[pending.job.task_id]

    def _settle(self, pending: _Pending, result: OcrResult | None, error: Exception | None) -> None:
        self._forget(pending)
        if pending.future.done():
            return
        if pending.cancelled:
            error = TaskCancelled(pending.job.task_id)
        if result is not None and error is None:
            pending.future.set_result(result)
        else:
            pending.future.set_exception(
                error or OcrFailure(TaskErrorCode.ENGINE_ERROR, "no result")
            )

    # --- messages from workers ----------------------------------------------

    def _on_message(self, worker: _Worker, message: object) -> None:
        if worker.finished:
            return
        assert self._loop is not None
        worker.last_seen = self._loop.time()
        if isinstance(message, Progress):
            self._on_progress(worker, message)
        elif isinstance(message, JobEnd):
            self._on_job_end(worker, message)
        elif isinstance(message, Ready):
            self._on_ready(worker, message)
        elif isinstance(message, StartFailed):
            worker.start_error = message.message
        elif message is EXITED:
            worker.channel_closed = True
            if worker.proc.exitcode is None:
                self._set_timer(worker, "kill", CLOSED_PIPE_GRACE_S, self._kill, worker)
            else:
                self._finalize(worker)

    def _on_ready(self, worker: _Worker, message: Ready) -> None:
        self._cancel_timer(worker, "start")
        worker.ready, worker.rss_mb = True, message.rss_mb
        worker.slot.failures, worker.slot.last_error = 0, None
        if not self.versions:
            self.versions = dict(message.versions)
        if worker.state == WorkerState.STARTING:
            worker.state = WorkerState.IDLE
        self._notify()
        self._dispatch()

    def _on_progress(self, worker: _Worker, progress: Progress) -> None:
        pending = worker.pending
        if pending is None or pending.future.done() or progress.task_id != pending.job.task_id:
            return
        pending.started = True
        if pending.cancelled:  # a retry of the same task may already be reporting
            return
        try:
            pending.on_progress(progress)
        except Exception:
            log.exception("on_progress failed for task %s", progress.task_id)

    def _on_job_end(self, worker: _Worker, end: JobEnd) -> None:
        pending = worker.pending
        if pending is None or end.seq != pending.seq:
            return
        worker.pending, worker.rss_mb = None, end.rss_mb
        worker.tasks_done += 1
        self._cancel_timer(worker, "task")
        self._cancel_timer(worker, "cancel")
        error: Exception | None = end.failure
        if end.storage_fault and end.failure is not None:
            error = StorageFault(end.failure.message)
        if end.cancelled:  # by cancel() (then _settle says so), or by close()'s Stop
            error = PoolClosed("the OCR pool closed") if self._closing else TaskCancelled()
        self._settle(pending, end.result, error)
        if worker.state == WorkerState.BUSY:
            worker.state = WorkerState.IDLE
            if worker.tasks_done >= self._max_tasks:
                self._retire(worker, kill=False, cause="max_tasks")
            elif end.rss_mb > self._max_rss_mb:
                self._retire(worker, kill=False, cause="max_rss")
        self._dispatch()

    # --- introspection ------------------------------------------------------

    def status(self) -> list[dict[str, object]]:
        """One row per slot (its current worker) plus workers still stopping."""
        rows = [describe(slot, slot.worker) for slot in self._slots]
        return rows + [describe(worker.slot, worker) for worker in self._retiring]
