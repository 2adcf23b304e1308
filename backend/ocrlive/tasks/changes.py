"""A change to the task registry, as a tagged union built with keywords: a `Creation`
of a new task, or a `Transition` of an existing one (see TaskManager)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocrlive.events import EventType, Priority, Task, TaskStatus
from ocrlive.ocr.types import TaskResult
from ocrlive.store.base import LogTransaction, Revision

Mutation = Callable[[Task], Task]
# Makes the next revision of the stored result from what the transaction reads (given
# the batch's time); raises an ApiError, before anything is staged, when it cannot.
Reviser = Callable[[LogTransaction, str], Revision]


@dataclass(frozen=True, kw_only=True)
class NewTask:
    """An accepted upload, ready to be queued."""

    patient_id: str
    document_type: str
    filename: str
    content_type: str
    size: int
    sha256: str
    file_path: str
    priority: Priority = Priority.NORMAL
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Creation:
    """`owner`: the node that queues the new task (tasks.owner), written with its row,
    so that no node ever sees it unowned (tasks/cluster.py)."""

    new: NewTask
    owner: str | None = None


@dataclass(frozen=True, kw_only=True, eq=False)
class Transition:
    """`mutate` runs on the task as stored when its status is one of `allowed`; the
    change is logged as `event`, and `result` (a completed task's) stored with it, or
    the revision that `revise` makes of the stored one (a line edit).

    `run`: the seq of the `task.started` event of the run this change comes from (its
    progress, result, failure or retry); the change applies only while the task is
    processing in that run, so a late result of a run cancelled and retried (on this
    node or another) never completes the new one. `owner`: the node that queues the
    task again with this change (a retry, a re-run), written in the same transaction."""

    task_id: str
    event: EventType
    mutate: Mutation
    allowed: frozenset[TaskStatus]
    result: TaskResult | None = None
    revise: Reviser | None = None
    run: int | None = None
    owner: str | None = None


Change = Creation | Transition
