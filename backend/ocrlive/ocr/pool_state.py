"""The pool's bookkeeping: its errors, jobs, slots and workers (see ocrlive.ocr.pool)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ocrlive.events import WorkerState
from ocrlive.ocr.types import OcrJob, OcrResult, Progress
from ocrlive.ocr.worker import WorkerProcess


class TaskTimedOut(Exception):
    """The job ran past task_timeout; its worker was killed and replaced."""


class WorkerCrashed(Exception):
    """The worker died while running the job; a replacement was spawned."""


class SchedulerLost(Exception):
    """The Dask executor lost its scheduler mid-document (restarted, or unreachable):
    the document's fault in no way; it is read again once the scheduler is back."""


class StorageFault(Exception):
    """The job failed on the server's disk (full, I/O error), not on the document."""


class PoolClosed(Exception):
    """The pool is closed, or closed while the job waited or ran."""


class WorkerStartFailed(RuntimeError):
    """A worker could not load its engine; the message is the child's error."""


@dataclass(eq=False)
class _Pending:
    job: OcrJob
    on_progress: Callable[[Progress], None]
    future: asyncio.Future[OcrResult]
    seq: int = 0  # dispatch number, so a late Cancel never reaches a later job
    worker: _Worker | None = None
    cancelled: bool = False
    started: bool = False  # its worker reported on it: a hang from now on is the job's


@dataclass(eq=False)
class _Slot:
    index: int
    worker: _Worker | None = None
    restarts: int = 0
    failures: int = 0  # consecutive start failures, for the respawn backoff
    last_error: str | None = None
    respawn: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class _Worker:
    slot: _Slot
    exited: asyncio.Future[None]
    state: WorkerState = WorkerState.STARTING
    ready: bool = False
    pending: _Pending | None = None
    tasks_done: int = 0
    rss_mb: float | None = None
    start_error: str | None = None
    channel_closed: bool = False
    finished: bool = False
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_seen: float = 0.0  # loop time of its last message (heartbeats included)
    proc: WorkerProcess = field(init=False)


def describe(slot: _Slot, worker: _Worker | None) -> dict[str, object]:
    # An empty slot is waiting out its start-failure backoff.
    pending = worker.pending if worker else None
    return {
        "slot": slot.index,
        "pid": worker.proc.pid if worker else None,
        "state": worker.state if worker else WorkerState.STARTING,
        "task_id": pending.job.task_id if pending else None,
        "tasks_done": worker.tasks_done if worker else 0,
        "rss_mb": worker.rss_mb if worker else None,
        "started_at": worker.started_at.isoformat(timespec="seconds") if worker else None,
        "restarts": slot.restarts,
        "error": slot.last_error,
    }
