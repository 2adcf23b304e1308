"""OcrProgressManager: the task registry and its state machine.

Every change of a task updates its row and appends an event to the log in the same
transaction (see journal.py, which also publishes the event after the commit).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocrlive import events as ev
from ocrlive.errors import InvalidState, TaskNotFound
from ocrlive.events import Task
from ocrlive.ocr.types import Progress
from ocrlive.store import repo
from ocrlive.store.db import Database
from ocrlive.tasks.journal import Change, Journal, Mutation, NewTask
from ocrlive.tasks.throttle import ProgressThrottle
from ocrlive.ws.hub import Hub

__all__ = ["NewTask", "TaskManager"]


class TaskManager:
    def __init__(self, db: Database, hub: Hub, *, progress_interval: float = 0.1) -> None:
        self.db = db
        self.hub = hub
        self.progress_interval = progress_interval
        self.epoch = ""
        self.journal = Journal(db.writer, hub)
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
        future: asyncio.Future[tuple[Task, bool]] = asyncio.get_running_loop().create_future()
        return await self.journal.submit(Change(future=future, new=new))

    async def transition(
        self, task_id: str, event_type: str, change: Mutation, *, allowed: frozenset[str],
        result: dict[str, Any] | None = None,
    ) -> Task:  # fmt: skip
        """Apply one change to a task; stored with its event, then published."""
        future: asyncio.Future[tuple[Task, bool]] = asyncio.get_running_loop().create_future()
        queued = Change(future, None, task_id, event_type, change, allowed, result)
        task, _ = await self.journal.submit(queued)
        if event_type in ev.TERMINAL_EVENTS or event_type == ev.REQUEUED:
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
