"""The vocabulary of the whole system: statuses, stages, events, priorities, worker
states and task error codes as StrEnums; the Task snapshot, the Event and the
`Publisher` that tasks/ hands events to (the hub implements it; app.py wires it).

Every layer imports from here, and this module imports nothing of ocrlive: it is the
bottom of the layers. scripts/gen_vocabulary.py writes the same enums as TypeScript
for the frontend (frontend/src/api/vocabulary.ts; a unit test keeps them equal).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Protocol


class TaskStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = frozenset({TaskStatus.QUEUED, TaskStatus.PROCESSING})
FINISHED_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})


class Stage(StrEnum):
    """Where a task stands; the engine reports loading, detecting, recognizing, done."""

    QUEUED = "queued"
    LOADING = "loading"
    DETECTING = "detecting"
    RECOGNIZING = "recognizing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class EventType(StrEnum):
    CREATED = "task.created"
    STARTED = "task.started"
    PROGRESS = "task.progress"
    COMPLETED = "task.completed"
    FAILED = "task.failed"
    CANCELLED = "task.cancelled"
    REQUEUED = "task.requeued"
    CORRECTED = "task.corrected"  # a line of the result was corrected or confirmed


TERMINAL_EVENTS = frozenset({EventType.COMPLETED, EventType.FAILED, EventType.CANCELLED})


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class DocumentType(StrEnum):
    CAUTION_CARD = "caution_card"
    REFERRAL_LETTER = "referral_letter"
    LAB_REPORT = "lab_report"
    DISCHARGE_SUMMARY = "discharge_summary"
    OTHER = "other"


class WorkerState(StrEnum):
    """An OCR worker process, as GET /api/status shows it."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"


class TaskErrorCode(StrEnum):
    """`task.error.code`: why a task failed (docs/protocol.md, task error codes)."""

    UNSUPPORTED_TYPE = "unsupported_type"
    UNREADABLE_DOCUMENT = "unreadable_document"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_MANY_PAGES = "too_many_pages"
    ENGINE_ERROR = "engine_error"
    TIMEOUT = "timeout"
    WORKER_CRASHED = "worker_crashed"
    INTERRUPTED = "interrupted"


def utcnow() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Task:
    """A task as clients see it. `version` is the seq of its latest event."""

    id: str
    patient_id: str
    document_type: str
    filename: str
    content_type: str
    size: int
    priority: Priority
    status: TaskStatus
    progress: float
    stage: Stage
    message: str
    pages_done: int
    pages_total: int
    attempts: int
    created_at: str
    updated_at: str
    error: dict[str, str] | None
    version: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def evolve(self, **changes: Any) -> Task:
        """A copy with `changes`, as dataclasses.replace makes it, without its __init__:
        every task change makes two, and replace (18 keyword arguments through the
        frozen __init__) took 13 us to this copy's 4 (measured at load 6)."""
        if not changes.keys() <= _TASK_FIELD_SET:
            return replace(self, **changes)  # raises TypeError naming the unknown field
        state = self.__dict__.copy()
        state.pop("_json", None)  # the text of this one, not of the copy
        state.update(changes)
        task = object.__new__(Task)
        object.__setattr__(task, "__dict__", state)
        return task

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, and this runs for every event.
        return {name: getattr(self, name) for name in _TASK_FIELDS}

    def dumps(self) -> str:
        """The JSON text, made once per Task (it is immutable) for the log and the hub."""
        return self._json

    @cached_property
    def _json(self) -> str:
        return _ENCODER.encode(self.to_json())

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Task:
        """From stored JSON or a row: the enum fields become enums again."""
        return cls(**{
            **values, "status": TaskStatus(values["status"]), "stage": Stage(values["stage"]),
            "priority": Priority(values["priority"]),
        })  # fmt: skip


_TASK_FIELDS = tuple(f.name for f in fields(Task))
_TASK_FIELD_SET = frozenset(_TASK_FIELDS)
# One encoder: json.dumps with any non-default argument builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Event:
    """One entry of the event log, with the task as it was after the event."""

    seq: int
    type: EventType
    task: Task

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS


class Publisher(Protocol):
    """Where committed events go, in seq order (the WebSocket hub, in app.py)."""

    def publish(self, event: Event) -> None: ...
