"""The vocabulary of the whole system: task states, stages, events, the Task snapshot."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

QUEUED, PROCESSING, COMPLETED, FAILED, CANCELLED = (
    "queued",
    "processing",
    "completed",
    "failed",
    "cancelled",
)
ACTIVE_STATUSES = frozenset({QUEUED, PROCESSING})
FINISHED_STATUSES = frozenset({COMPLETED, FAILED, CANCELLED})

DOCUMENT_TYPES = ("caution_card", "referral_letter", "lab_report", "discharge_summary", "other")
PRIORITIES = ("normal", "urgent")

CREATED = "task.created"
STARTED = "task.started"
PROGRESS = "task.progress"
COMPLETED_EVENT = "task.completed"
FAILED_EVENT = "task.failed"
CANCELLED_EVENT = "task.cancelled"
REQUEUED = "task.requeued"
EVENT_TYPES = (CREATED, STARTED, PROGRESS, COMPLETED_EVENT, FAILED_EVENT, CANCELLED_EVENT, REQUEUED)
TERMINAL_EVENTS = frozenset({COMPLETED_EVENT, FAILED_EVENT, CANCELLED_EVENT})

# Task error codes beyond the OCR failures of ocrlive.ocr.types.
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
    priority: str
    status: str
    progress: float
    stage: str
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
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        # By hand: dataclasses.asdict deep-copies, and this runs for every event.
        return {name: getattr(self, name) for name in _TASK_FIELDS}

    def dumps(self) -> str:
        """The JSON text, made once per Task (it is immutable) for the log and the hub."""
        return self._json

    @cached_property
    def _json(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))


_TASK_FIELDS = tuple(f.name for f in fields(Task))


@dataclass(frozen=True)
class Event:
    """One entry of the event log, with the task as it was after the event."""

    seq: int
    type: str
    task: Task

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_EVENTS
