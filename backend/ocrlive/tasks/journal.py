"""Group commit of task changes, and the publish policy.

A change submitted while nothing is queued or committing is committed at once when
the log can do it without leaving the event loop (`append_now`: SQLite's writer idle);
otherwise changes queue up while a transaction is in flight, and the next
`EventLog.append` takes all of them, so under load many events share one commit.
Events are published in seq order right after their commit, before the next batch
starts, so subscribers never see an event that is not stored, nor one out of order.
The seqs themselves are the log's business (store/base.py). Active tasks are kept in
memory (the journal is the only writer), so a change reads no row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ocrlive.errors import ApiError, InvalidState, StaleRun, TaskNotFound
from ocrlive.events import (
    FINISHED_STATUSES,
    Event,
    EventType,
    Publisher,
    Stage,
    Task,
    TaskStatus,
    utcnow,
)  # fmt: skip
from ocrlive.store.base import EventLog, LogTransaction, StoredFile, Writes
from ocrlive.tasks.changes import Change, Creation, NewTask, Transition
from ocrlive.tasks.live import LiveTasks

log = logging.getLogger(__name__)

Outcome = tuple[Task, bool]


@dataclass
class _Batch:
    """One transaction's worth of changes, staged inside the log's transaction."""

    tx: LogTransaction
    now: str = field(default_factory=utcnow)
    writes: Writes = field(default_factory=Writes)
    keys: dict[str, Task] = field(default_factory=dict)
    # Tasks as this batch left them: the rows are written only after planning, so a
    # second change of a task in the same batch must see the first, not the stored row
    # (a late progress report read the row of a task completed just before it, and
    # wrote it back as processing).
    staged: dict[str, Task] = field(default_factory=dict)
    # The run each task started in this batch (the seq of its task.started event): not
    # in the table yet, and a run fence must see it (see _check_run).
    runs: dict[str, int] = field(default_factory=dict)
    outcomes: list[tuple[Change, Outcome | ApiError]] = field(default_factory=list)


class Journal:
    def __init__(self, log: EventLog, publisher: Publisher, live: LiveTasks) -> None:
        self.log = log
        self.publisher = publisher
        self.live = live
        self._queue: list[tuple[Change, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # Touched on the writer's side inside a batch, and on the loop only between
        # batches (one flusher at a time).
        self._active: dict[str, Task] = {}
        # The current run of each active task (the seq of its task.started), for the
        # run fence (_check_run) on an unshared log, where this process starts every
        # run: a progress report then reads no row for it.
        self._runs: dict[str, int] = {}
        self.listeners: list[Callable[[list[Event]], None]] = []  # TaskManager.on_remote

    def remote(self, events: list[Event]) -> None:
        """Events another node committed (between this node's batches, in seq order):
        applied and published like ours."""
        for event in events:
            self.live.apply(event)
            try:
                self.publisher.publish(event)
            except Exception:  # stored all the same
                log.exception("publishing event %d failed", event.seq)
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:  # the events are applied all the same
                log.exception("a listener of other nodes' events failed")

    async def submit(self, change: Change) -> Outcome:
        if self._flusher is None and not self._queue:  # nothing before it: it is next
            outcome = self._commit_now(change)
            if isinstance(outcome, ApiError):
                raise outcome
            if outcome is not None:
                return outcome
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((change, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                queued, self._queue = self._queue, []
                await self._commit(queued)
        finally:
            self._flusher = None

    async def _commit(self, queued: list[tuple[Change, asyncio.Future[Outcome]]]) -> None:
        futures = dict(queued)
        staged: list[_Batch] = []
        try:
            await self.log.append(lambda tx: self._plan(tx, [c for c, _ in queued], staged))
        except Exception as exc:
            self._forget(staged)
            for future in futures.values():
                if not future.done():
                    future.set_exception(exc)
            return
        batch = staged[0]
        self._publish(batch)
        for change, outcome in batch.outcomes:
            future = futures[change]
            if future.done():
                continue  # its waiter was cancelled; the change is stored all the same
            if isinstance(outcome, ApiError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _commit_now(self, change: Change) -> Outcome | ApiError | None:
        """Committed and published without leaving the loop, when the log can commit at
        once (SQLite's writer idle): through the flusher task a progress event took
        two more loop turns before it was published, and 10-20% more CPU in all
        (measured with the commit on the loop either way). None when it cannot
        (nothing was done: the change queues)."""
        staged: list[_Batch] = []
        try:
            events = self.log.append_now(lambda tx: self._plan(tx, [change], staged))
        except Exception:
            self._forget(staged)
            raise
        if events is None:
            return None
        self._publish(staged[0])
        return staged[0].outcomes[0][1]

    def _publish(self, batch: _Batch) -> None:
        for event in batch.writes.events:  # no await from the log's head to here
            self.live.apply(event)
            try:
                self.publisher.publish(event)
            except Exception:  # stored all the same; its waiters must still hear of it
                log.exception("publishing event %d failed", event.seq)

    def _forget(self, staged: list[_Batch]) -> None:
        """After a rollback the cache may be ahead of the rows: drop what it staged."""
        for batch in staged:
            for event in batch.writes.events:
                self._active.pop(event.task.id, None)
                self._runs.pop(event.task.id, None)

    def _plan(self, tx: LogTransaction, changes: list[Change], staged: list[_Batch]) -> Writes:
        """Inside the log's transaction: each change checked and staged, in order."""
        batch = _Batch(tx)
        staged.append(batch)
        for change in changes:
            try:
                if isinstance(change, Creation):
                    outcome: Outcome = self._stage_new(change.new, change.owner, batch)
                else:
                    outcome = (self._stage_transition(change, batch), True)
            except ApiError as exc:
                batch.outcomes.append((change, exc))
            else:
                batch.outcomes.append((change, outcome))
        return batch.writes

    def _stage_new(self, new: NewTask, owner: str | None, batch: _Batch) -> Outcome:
        key = new.idempotency_key
        if key:
            found = batch.keys.get(key) or batch.tx.find_by_idempotency_key(key)
            if found is not None:
                return found, False
        task = _fresh_task(new, batch.tx.allocate_seq(), batch.now)
        stored = StoredFile(sha256=new.sha256, file_path=new.file_path, idempotency_key=key)
        batch.writes.inserts.append((task, stored))
        if owner is not None:
            batch.writes.owners.append((task.id, owner))
        if key:
            batch.keys[key] = task
        self._record(task, EventType.CREATED, batch)
        return task, True

    def _stage_transition(self, change: Transition, batch: _Batch) -> Task:
        # On a shared log another node may have changed the task (a cancel there): its
        # row, read under the log's lock, is the truth; this process's copy is not.
        cached = None if self.log.shared else self._active.get(change.task_id)
        task = batch.staged.get(change.task_id) or cached or batch.tx.get_task(change.task_id)
        if task is None:
            raise TaskNotFound(change.task_id)
        if task.status not in change.allowed:
            raise InvalidState(f"Task is {task.status}; cannot apply {change.event}")
        if change.run is not None:
            self._check_run(change, change.run, task, batch)
        if change.revise is not None:  # may raise: before a seq is taken
            batch.writes.revisions.append(change.revise(batch.tx, batch.now))
        seq = batch.tx.allocate_seq()
        changed = change.mutate(task).evolve(version=seq, updated_at=batch.now)
        batch.writes.update(task, changed)
        if change.result is not None:
            batch.writes.results.append((task.id, change.result))
        if change.owner is not None:
            batch.writes.owners.append((task.id, change.owner))
        self._record(changed, change.event, batch)
        return changed

    def _record(self, task: Task, event_type: EventType, batch: _Batch) -> None:
        batch.writes.events.append(Event(seq=task.version, type=event_type, task=task))
        batch.staged[task.id] = task
        if event_type == EventType.STARTED:
            batch.runs[task.id] = task.version
            if not self.log.shared:
                self._runs[task.id] = task.version
        if task.status in FINISHED_STATUSES:
            self._active.pop(task.id, None)
            self._runs.pop(task.id, None)
        else:
            self._active[task.id] = task

    def _check_run(self, change: Transition, run: int, task: Task, batch: _Batch) -> None:
        """A change from a run applies only while the task is processing in that run.
        On a shared log the current run is read inside the transaction (on PostgreSQL
        under the log's lock), so a node whose run was cancelled and retried on another
        node learns it here, however late its result comes. Dropped with a line in the
        log, and no event."""
        current = batch.runs.get(task.id) or self._current_run(task.id, batch.tx)
        if task.status == TaskStatus.PROCESSING and current == run:
            return
        # A cancelled run on another node reads on to its end: its progress, up to ten
        # reports a second, is not worth a line each; its result is.
        level = logging.DEBUG if change.event == EventType.PROGRESS else logging.INFO
        log.log(level, "task %s: %s of an earlier run dropped (run %d; the task is %s, run %s)",
                task.id, change.event, run, task.status, current)  # fmt: skip
        raise StaleRun(f"Task {task.id} is no longer in run {run}")

    def _current_run(self, task_id: str, tx: LogTransaction) -> int | None:
        if self.log.shared:  # another node may have started a newer run
            return tx.current_run(task_id)
        if task_id not in self._runs:  # started before this process (a restart)
            run = tx.current_run(task_id)
            if run is None:
                return None
            self._runs[task_id] = run
        return self._runs[task_id]


def _fresh_task(new: NewTask, seq: int, now: str) -> Task:
    return Task(
        id=uuid.uuid4().hex, patient_id=new.patient_id, document_type=new.document_type,
        filename=new.filename, content_type=new.content_type, size=new.size,
        priority=new.priority, status=TaskStatus.QUEUED, progress=0.0, stage=Stage.QUEUED,
        message="Waiting for a free OCR worker", pages_done=0, pages_total=0, attempts=0,
        created_at=now, updated_at=now, error=None, version=seq,
    )  # fmt: skip
