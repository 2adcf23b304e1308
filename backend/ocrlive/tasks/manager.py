"""TaskManager: the task registry and its state machine.

Every change of a task updates its row and appends an event to the log in the same
transaction (journal.py groups them and publishes each event after its commit).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ocrlive.errors import InvalidState, TaskNotFound, scrub_paths
from ocrlive.events import (
    ACTIVE_STATUSES,
    TERMINAL_EVENTS,
    Event,
    EventType,
    Publisher,
    Stage,
    Task,
    TaskErrorCode,
    TaskStatus,
)  # fmt: skip
from ocrlive.ocr.types import Progress, TaskResult
from ocrlive.records.revisions import EditRequest, revise_line, validate_edit
from ocrlive.store.base import LogTransaction, Revision, Store
from ocrlive.tasks.changes import Creation, Mutation, NewTask, Reviser, Transition
from ocrlive.tasks.journal import Journal
from ocrlive.tasks.live import LiveTasks
from ocrlive.tasks.throttle import ProgressThrottle

__all__ = ["NewTask", "TaskManager"]

_PROCESSING = frozenset({TaskStatus.PROCESSING})
_COMPLETED = frozenset({TaskStatus.COMPLETED})


class TaskManager:
    def __init__(
        self, store: Store, publisher: Publisher, *, progress_interval: float = 0.1,
        snapshot_finished: int = 200,
    ) -> None:  # fmt: skip
        self.store = store
        self.progress_interval = progress_interval
        self.live = LiveTasks(snapshot_finished)
        self.journal = Journal(store.log, publisher, self.live)
        self._throttle = ProgressThrottle(self.apply_progress, progress_interval)
        # The node on whose behalf this manager queues tasks (set by the Runner from its
        # Cluster; None: alone with its database). A task it creates or queues again
        # is owned by this node in the same transaction (tasks/cluster.py).
        self.owner: str | None = None

    @property
    def epoch(self) -> str:
        return self.store.log.epoch

    def on_remote(self, listener: Callable[[list[Event]], None]) -> None:
        """`listener` hears other nodes' events (PostgreSQL), in seq order, in the loop,
        once they are applied and published here."""
        self.journal.listeners.append(listener)

    async def start(self) -> None:
        # Before open: on PostgreSQL the log follows other nodes from the moment it opens.
        self.store.log.on_remote(self.journal.remote)
        await self.store.log.open()
        await self.live.load(self.store.tasks)

    async def get(self, task_id: str) -> Task:
        task = await self.store.tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task

    async def create(self, new: NewTask) -> tuple[Task, bool]:
        """Store a new queued task; with a known idempotency key, the existing one."""
        return await self.journal.submit(Creation(new=new, owner=self.owner))

    async def transition(
        self, task_id: str, event: EventType, mutate: Mutation, *,
        allowed: frozenset[TaskStatus], result: TaskResult | None = None,
        revise: Reviser | None = None, run: int | None = None, owner: str | None = None,
    ) -> Task:  # fmt: skip
        """Apply one change to a task; stored with its event, then published. `run`:
        the run it comes from (changes.Transition); StaleRun if that run is over.
        `owner`: the node that queues the task with this change."""
        change = Transition(
            task_id=task_id, event=event, mutate=mutate, allowed=allowed, result=result,
            revise=revise, run=run, owner=owner,
        )  # fmt: skip
        task, _ = await self.journal.submit(change)
        if event in TERMINAL_EVENTS or event == EventType.REQUEUED:
            self._throttle.forget(task_id)
        return task

    async def mark_started(self, task_id: str) -> Task:
        """The task's next run; its `version` (this event's seq) names the run."""

        def change(t: Task) -> Task:
            return t.evolve(
                status=TaskStatus.PROCESSING, stage=Stage.LOADING, progress=0.0,
                attempts=t.attempts + 1, message="Opening the document", pages_done=0,
                error=None,
            )  # fmt: skip

        allowed = frozenset({TaskStatus.QUEUED})
        return await self.transition(task_id, EventType.STARTED, change, allowed=allowed)

    def report_progress(self, progress: Progress, run: int | None = None) -> None:
        """Called for every step the engine reports; emits at most one event per interval."""
        self._throttle.offer(progress, run)

    async def apply_progress(self, p: Progress, run: int | None = None) -> None:
        def change(t: Task) -> Task:
            done = p.pages_total if p.stage == Stage.DONE else max(0, p.page - 1)
            return t.evolve(
                progress=round(max(t.progress, min(p.progress, 100.0)), 1), stage=p.stage,
                message=p.message, pages_done=done, pages_total=p.pages_total,
            )  # fmt: skip

        # A late report for a task that already finished (or of an earlier run: StaleRun
        # is an InvalidState) has nothing to say.
        with contextlib.suppress(InvalidState, TaskNotFound):
            await self.transition(
                p.task_id, EventType.PROGRESS, change, allowed=_PROCESSING, run=run
            )

    async def complete(self, task_id: str, result: TaskResult, *, run: int | None = None) -> Task:
        pages = len(result["pages"])

        def change(t: Task) -> Task:
            return t.evolve(
                status=TaskStatus.COMPLETED, stage=Stage.DONE, progress=100.0,
                pages_done=pages, pages_total=pages, message=_completed_message(result),
            )  # fmt: skip

        return await self.transition(
            task_id, EventType.COMPLETED, change, allowed=_PROCESSING, result=result, run=run
        )

    async def fail(
        self, task_id: str, code: TaskErrorCode, message: str, *, run: int | None = None
    ) -> Task:
        message = scrub_paths(message)  # engine and OS messages name files on the server

        def change(t: Task) -> Task:
            error = {"code": str(code), "message": message}
            return t.evolve(
                status=TaskStatus.FAILED, stage=Stage.FAILED, message=message, error=error
            )

        allowed = ACTIVE_STATUSES
        return await self.transition(task_id, EventType.FAILED, change, allowed=allowed, run=run)

    async def cancel(self, task_id: str) -> Task:
        def change(t: Task) -> Task:
            return t.evolve(status=TaskStatus.CANCELLED, stage=Stage.CANCELLED, message="Cancelled")

        return await self.transition(task_id, EventType.CANCELLED, change, allowed=ACTIVE_STATUSES)

    async def edit_line(self, task_id: str, edit: EditRequest) -> tuple[Task, Revision]:
        """Correct or confirm one line: the next revision of the result and a
        `task.corrected` event, in one transaction. Only a completed document is
        edited (not one being read again)."""
        validate_edit(edit)
        made: list[Revision] = []

        def revise(tx: LogTransaction, now: str) -> Revision:
            made.append(revise_line(tx, task_id, edit, now))
            return made[-1]

        task = await self.transition(
            task_id, EventType.CORRECTED, lambda t: t, allowed=_COMPLETED, revise=revise
        )
        return task, made[-1]

    async def rerun(self, task_id: str) -> Task:
        """Queue a completed document to be read again; its current text stays (and is
        found by search) until the new reading replaces it as the next revision."""

        def change(t: Task) -> Task:
            return t.evolve(
                status=TaskStatus.QUEUED, stage=Stage.QUEUED, progress=0.0, pages_done=0,
                attempts=0, message="Queued to be read again", error=None,
            )  # fmt: skip

        return await self.transition(
            task_id, EventType.REQUEUED, change, allowed=_COMPLETED, owner=self.owner
        )

    async def requeue(
        self, task_id: str, message: str, *, reset_attempts: bool = False, refund: bool = False,
        run: int | None = None,
    ) -> Task:  # fmt: skip
        """refund: the run that stopped was not the document's fault (its node or the
        Dask scheduler went away), so it is not counted against the document. run: the
        run that stopped (a crash), if this node was reading it."""

        def change(t: Task) -> Task:
            attempts = 0 if reset_attempts else max(0, t.attempts - refund)
            return t.evolve(
                status=TaskStatus.QUEUED, stage=Stage.QUEUED, progress=0.0, message=message,
                pages_done=0, attempts=attempts, error=None,
            )  # fmt: skip

        allowed = ACTIVE_STATUSES if not reset_attempts else _RETRYABLE
        # Whoever queues a task owns it; a run queued again after it stopped (a crash)
        # keeps its owner: if another node took the task over meanwhile, it stays its.
        owner = self.owner if run is None else None
        return await self.transition(
            task_id, EventType.REQUEUED, change, allowed=allowed, run=run, owner=owner
        )


_RETRYABLE = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})


def _completed_message(result: TaskResult) -> str:
    pages = len(result["pages"])
    lines = sum(len(page["lines"]) for page in result["pages"])
    noun = "page" if pages == 1 else "pages"
    return f"Done: {lines} lines of text on {pages} {noun}"
