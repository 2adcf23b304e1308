"""A pool of OCR worker processes, scheduled from the asyncio event loop.

One engine per spawned process: PaddleOCR is not thread safe and its memory
only grows, so workers are recycled after a number of jobs or past an RSS cap,
and a replacement is spawned the moment one is taken out of service.

How messages are read and deaths seen is ocrlive.ocr.worker.WorkerProcess's
business: a reader thread per worker posts every message, then EXITED, to the
loop. The pool only ever finalizes a worker on EXITED plus a reaped exit code,
so a result sent just before a death is never lost; a watchdog on exitcode
covers a child whose pipe outlives it (held open by a grandchild).
All of this module runs in the event loop thread.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable

from ocrlive.ocr.pool_state import (
    PoolClosed,
    TaskTimedOut,
    WorkerCrashed,
    WorkerStartFailed,
    _Pending,
    _Slot,
    _Worker,
    describe,
)
from ocrlive.ocr.types import (
    ENGINE_ERROR,
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrResult,
    Progress,
    TaskCancelled,
)
from ocrlive.ocr.worker import (
    EXITED,
    READER_POLL_S,
    Cancel,
    JobEnd,
    Ready,
    RunJob,
    StartFailed,
    Stop,
    WorkerProcess,
    thread_env,
)

__all__ = ["OcrPool", "PoolClosed", "TaskTimedOut", "WorkerCrashed", "WorkerStartFailed"]

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 0.25
RETIRE_GRACE_S = 10.0  # a recycled worker is idle: Stop should end it in milliseconds
CLOSED_PIPE_GRACE_S = 1.0  # a child that closed its pipe but lingers is of no use
REAP_TIMEOUT_S = 5.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0


class OcrPool:
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
    ) -> None:
        if workers < 1:
            raise ValueError("an OCR pool needs at least one worker")
        self._config, self._factory = engine_config, engine_factory
        self._task_timeout, self._start_timeout = task_timeout, start_timeout
        self._max_tasks, self._max_rss_mb = max_tasks_per_worker, max_rss_mb
        self._cancel_grace = cancel_grace
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

    @property
    def size(self) -> int:
        return len(self._slots)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers() if w.pending is not None)

    @property
    def _closing(self) -> bool:
        return self._close_done is not None

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
            worker.state = "stopping"
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
        while self._queue and not self._closing:
            idle = [s.worker for s in self._slots if s.worker and s.worker.state == "idle"]
            if not idle:
                return
            self._assign(idle[0], self._queue.popleft())

    def _assign(self, worker: _Worker, pending: _Pending) -> None:
        pending.seq, pending.worker = next(self._seq), worker
        worker.pending, worker.state = pending, "busy"
        if not worker.proc.send(RunJob(pending.seq, pending.job)):
            # It died since its last message. Not the document's fault: the job
            # goes back first in line and the death is handled as any other.
            pending.worker, worker.pending, worker.state = None, None, "stopping"
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
        self._settle(pending, None, error or TaskCancelled(pending.job.task_id))
        self._retire(worker, kill=True)

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
            pending.future.set_exception(error or OcrFailure(ENGINE_ERROR, "no result"))

    # --- messages from workers ----------------------------------------------

    def _on_message(self, worker: _Worker, message: object) -> None:
        if worker.finished:
            return
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
        if worker.state == "starting":
            worker.state = "idle"
        self._notify()
        self._dispatch()

    def _on_progress(self, worker: _Worker, progress: Progress) -> None:
        pending = worker.pending
        if pending is None or pending.future.done() or progress.task_id != pending.job.task_id:
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
        if end.cancelled:  # by cancel() (then _settle says so), or by close()'s Stop
            error = PoolClosed("the OCR pool closed") if self._closing else TaskCancelled()
        self._settle(pending, end.result, error)
        if worker.state == "busy":
            worker.state = "idle"
            if worker.tasks_done >= self._max_tasks or end.rss_mb > self._max_rss_mb:
                self._retire(worker, kill=False)
        self._dispatch()

    # --- workers ------------------------------------------------------------

    def _workers(self) -> list[_Worker]:
        return [slot.worker for slot in self._slots if slot.worker] + self._retiring

    def _spawn(self, slot: _Slot) -> None:
        assert self._loop is not None
        loop, slot.respawn = self._loop, None
        worker = _Worker(slot, loop.create_future())

        def post(message: object) -> None:  # called in the reader thread
            loop.call_soon_threadsafe(self._on_message, worker, message)

        name = f"ocrlive-ocr-{slot.index}"
        try:
            worker.proc = WorkerProcess(self._ctx, self._factory, self._config, name, post)
        except OSError as exc:
            self._start_failed(slot, f"cannot start an OCR worker: {exc}")
            return
        self._set_timer(worker, "start", self._start_timeout, self._on_start_timeout, worker)
        slot.worker = worker
        self._notify()

    def _on_start_timeout(self, worker: _Worker) -> None:
        worker.start_error = f"the OCR engine was not ready after {self._start_timeout:g}s"
        self._kill(worker)

    def _start_failed(self, slot: _Slot, message: str) -> None:
        assert self._loop is not None
        slot.failures += 1
        slot.restarts += 1
        slot.last_error = message
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (slot.failures - 1))
        log.error("OCR worker %d failed to start: %s (retry in %gs)", slot.index, message, delay)
        slot.respawn = self._loop.call_later(delay, self._spawn, slot)
        self._notify()

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        """Take a worker out of service; its replacement is spawned at once."""
        slot = worker.slot
        worker.state = "stopping"
        if slot.worker is worker:
            slot.worker = None
            slot.restarts += 1
            self._retiring.append(worker)
            if not self._closing:
                self._spawn(slot)
        if kill:
            self._kill(worker)
        else:
            worker.proc.send(Stop())
            self._set_timer(worker, "kill", RETIRE_GRACE_S, self._kill, worker)

    def _finalize(self, worker: _Worker) -> None:
        """Reaped and its pipe drained: settle its job and replace it."""
        worker.finished = True
        for name in list(worker.timers):
            self._cancel_timer(worker, name)
        if worker in self._retiring:
            self._retiring.remove(worker)
        self._reaping.append(worker)
        pending, worker.pending = worker.pending, None
        if pending is not None:
            self._settle(pending, None, self._death_error(worker, pending))
        if worker.slot.worker is worker:
            worker.slot.worker = None
            self._replace_dead(worker)
        worker.exited.set_result(None)
        self._notify()
        self._dispatch()

    def _death_error(self, worker: _Worker, pending: _Pending) -> Exception:
        if self._closing:
            return PoolClosed("the OCR pool closed while the task ran")
        text = f"OCR worker {worker.proc.pid} died ({worker.proc.exit_text()})"
        log.error("%s while reading task %s", text, pending.job.task_id)
        return WorkerCrashed(f"{text} while reading task {pending.job.task_id}")

    def _replace_dead(self, worker: _Worker) -> None:
        if self._closing:
            return
        exit_text = worker.proc.exit_text()
        if not worker.ready:
            self._start_failed(worker.slot, worker.start_error or f"worker exited ({exit_text})")
            return
        log.warning("OCR worker %s died (%s); replacing it", worker.proc.pid, exit_text)
        worker.slot.restarts += 1
        self._spawn(worker.slot)

    def _on_watch(self) -> None:
        assert self._loop is not None
        for worker in self._workers():
            if worker.proc.exitcode is None:
                continue
            if worker.channel_closed:
                self._finalize(worker)
            else:
                worker.proc.stop_reading()  # it drains the pipe, then posts EXITED
        self._release_exited()
        self._watch = self._loop.call_later(WATCH_INTERVAL_S, self._on_watch)

    def _release_exited(self) -> None:
        self._reaping = [worker for worker in self._reaping if not worker.proc.release()]

    def _kill(self, worker: _Worker) -> None:
        if not worker.finished:
            worker.proc.kill()

    def _set_timer(
        self, worker: _Worker, name: str, delay: float, callback: Callable[..., None], *args: object
    ) -> None:
        assert self._loop is not None
        self._cancel_timer(worker, name)
        worker.timers[name] = self._loop.call_later(delay, callback, *args)

    def _cancel_timer(self, worker: _Worker, name: str) -> None:
        handle = worker.timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- introspection ------------------------------------------------------

    def status(self) -> list[dict[str, object]]:
        """One row per slot (its current worker) plus workers still stopping."""
        rows = [describe(slot, slot.worker) for slot in self._slots]
        return rows + [describe(worker.slot, worker) for worker in self._retiring]
