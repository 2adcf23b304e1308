"""Group commit of task changes: the single writer of tasks and the event log.

Changes queue up while a transaction is in flight; the next transaction takes all of
them, so under load many events share one commit and a few executemany statements
instead of a round of queries each. Events are published in seq order after their
commit, before the next batch starts, so subscribers never see an event that is not
stored, nor one out of order. Active tasks are kept in memory (this is the only
writer), so a change reads no row.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocrlive import events as ev
from ocrlive.errors import ApiError, InvalidState, TaskNotFound
from ocrlive.events import Event, Task, utcnow
from ocrlive.store import writer as sqlw
from ocrlive.store.writer import SqliteWriter
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


@dataclass(eq=False)
class Change:
    """One queued change: a new task (`new`) or a transition of `task_id`."""

    future: asyncio.Future[tuple[Task, bool]]
    new: NewTask | None = None
    task_id: str = ""
    event_type: str = ""
    mutate: Mutation | None = None
    allowed: frozenset[str] = frozenset()
    result: dict[str, Any] | None = None


@dataclass
class Batch:
    seq: int
    now: str = field(default_factory=utcnow)
    inserts: list[tuple[Task, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Task, str | None]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    keys: dict[str, Task] = field(default_factory=dict)
    outcomes: list[tuple[Change, tuple[Task, bool] | Exception]] = field(default_factory=list)


class Journal:
    def __init__(self, writer: SqliteWriter, hub: Hub) -> None:
        self.writer = writer
        self.hub = hub
        self._queue: list[Change] = []
        self._flusher: asyncio.Task[None] | None = None
        # Touched only on the writer thread, inside a batch.
        self._active: dict[str, Task] = {}

    async def submit(self, change: Change) -> tuple[Task, bool]:
        self._queue.append(change)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await change.future

    async def _flush(self) -> None:
        try:
            while self._queue:
                changes, self._queue = self._queue, []
                await self._commit(changes)
        finally:
            self._flusher = None

    async def _commit(self, changes: list[Change]) -> None:
        try:
            batch = await self.writer.run(lambda conn: self._apply(conn, changes))
        except Exception as exc:
            for change in changes:
                if not change.future.done():
                    change.future.set_exception(exc)
            return
        for event in batch.events:
            self.hub.publish(event)
        for change, outcome in batch.outcomes:
            if change.future.done():
                continue  # its waiter was cancelled; the change is stored all the same
            if isinstance(outcome, Exception):
                change.future.set_exception(outcome)
            else:
                change.future.set_result(outcome)

    def _apply(self, conn: sqlite3.Connection, changes: list[Change]) -> Batch:
        """On the writer thread, inside its transaction."""
        batch = Batch(seq=sqlw.next_seq(conn))
        try:
            for change in changes:
                self._stage(conn, change, batch)
            sqlw.write_batch(conn, batch.inserts, batch.updates, batch.events, batch.results)
        except BaseException:
            for event in batch.events:  # the cache may be ahead of the rolled-back rows
                self._active.pop(event.task.id, None)
            raise
        return batch

    def _stage(self, conn: sqlite3.Connection, change: Change, batch: Batch) -> None:
        try:
            if change.new is not None:
                outcome = self._stage_new(conn, change.new, batch)
            else:
                outcome = (self._stage_transition(conn, change, batch), True)
        except ApiError as exc:
            batch.outcomes.append((change, exc))
        else:
            batch.outcomes.append((change, outcome))

    def _stage_new(self, conn: sqlite3.Connection, new: NewTask, batch: Batch) -> tuple[Task, bool]:
        key = new.idempotency_key
        if key:
            found = batch.keys.get(key) or sqlw.find_by_key(conn, key)
            if found is not None:
                return found, False
        task = _fresh_task(new, batch.seq, batch.now)
        stored = {"sha256": new.sha256, "file_path": new.file_path, "idempotency_key": key}
        batch.inserts.append((task, stored))
        if key:
            batch.keys[key] = task
        self._record(task, ev.CREATED, batch)
        return task, True

    def _stage_transition(self, conn: sqlite3.Connection, change: Change, batch: Batch) -> Task:
        task = self._active.get(change.task_id) or sqlw.get_task(conn, change.task_id)
        if task is None:
            raise TaskNotFound(change.task_id)
        if task.status not in change.allowed:
            raise InvalidState(f"Task is {task.status}; cannot apply {change.event_type}")
        assert change.mutate is not None
        task = change.mutate(task).evolve(version=batch.seq, updated_at=batch.now)
        finished = batch.now if task.status in ev.FINISHED_STATUSES else None
        batch.updates.append((task, finished))
        if change.result is not None:
            batch.results.append((task.id, change.result))
        self._record(task, change.event_type, batch)
        return task

    def _record(self, task: Task, event_type: str, batch: Batch) -> None:
        batch.events.append(Event(seq=batch.seq, type=event_type, task=task))
        batch.seq += 1
        if task.active:
            self._active[task.id] = task
        else:
            self._active.pop(task.id, None)


def _fresh_task(new: NewTask, seq: int, now: str) -> Task:
    return Task(
        id=uuid.uuid4().hex, patient_id=new.patient_id, document_type=new.document_type,
        filename=new.filename, content_type=new.content_type, size=new.size,
        priority=new.priority, status=ev.QUEUED, progress=0.0, stage="queued",
        message="Waiting for a free OCR worker", pages_done=0, pages_total=0, attempts=0,
        created_at=now, updated_at=now, error=None, version=seq,
    )  # fmt: skip
