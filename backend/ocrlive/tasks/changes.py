"""A change to the task registry, as a tagged union built with keywords: a `Creation`
of a new task, or a `Transition` of an existing one (see TaskManager)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ocrlive.events import EventType, Priority, Task, TaskStatus
from ocrlive.ocr.types import TaskResult

Mutation = Callable[[Task], Task]


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
    new: NewTask


@dataclass(frozen=True, kw_only=True, eq=False)
class Transition:
    """`mutate` runs on the task as stored when its status is one of `allowed`; the
    change is logged as `event`, and `result` (a completed task's) stored with it."""

    task_id: str
    event: EventType
    mutate: Mutation
    allowed: frozenset[TaskStatus]
    result: TaskResult | None = None


Change = Creation | Transition
