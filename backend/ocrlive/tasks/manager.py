"""OcrProgressManager: the task registry and its state machine.

Every change of a task is one transaction that updates the task row and appends an
event to the log; the event is published to the hub after the commit, under the same
lock, so subscribers see events in seq order and never an event that was not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocrlive import events as ev
from ocrlive.errors import InvalidState, TaskNotFound
from ocrlive.events import Event, Task, utcnow
from ocrlive.ocr.types import Progress
from ocrlive.store import repo
from ocrlive.store.db import Database
from ocrlive.ws.hub import Hub

Mutation = Callable[[Task], Task]


@dataclass(frozen=True)
class NewTask:
    patient_id: str
    document_type: str
    filename: str
    content_type: str
    size: int
    sha256: str
    file_path: str
    priority: str = "normal"
    idempotency_key: str | None = None


class TaskManager:
    def __init__(self, db: Database, hub: Hub, *, progress_interval: float = 0.1) -> None:
        self.db = db
        self.hub = hub
        self.progress_interval = progress_interval
        self.epoch = ""
        self._lock = asyncio.Lock()
        self._throttle = ProgressThrottle(self, progress_interval)

    async def start(self) -> None:
        async with self.db.write() as conn:
            self.epoch = await repo.ensure_epoch(conn)

    async def get(self, task_id: str) -> Task:
        async with self.db.read() as conn:
            task = await repo.get_task(conn, task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def create(self, new: NewTask) -> tuple[Task, bool]:
        """Store a new queued task; with a known idempotency key, the existing one."""
        async with self._lock:
            async with self.db.write() as conn:
                if new.idempotency_key:
                    found = await repo.find_by_idempotency_key(conn, new.idempotency_key)
                    if found is not None:
                        return found, False
                event = await self._new_task_event(conn, new)
            self.hub.publish(event)
        return event.task, True

    async def _new_task_event(self, conn: Any, new: NewTask) -> Event:
        now, seq = utcnow(), await repo.next_seq(conn)
        task = Task(
            id=uuid.uuid4().hex, patient_id=new.patient_id, document_type=new.document_type,
            filename=new.filename, content_type=new.content_type, size=new.size,
            priority=new.priority, status=ev.QUEUED, progress=0.0, stage="queued",
            message="Waiting for a free OCR worker", pages_done=0, pages_total=0, attempts=0,
            created_at=now, updated_at=now, error=None, version=seq,
        )  # fmt: skip
        await repo.insert_task(
            conn, task, sha256=new.sha256, file_path=new.file_path,
            idempotency_key=new.idempotency_key,
        )  # fmt: skip
        event = Event(seq=seq, type=ev.CREATED, task=task)
        await repo.append_event(conn, event, now)
        return event

    async def transition(
        self, task_id: str, event_type: str, change: Mutation, *, allowed: frozenset[str],
        result: dict[str, Any] | None = None,
    ) -> Task:  # fmt: skip
        """Apply one change to a task in one transaction, then publish its event."""
        async with self._lock:
            async with self.db.write() as conn:
                task = await repo.get_task(conn, task_id)
                if task is None:
                    raise TaskNotFound(task_id)
                if task.status not in allowed:
                    raise InvalidState(f"Task is {task.status}; cannot apply {event_type}")
                now, seq = utcnow(), await repo.next_seq(conn)
                task = change(task).evolve(version=seq, updated_at=now)
                finished = now if task.status in ev.FINISHED_STATUSES else None
                await repo.update_task(conn, task, finished_at=finished)
                if result is not None:
                    await repo.save_result(conn, task_id, result)
                event = Event(seq=seq, type=event_type, task=task)
                await repo.append_event(conn, event, now)
            self.hub.publish(event)
        if event.terminal or event_type == ev.REQUEUED:
            self._throttle.forget(task_id)
        return task

    async def mark_started(self, task_id: str) -> Task:
        def change(t: Task) -> Task:
            return t.evolve(
                status=ev.PROCESSING, stage="loading", progress=0.0, attempts=t.attempts + 1,
                message="Opening the document", pages_done=0, error=None,
            )  # fmt: skip

        return await self.transition(task_id, ev.STARTED, change, allowed=frozenset({ev.QUEUED}))

    def report_progress(self, progress: Progress) -> None:
        """Called for every step the engine reports; emits at most one event per interval."""
        self._throttle.offer(progress)

    async def apply_progress(self, p: Progress) -> None:
        def change(t: Task) -> Task:
            done = p.pages_total if p.stage == "done" else max(0, p.page - 1)
            return t.evolve(
                progress=round(max(t.progress, min(p.progress, 100.0)), 1), stage=p.stage,
                message=p.message, pages_done=done, pages_total=p.pages_total,
            )  # fmt: skip

        allowed = frozenset({ev.PROCESSING})
        # A late report for a task that already finished has nothing to say.
        with contextlib.suppress(InvalidState, TaskNotFound):
            await self.transition(p.task_id, ev.PROGRESS, change, allowed=allowed)

    async def complete(self, task_id: str, result: dict[str, Any]) -> Task:
        pages = len(result.get("pages", []))

        def change(t: Task) -> Task:
            return t.evolve(
                status=ev.COMPLETED, stage="done", progress=100.0, pages_done=pages,
                pages_total=pages, message=_completed_message(pages, result),
            )  # fmt: skip

        allowed = frozenset({ev.PROCESSING})
        return await self.transition(
            task_id, ev.COMPLETED_EVENT, change, allowed=allowed, result=result
        )

    async def fail(self, task_id: str, code: str, message: str) -> Task:
        def change(t: Task) -> Task:
            error = {"code": code, "message": message}
            return t.evolve(status=ev.FAILED, stage="failed", message=message, error=error)

        allowed = ev.ACTIVE_STATUSES
        return await self.transition(task_id, ev.FAILED_EVENT, change, allowed=allowed)

    async def cancel(self, task_id: str) -> Task:
        def change(t: Task) -> Task:
            return t.evolve(status=ev.CANCELLED, stage="cancelled", message="Cancelled")

        allowed = ev.ACTIVE_STATUSES
        return await self.transition(task_id, ev.CANCELLED_EVENT, change, allowed=allowed)

    async def requeue(self, task_id: str, message: str, *, reset_attempts: bool = False) -> Task:
        def change(t: Task) -> Task:
            attempts = 0 if reset_attempts else t.attempts
            return t.evolve(
                status=ev.QUEUED, stage="queued", progress=0.0, message=message,
                pages_done=0, attempts=attempts, error=None,
            )  # fmt: skip

        allowed = ev.ACTIVE_STATUSES if not reset_attempts else frozenset({ev.FAILED, ev.CANCELLED})
        return await self.transition(task_id, ev.REQUEUED, change, allowed=allowed)


def _completed_message(pages: int, result: dict[str, Any]) -> str:
    lines = sum(len(p.get("lines", [])) for p in result.get("pages", []))
    noun = "page" if pages == 1 else "pages"
    return f"Done: {lines} lines of text on {pages} {noun}"


class ProgressThrottle:
    """Coalesces progress per task: the first report goes out at once, later ones at
    most every `interval`, always the newest; a terminal event drops what is pending."""

    def __init__(self, manager: TaskManager, interval: float) -> None:
        self._manager = manager
        self._interval = interval
        self._last: dict[str, float] = {}
        self._pending: dict[str, Progress] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._inflight: set[asyncio.Task[None]] = set()

    def offer(self, progress: Progress) -> None:
        task_id, now = progress.task_id, time.monotonic()
        last = self._last.get(task_id)
        if last is None or now - last >= self._interval:
            self._emit(progress, now)
            return
        self._pending[task_id] = progress
        if task_id not in self._timers:
            delay = self._interval - (now - last)
            loop = asyncio.get_running_loop()
            self._timers[task_id] = loop.call_later(delay, self._flush, task_id)

    def _flush(self, task_id: str) -> None:
        self._timers.pop(task_id, None)
        progress = self._pending.pop(task_id, None)
        if progress is not None:
            self._emit(progress, time.monotonic())

    def _emit(self, progress: Progress, now: float) -> None:
        self._last[progress.task_id] = now
        job = asyncio.get_running_loop().create_task(self._manager.apply_progress(progress))
        self._inflight.add(job)
        job.add_done_callback(self._inflight.discard)

    def forget(self, task_id: str) -> None:
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        self._pending.pop(task_id, None)
        self._last.pop(task_id, None)
