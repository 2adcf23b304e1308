"""The full-text index filled in batches (migrations/versions/0006_search_batches.py).

A stored result only queues its document in `search_pending`, in the completion's own
transaction (a trigger); the writer thread indexes the queue's pages and empties it:
right after the transaction that fills it to BATCH (in a transaction of its own: the
completion may have committed on the event loop, writer.py, and a full batch is ~40
ms of indexing that must not stall the sockets), a second after it stopped being
empty, before every search (records/sqlite.py awaits `flush`), and when the log opens
(what a crash left queued) and closes. FTS5 writes one segment per transaction that
touched it and merges segments as they pile up (16 of a level at a time, migration
0009): a page cost ~0.53 ms of CPU indexed alone against ~0.21 ms in a transaction of
10-50 pages (a 30,000-page index).

The pages come from the results the writer stored, held parsed until the batch is
indexed: the view that read them back out of the stored JSON (json_each, json_extract)
cost ~0.075 ms of CPU a document, the held rows ~0.01 (timed statement by statement on
a 103,000-document file, 2026-11-30). What a crash left queued is read by the view.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from ocrlive.events import Task
from ocrlive.ocr.types import TaskResult
from ocrlive.store.sqlite.writer import Connection, Writer

# Documents a transaction. Its commit (FTS5's new segment and the merges it pays for) was
# the largest part left: ~0.20 ms of CPU a document at 32, ~0.15 at 128 (a 103,000-
# document index, 2026-11-30). A search that finds a full queue waits for it: ~40 ms.
BATCH = 128
DELAY_S = 1.0  # the longest a document waits when nobody searches
QUEUED = "SELECT count(*) FROM search_pending"
# The view tags each page as its task is now: a status that moved while queued had the
# writer index the document at once (log.py's retag), so search_docs.status agrees.
PAGES = "SELECT id, body, tags, task_id, page FROM search_pending_pages"
INSERT_PAGE = "INSERT INTO search_pages (rowid, body, tags, task_id, page) VALUES (?, ?, ?, ?, ?)"
EMPTY = "DELETE FROM search_pending"
# CROSS JOIN keeps the queue the outer loop: with a plain JOIN the planner (no stats on
# either table) walked all of search_docs' index for it, 0.13-0.2 ms of CPU a completion
# at 185,000 pages, and the batch's inserts after it cost 3x more (0.2-0.3 against
# 0.06-0.07 ms a completion): a batch's statements went from 0.43-0.71 ms of the
# writer thread's CPU a completion to 0.05-0.08 (scripts/bench_search.py's write path,
# 2026-11-30).
QUEUED_DOCS = (
    "SELECT q.task_id, d.id FROM search_pending AS q "
    "CROSS JOIN search_docs AS d ON d.task_id = q.task_id"
)
# A queued document's search tags and its pages' (text, number), as the writer stored them.
Held = tuple[str, list[tuple[Any, Any]]]


def page_tags(task: Task) -> str:
    """Migration 0004's tags_sql, written as SQLite's hex() writes them, from the task
    as the writer stored it."""
    values = (task.patient_id, task.document_type, task.status)
    p, t, s = (str(v).encode().hex().upper() for v in values)
    c = task.created_at
    month = c[:4] + c[5:7]
    return f"p{p} t{t} s{s} e{c[:3]} y{c[:4]} m{month} d{month}{c[8:10]}"


def index_queue(conn: Connection, held: Mapping[str, Held] | None = None) -> None:
    """In the caller's transaction: every queued document into the full-text index,
    row by row (an INSERT ... SELECT into FTS5 cost twice the CPU). Their pages come
    from `held` when it has every one (read back from the stored JSON by the view they
    cost ~0.075 ms of CPU a document); a queue left by a crash is read by the view."""
    rows = _held_rows(conn, held) if held else None
    if rows is None:
        rows = conn.execute(PAGES).fetchall()
    conn.executemany(INSERT_PAGE, rows)
    conn.execute(EMPTY)


def _held_rows(conn: Connection, held: Mapping[str, Held]) -> list[tuple[Any, ...]] | None:
    docs = conn.execute(QUEUED_DOCS).fetchall()
    if not all(task_id in held for task_id, _ in docs):
        return None
    return [(doc * 65536 + key, text, held[task_id][0], task_id, number)
            for task_id, doc in docs
            for key, (text, number) in enumerate(held[task_id][1])]  # fmt: skip


def _held(result: TaskResult, task: Task) -> Held:
    return page_tags(task), [(p.get("text"), p.get("number")) for p in result.get("pages") or []]


class SearchQueue:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        # Written in the writer's transactions (an int: atomic), read on the loop.
        self.queued = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        # The queued results' pages, touched only inside the writer's transactions (one
        # at a time, on its thread or the loop); a document that left the queue (a
        # correction, a retag, a purge indexed or forgot it) is passed over.
        self._held: dict[str, Held] = {}

    def after_store(
        self, conn: Connection, results: Sequence[tuple[str, TaskResult]], tasks: Sequence[Task]
    ) -> None:
        """In the transaction that stored `results` (their tasks as written among
        `tasks`): their pages held, and how many documents wait."""
        written = {task.id: task for task in tasks}
        for task_id, result in results:
            task = written.get(task_id)
            if task is None:  # not held: the view reads it
                self._held.pop(task_id, None)
            else:
                self._held[task_id] = _held(result, task)
        self.queued = int(conn.execute(QUEUED).fetchone()[0])
        if not self.queued:  # nothing queued (no index trigger): nothing to hold
            self._held = {}

    def _flush(self, conn: Connection) -> None:
        index_queue(conn, self._held)
        self._held = {}
        self.queued = 0

    def written(self) -> None:
        """On the loop after a write: a full batch goes to the writer's thread at the
        next loop turn (a write after that waits there behind it); a queue left
        waiting, DELAY_S later."""
        if self.queued >= BATCH and (self._flushing is None or self._flushing.done()):
            self._start_flush()
        elif self.queued and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DELAY_S, self._due)

    def _due(self) -> None:
        self._timer = None
        self._start_flush()

    def _start_flush(self) -> None:
        self._flushing = asyncio.create_task(self.flush(), name="ocrlive-search-queue")

    async def flush(self) -> None:
        """Index whatever is queued: every stored result is searchable after this."""
        if self.queued:
            await self._writer.run(self._flush)

    async def open(self) -> None:
        await self._writer.run(self._flush)  # what a crash or a copy left queued

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._flushing
        await self.flush()
