"""The storage interface: the event log and the task store, one backend behind each.

SQLite (store/sqlite/) is the embedded default; a PostgreSQL backend implements the
same two protocols. Nothing above store/ knows how a seq is made or where rows live.

What a backend must guarantee (the replay property test and the restart test hold
any backend to it):

- **Seqs are gapless and commit order is seq order.** `append` gives the events of
  one transaction consecutive seqs, starting right after the highest seq ever given
  (never reused, even after the newest events were purged); a transaction that rolls
  back gives none away. On SQLite the single writer (one connection, one transaction
  at a time) orders transactions; on PostgreSQL, appends take a transaction-scoped
  advisory lock (`pg_advisory_xact_lock`) before reading the head, so two nodes never
  interleave.
- **Rows and events commit together.** The task rows, results and events of one
  `Writes` are stored in one transaction, or none of them is.
- **The plan runs inside the transaction.** `append(plan)` calls `plan` once, after
  the write lock is taken and before anything is written, on the thread or
  connection that holds it: what it reads through `LogTransaction` is current.
- **The floor covers every hole.** Events may be deleted (`compact`, `purge`); the
  floor is then raised to at least the highest deleted seq, in the same transaction.
  `read_since(since)` answers None whenever `since` is below the floor, so a client
  never mistakes a hole for "nothing happened".
- **`head()` is the last seq this process has seen committed** (in memory: it is read
  on every WebSocket hello and subscribe). It is set when `append` returns, so a
  caller that publishes right after (without awaiting) never lets a reader see a head
  ahead of what was published. Other nodes learn of new events by LISTEN/NOTIFY.
- **The epoch names the log** and never changes while its events are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from ocrlive.events import Event, Task
from ocrlive.ocr.types import TaskResult

if TYPE_CHECKING:
    from ocrlive.store.database import Database


class TaskFilter(StrEnum):
    """GET /api/tasks?status=..."""

    ACTIVE = "active"
    FINISHED = "finished"
    ALL = "all"


@dataclass(frozen=True, kw_only=True)
class StoredFile:
    """What a new task's row keeps beside the Task: its document and upload key."""

    sha256: str
    file_path: str
    idempotency_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class LineEdit:
    """One line of a stored result corrected or confirmed: what it was, what it became."""

    page: int  # 1-based page number
    line: int  # 0-based index of the line on its page
    action: str  # correct | confirm
    text_before: str
    text_after: str
    ocr_text: str  # what the engine read, whatever edits came between
    author: str
    created_at: str


@dataclass(frozen=True, kw_only=True)
class Revision:
    """A new revision of a stored result, made by one line edit (records/revisions.py).
    The result is replaced in place; the edit is kept beside it, never overwritten."""

    task_id: str
    result: TaskResult
    revision: int
    edit: LineEdit


# What a progress report never changes. A task whose changes in one write all kept
# these (and so its status, hence finished_at) is stored with a narrower UPDATE, that
# leaves the indexes on status and finished_at alone: a progress event's commit wrote
# 7.5 pages with every column set, 4.5 with these left out.
KEPT_BY_PROGRESS = ("status", "priority", "attempts", "created_at", "error")


@dataclass
class Writes:
    """What one `append` stores: new task rows, changed ones, results (a completion's
    replaces the stored one as the next revision), revised results, the events, and
    the node that now owns a task queued by this transaction (tasks.owner)."""

    inserts: list[tuple[Task, StoredFile]] = field(default_factory=list)
    updates: list[Task] = field(default_factory=list)
    owners: list[tuple[str, str]] = field(default_factory=list)  # (task id, node id)
    results: list[tuple[str, TaskResult]] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    moved: set[str] = field(default_factory=set)  # of `updates`, tasks not kept (above)

    def update(self, before: Task, after: Task) -> None:
        """`after` replaces `before`: the row as stored, or as this write left it."""
        self.updates.append(after)
        if any(getattr(before, name) != getattr(after, name) for name in KEPT_BY_PROGRESS):
            self.moved.add(after.id)


class LogTransaction(Protocol):
    """What a plan sees inside the log's transaction."""

    def allocate_seq(self) -> int:
        """The next seq: consecutive within the transaction, after every seq given."""
        ...

    def get_task(self, task_id: str) -> Task | None: ...

    def find_by_idempotency_key(self, key: str) -> Task | None: ...

    def current_result(self, task_id: str) -> tuple[TaskResult, int] | None:
        """The stored result and its revision, as of this transaction."""
        ...

    def current_run(self, task_id: str) -> int | None:
        """The seq of the task's newest `task.started` event (its current run), as of
        this transaction; None if it never started."""
        ...


Plan = Callable[[LogTransaction], Writes]


@dataclass(frozen=True)
class Purged:
    """Tasks deleted by retention, and their documents that no other task holds."""

    task_ids: list[str]
    orphan_files: list[str]


class EventLog(Protocol):
    """The append-only log of task events; the only writer of task rows as well."""

    @property
    def epoch(self) -> str: ...

    async def open(self) -> None:
        """Create or read the epoch; learn the head and the floor."""
        ...

    async def append(self, plan: Plan) -> list[Event]:
        """Run `plan` in one transaction, store its writes; the committed events."""
        ...

    def append_now(self, plan: Plan) -> list[Event] | None:
        """`append` without leaving the event loop, when the backend can commit at once
        (SQLite, its writer idle and the write lock free): the committed events; None
        when it cannot, having done nothing (then `append`)."""
        ...

    async def read_since(
        self, since: int | None, epoch: str | None, *, task_id: str | None = None,
        limit: int = 100_000,
    ) -> list[Event] | None:  # fmt: skip
        """Every event after `since` (of `task_id`, if given), in seq order, at most
        `limit`; None when the log cannot say exactly: no position, another epoch,
        a position past the head, or one below the floor."""
        ...

    def head(self) -> int: ...

    async def index_queued(self) -> None:
        """Index the results whose full-text indexing waits for a batch (SQLite,
        store/sqlite/indexing.py); a search calls it first. PostgreSQL indexes at once."""
        ...

    @property
    def shared(self) -> bool:
        """Other processes append to this log too (nodes on one PostgreSQL): a task's
        row may have changed since this process last wrote it."""
        ...

    def on_remote(self, deliver: Callable[[list[Event]], None]) -> None:
        """Events that other processes (other nodes on one PostgreSQL) committed, in seq
        order and before any later event of this process: `deliver` is called in the
        event loop. A SQLite file has one writer: it never calls it."""
        ...

    def floor(self) -> int:
        """Every event deleted so far has a seq at or below this."""
        ...

    async def compact(self, finished_before: str) -> int:
        """Drop the progress events of tasks finished before that time; how many."""
        ...

    async def purge(self, finished_before: str) -> Purged:
        """Delete tasks finished before that time, with their events and results."""
        ...

    async def close(self) -> None: ...


class TaskStore(Protocol):
    """Reads of tasks and results (they never wait for the log's writer)."""

    async def get(self, task_id: str) -> Task | None: ...

    async def file_path(self, task_id: str) -> str | None: ...

    async def find_by_idempotency_key(self, key: str) -> Task | None: ...

    async def identity(self, task_id: str) -> tuple[str, str, str] | None:
        """(sha256, patient_id, document_type): what an Idempotency-Key stands for."""
        ...

    async def list(self, which: TaskFilter, limit: int) -> Sequence[Task]: ...

    async def unfinished(self) -> Sequence[Task]:
        """Queued and processing tasks, oldest first (for recovery after a restart)."""
        ...

    async def snapshot(self, finished_limit: int) -> Sequence[Task]:
        """Every active task, then the newest finished ones: the `tasks` snapshot."""
        ...

    async def result(self, task_id: str) -> TaskResult | None: ...

    async def count_by_status(self) -> dict[str, int]:
        """How many tasks have each status (for /metrics)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Store:
    """One backend's log and task store, opened together by app.py; `db` reaches the
    people and audit tables through the same single writer."""

    log: EventLog
    tasks: TaskStore
    db: Database

    async def close(self) -> None:
        await self.log.close()
        await self.tasks.close()
