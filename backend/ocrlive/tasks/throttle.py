"""Progress coalescing: at most one progress event per task per interval."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ocrlive.ocr.types import Progress

log = logging.getLogger(__name__)

# (a report, the run it belongs to: the seq of its task.started event, None if unknown)
Emit = Callable[[Progress, int | None], Coroutine[Any, Any, None]]


class ProgressThrottle:
    """Coalesces progress per task: the first report goes out at once, later ones at
    most every `interval`, always the newest; a terminal event drops what is pending.
    `emit` stores one (TaskManager.apply_progress) with the run it came from, so that
    a report held here past a cancel and a retry is refused, not shown as the new run's."""

    def __init__(self, emit: Emit, interval: float) -> None:
        self._emit_one = emit
        self._interval = interval
        self._last: dict[str, float] = {}
        self._pending: dict[str, tuple[Progress, int | None]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._inflight: set[asyncio.Task[None]] = set()

    def offer(self, progress: Progress, run: int | None = None) -> None:
        task_id, now = progress.task_id, time.monotonic()
        last = self._last.get(task_id)
        if last is None or now - last >= self._interval:
            self._emit(progress, run, now)
            return
        self._pending[task_id] = (progress, run)
        if task_id not in self._timers:
            delay = self._interval - (now - last)
            loop = asyncio.get_running_loop()
            self._timers[task_id] = loop.call_later(delay, self._flush, task_id)

    def _flush(self, task_id: str) -> None:
        self._timers.pop(task_id, None)
        pending = self._pending.pop(task_id, None)
        if pending is not None:
            self._emit(*pending, time.monotonic())

    def _emit(self, progress: Progress, run: int | None, now: float) -> None:
        self._last[progress.task_id] = now
        job = asyncio.get_running_loop().create_task(self._emit_one(progress, run))
        self._inflight.add(job)
        job.add_done_callback(self._done)

    def _done(self, job: asyncio.Task[None]) -> None:
        self._inflight.discard(job)
        if not job.cancelled() and job.exception() is not None:
            # A progress event that could not be stored (the database is closing, say)
            # is not worth more than a line: the next one, or the terminal one, follows.
            log.warning("progress event not stored: %r", job.exception())

    def forget(self, task_id: str) -> None:
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        self._pending.pop(task_id, None)
        self._last.pop(task_id, None)
