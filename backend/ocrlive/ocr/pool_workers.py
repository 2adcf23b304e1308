"""The pool's workers: spawning, retiring, reaping and replacing worker processes, and
their timers (a base class of ocrlive.ocr.pool.OcrPool, which schedules the jobs).

A worker is only ever finalized on EXITED plus a reaped exit code, so a result sent
just before a death is never lost; a watchdog on exitcode covers a child whose pipe
outlives it (held open by a grandchild). All of this runs in the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing.context
from collections import Counter
from collections.abc import Callable

from ocrlive.events import WorkerState
from ocrlive.ocr.pool_state import PoolClosed, WorkerCrashed, _Pending, _Slot, _Worker
from ocrlive.ocr.types import EngineConfig, OcrResult
from ocrlive.ocr.worker import Stop, WorkerProcess

log = logging.getLogger("ocrlive.ocr.pool")

WATCH_INTERVAL_S = 0.25
RETIRE_GRACE_S = 10.0  # a recycled worker is idle: Stop should end it in milliseconds
CLOSED_PIPE_GRACE_S = 1.0  # a child that closed its pipe but lingers is of no use
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0


class WorkerLifecycle:
    """What OcrPool sets up in its __init__, and the hooks it provides."""

    _config: EngineConfig
    _factory: str
    _start_timeout: float
    _ctx: multiprocessing.context.SpawnContext
    _slots: list[_Slot]
    _retiring: list[_Worker]  # replaced, not yet exited
    _reaping: list[_Worker]  # exited; reader thread and pipe to release
    _loop: asyncio.AbstractEventLoop | None
    _watch: asyncio.TimerHandle | None
    _changed: asyncio.Event
    _close_done: asyncio.Event | None
    # Why workers were replaced: crashed, hung, timeout, cancel_unanswered, max_tasks,
    # max_rss, start_failed (exported by /metrics).
    restart_causes: Counter[str]

    @property
    def _closing(self) -> bool:
        return self._close_done is not None

    def _on_message(self, worker: _Worker, message: object) -> None:
        raise NotImplementedError

    def _settle(self, pending: _Pending, result: OcrResult | None, error: Exception | None) -> None:
        raise NotImplementedError

    def _dispatch(self) -> None:
        raise NotImplementedError

    def _check_alive(self, worker: _Worker) -> None:
        raise NotImplementedError

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
        self.restart_causes["start_failed"] += 1
        slot.last_error = message
        delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (slot.failures - 1))
        log.error("OCR worker %d failed to start: %s (retry in %gs)", slot.index, message, delay)
        slot.respawn = self._loop.call_later(delay, self._spawn, slot)
        self._notify()

    def _retire(self, worker: _Worker, *, kill: bool, cause: str) -> None:
        """Take a worker out of service; its replacement is spawned at once."""
        slot = worker.slot
        worker.state = WorkerState.STOPPING
        if slot.worker is worker:
            slot.worker = None
            slot.restarts += 1
            self.restart_causes[cause] += 1
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
        self.restart_causes["crashed"] += 1
        self._spawn(worker.slot)

    def _on_watch(self) -> None:
        assert self._loop is not None
        for worker in self._workers():
            if worker.proc.exitcode is None:
                self._check_alive(worker)
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
