"""The event log on SQLite: seqs from AUTOINCREMENT's counter, read and written on the
one writer (writer.py; see store/base.py for what a backend must guarantee)."""

from __future__ import annotations

import bisect
import json
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from ocrlive.events import Event, Task
from ocrlive.ocr.types import TaskResult
from ocrlive.store.base import LogTransaction, Plan, Purged, Writes
from ocrlive.store.sqlite import rows
from ocrlive.store.sqlite.indexing import SearchQueue
from ocrlive.store.sqlite.reader import Reads
from ocrlive.store.sqlite.writer import Connection, Writer

EPOCH_KEY = "epoch"
FLOOR_KEY = "purge_floor"
# Retention deletes in chunks, each its own transaction, so task changes queued on the
# writer's thread wait at most one chunk (a few ms), never a whole purge.
COMPACT_CHUNK = 2000
PURGE_CHUNK = 200
# The newest events, kept in memory for replays: a reconnect storm (every browser
# resubscribing with `since` at once) then reads nothing from the database. ~1 KiB an
# event (the Task and its JSON text).
RECENT = 2048


class _Transaction(LogTransaction):
    def __init__(self, conn: Connection, head_sql: str) -> None:
        self.conn = conn
        self.head_sql = head_sql
        self.first: int | None = None
        self.next = 0

    def allocate_seq(self) -> int:
        if self.first is None:
            row = self.conn.execute(self.head_sql).fetchone()
            self.first = self.next = (int(row[0]) if row else 0) + 1
        seq, self.next = self.next, self.next + 1
        return seq

    def get_task(self, task_id: str) -> Task | None:
        row = self.conn.execute(rows.TASK_BY_ID, (task_id,)).fetchone()
        return rows.task_from_row(row) if row else None

    def find_by_idempotency_key(self, key: str) -> Task | None:
        row = self.conn.execute(rows.TASK_BY_KEY, (key,)).fetchone()
        return rows.task_from_row(row) if row else None

    def current_result(self, task_id: str) -> tuple[TaskResult, int] | None:
        row = self.conn.execute(rows.RESULT_REVISION, (task_id,)).fetchone()
        return (cast(TaskResult, json.loads(row[0])), int(row[1])) if row else None

    def current_run(self, task_id: str) -> int | None:
        row = self.conn.execute(rows.CURRENT_RUN, (task_id,)).fetchone()
        return int(row[0]) if row and row[0] is not None else None


@dataclass
class _Opened:
    epoch: str
    head: int
    floor: int


class SqliteEventLog:
    HEAD_SQL = rows.HEAD  # the highest seq ever given (the PostgreSQL log has its own)
    shared = False  # this process is the file's only writer

    def __init__(self, writer: Writer, reader: Reads, *, search_batches: bool = False) -> None:
        self._writer = writer
        self._reader = reader
        # SQLite's full-text index, filled in batches (indexing.py); PostgreSQL indexes
        # by trigger.
        self._search = SearchQueue(writer) if search_batches else None
        self._epoch = ""
        self._head = 0
        # Raised in the writer's transaction before the rows go (see _raise_floor); read
        # on the loop. An int assignment is atomic, and a floor raised early is only
        # conservative: a client gets a snapshot where a replay would have done.
        self._floor = 0
        self._recent: list[Event] = []  # consecutive seqs, the newest last

    @property
    def epoch(self) -> str:
        return self._epoch

    def head(self) -> int:
        return self._head

    def floor(self) -> int:
        return self._floor

    def on_remote(self, deliver: Callable[[list[Event]], None]) -> None:
        """This process is the file's only writer: nothing comes from elsewhere."""

    async def open(self) -> None:
        opened = await self._writer.run(lambda conn: _open(conn, self.HEAD_SQL))
        self._epoch, self._head, self._floor = opened.epoch, opened.head, opened.floor
        if self._search is not None:
            await self._search.open()

    async def close(self) -> None:
        if self._search is not None:
            await self._search.close()
        await self._writer.close()

    async def index_queued(self) -> None:
        """Every stored result is in the search index after this (indexing.py)."""
        if self._search is not None:
            await self._search.flush()

    # --- writing ------------------------------------------------------------

    def append_now(self, plan: Plan) -> list[Event] | None:
        # A few statements (a full search batch is indexed after, on the thread).
        committed = self._writer.run_now(lambda conn: self._write(conn, plan))
        return self._appended(committed[0]) if committed else None

    async def append(self, plan: Plan) -> list[Event]:
        return self._appended(await self._writer.run_short(lambda conn: self._write(conn, plan)))

    def _appended(self, events: list[Event]) -> list[Event]:
        if events:
            self._head = events[-1].seq
            self._remember(events)
        if self._search is not None:
            self._search.written()
        return events

    def _write(self, conn: Connection, plan: Plan) -> list[Event]:
        stored: list[Writes] = []

        def noting(tx: LogTransaction) -> Writes:
            writes = plan(tx)
            stored.append(writes)
            return writes

        events = write_plan(conn, noting, self.HEAD_SQL, retag=True)
        if self._search is not None and stored and stored[0].results:
            writes = stored[0]
            tasks = [*(task for task, _ in writes.inserts), *writes.updates]
            self._search.after_store(conn, writes.results, tasks)
        return events

    def _remember(self, events: list[Event]) -> None:
        if self._recent and self._recent[-1].seq + 1 != events[0].seq:
            self._recent = []  # not consecutive (never expected): start again
        self._recent += events
        if len(self._recent) > 2 * RECENT:
            del self._recent[:-RECENT]

    async def compact(self, finished_before: str) -> int:
        total = 0
        while deleted := await self._writer.run(lambda c: self._compact(c, finished_before)):
            total += deleted
        return total

    def _compact(self, conn: Connection, before: str) -> int:
        query = (f"SELECT seq FROM events WHERE type = {rows.PROGRESS} "
                 f"AND task_id IN ({rows.FINISHED_BEFORE}) ORDER BY seq LIMIT ?")  # fmt: skip
        seqs = [row[0] for row in conn.execute(query, (before, COMPACT_CHUNK))]
        if seqs:
            self._raise_floor(conn, max(seqs))
            conn.executemany("DELETE FROM events WHERE seq = ?", [(s,) for s in seqs])
        return len(seqs)

    async def purge(self, finished_before: str) -> Purged:
        task_ids: list[str] = []
        orphans: list[str] = []
        while True:
            chunk = await self._writer.run(lambda c: self._purge(c, finished_before))
            if not chunk.task_ids:
                return Purged(task_ids, orphans)
            task_ids += chunk.task_ids
            orphans += chunk.orphan_files

    def _purge(self, conn: Connection, before: str) -> Purged:
        query = f"SELECT id, file_path FROM tasks WHERE id IN ({rows.FINISHED_BEFORE}) LIMIT ?"
        doomed = conn.execute(query, (before, PURGE_CHUNK)).fetchall()
        ids = [task_id for task_id, _ in doomed]
        if not ids:
            return Purged([], [])
        marks = ", ".join("?" for _ in ids)
        top = conn.execute(f"SELECT max(seq) FROM events WHERE task_id IN ({marks})", ids)
        self._raise_floor(conn, top.fetchone()[0] or 0)
        for table, column in (("events", "task_id"), ("results", "task_id"), ("tasks", "id")):
            conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids)
        paths = sorted({path for _, path in doomed})
        held = f"SELECT file_path FROM tasks WHERE file_path IN ({', '.join('?' for _ in paths)})"
        still_used = {row[0] for row in conn.execute(held, paths)}
        return Purged(ids, [p for p in paths if p not in still_used])

    def _raise_floor(self, conn: Connection, seq: int) -> None:
        """In the deleting transaction, before the deletes are visible to any reader."""
        floor = max(self._floor, seq)
        conn.execute(rows.SET_META, (FLOOR_KEY, str(floor), str(floor)))
        self._floor = floor

    # --- reading ------------------------------------------------------------

    async def read_since(
        self, since: int | None, epoch: str | None, *, task_id: str | None = None,
        limit: int = 100_000,
    ) -> list[Event] | None:  # fmt: skip
        if not self._replayable(since, epoch):
            return None
        assert since is not None
        recent = self._recent
        if recent and since >= recent[0].seq - 1:  # every event after since is in memory
            start = bisect.bisect_right(recent, since, key=lambda e: e.seq)
            found = [e for e in recent[start:] if task_id is None or e.task.id == task_id]
            return found[:limit]
        # Rows past the head are committed but not yet published here (by this process's
        # journal, or on PostgreSQL by another node's): they reach the client live, so a
        # replay that held them too would send them twice.
        head = self._head
        sql = f"{rows.EVENTS_SINCE} ORDER BY seq LIMIT ?"
        params: list[object] = [since, limit]
        if task_id is not None:
            sql = f"{rows.EVENTS_SINCE_OF_TASK} ORDER BY seq LIMIT ?"
            params = [task_id, *params]
        found = [rows.event_from_row(*row) for row in await self._reader.all(sql, params)]
        found = [event for event in found if event.seq <= head]
        # Checked again: a purge that committed while we read raised the floor first.
        return found if self._replayable(since, epoch) else None

    def _replayable(self, since: int | None, epoch: str | None) -> bool:
        if since is None or epoch != self._epoch:
            return False
        return self._floor <= since <= self._head


def node_name() -> str:
    """How this server process names itself among the nodes of one database."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def _open(conn: Connection, head_sql: str) -> _Opened:
    found = conn.execute(rows.GET_META, (EPOCH_KEY,)).fetchone()
    epoch = found[0] if found else uuid.uuid4().hex[:16]
    if not found:
        conn.execute(rows.SET_META, (EPOCH_KEY, epoch, epoch))
    head = conn.execute(head_sql).fetchone()
    floor = conn.execute(rows.GET_META, (FLOOR_KEY,)).fetchone()
    return _Opened(epoch, int(head[0]) if head else 0, int(floor[0]) if floor else 0)


def write_plan(conn: Connection, plan: Plan, head_sql: str, *, retag: bool = False) -> list[Event]:
    """In the writer's transaction: the plan, then its rows, each kind as
    one executemany. `retag` (SQLite): its search index tags documents with their
    status (`_retag`), and the writer gives a stored result its review-queue row;
    PostgreSQL's search joins the tasks table, and its trigger queues for review."""
    tx = _Transaction(conn, head_sql)
    writes = plan(tx)
    given = [e.seq for e in writes.events]
    if given != list(range(tx.first or 0, tx.next)):
        raise RuntimeError(f"events must carry the seqs the log allocated, got {given[:5]}")
    _store(conn, writes, retag)
    return writes.events


def _retag(conn: Connection, tasks: list[Task], replaced: set[str]) -> None:
    """An indexed document whose status changed is indexed again from its stored result,
    with the new status among its search tags (migrations/versions/0004_search_tags.py).
    Checked here, against the status it was tagged with, rather than by a trigger on
    `tasks`: that one made every task update open the full-text index (+0.7 ms of CPU
    a task, its progress events included). A result stored in this write is indexed
    with it anyway."""
    for task in tasks:
        if task.id in replaced:
            continue
        tagged = conn.execute(rows.TAGGED_STATUS, (task.id,)).fetchone()
        if tagged is not None and tagged[0] != str(task.status):
            conn.execute(rows.REINDEX_RESULT, (task.id,))


def _update(conn: Connection, writes: Writes, retag: bool) -> None:
    """Each changed row as this write leaves it (its last version), a task that only
    progressed with the narrower UPDATE; only a task whose status may have moved can
    need its search tags changed."""
    last = {task.id: task for task in writes.updates}
    moved = [task for task in last.values() if task.id in writes.moved]
    steady = [rows.progress_row(task) for task in last.values() if task.id not in writes.moved]
    if steady:
        conn.executemany(rows.UPDATE_PROGRESS, steady)
    if moved:
        conn.executemany(rows.UPDATE_TASK, [rows.update_row(task) for task in moved])
        if retag:
            _retag(conn, moved, {task_id for task_id, _ in writes.results})


def _store(conn: Connection, writes: Writes, retag: bool) -> None:
    if writes.inserts:
        conn.executemany(rows.INSERT_TASK, [rows.insert_row(t, s) for t, s in writes.inserts])
    if writes.updates:
        _update(conn, writes, retag)
    if writes.owners:
        conn.executemany(rows.SET_OWNER, [(node, task_id) for task_id, node in writes.owners])
    if writes.results:
        ids = [(task_id,) for task_id, _ in writes.results]
        conn.executemany("DELETE FROM results WHERE task_id = ?", ids)
        stored = [(task_id, json.dumps(result), task_id) for task_id, result in writes.results]
        conn.executemany(rows.INSERT_RESULT, stored)
        if retag:  # SQLite's trigger leaves it to the writer (0006_search_batches.py)
            review = (rows.review_row(task_id, result) for task_id, result in writes.results)
            conn.executemany(rows.REVIEW_ROW, [row for row in review if row is not None])
    # The search index, the review queue and the archive of replaced results follow
    # these writes by trigger (migrations/versions/0002_records.py).
    if writes.revisions:
        revised = [(json.dumps(r.result), r.revision, r.task_id) for r in writes.revisions]
        conn.executemany(rows.REVISE_RESULT, revised)
        conn.executemany(rows.INSERT_LINE_EDIT, [rows.line_edit_row(r) for r in writes.revisions])
    if writes.events:
        values = [(e.seq, e.task.id, str(e.type), e.task.dumps(), e.task.updated_at)
                  for e in writes.events]  # fmt: skip
        conn.executemany(rows.INSERT_EVENT, values)
