"""The event log's writer: one plain sqlite3 connection on one thread.

Every task change goes through here (ocrlive.tasks.journal), one transaction per
batch. Through SQLAlchemy's async layer a one-event commit took about a dozen hops
to aiosqlite's thread, ~3 ms of CPU; the same statements on a plain connection take
tens of microseconds, which is what keeps fan-out latency low under steady load.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ocrlive.events import Event, Task

T = TypeVar("T")

TASK_COLUMNS = [name for name in Task.__dataclass_fields__ if name != "error"] + [
    "error_code",
    "error_message",
]
_SELECT_TASK = f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks"
_MUTABLE = [c for c in TASK_COLUMNS if c not in {"id", "patient_id", "document_type",
                                                 "filename", "content_type", "size"}]  # fmt: skip
_UPDATE = (
    f"UPDATE tasks SET {', '.join(f'{c} = ?' for c in [*_MUTABLE, 'finished_at'])} WHERE id = ?"
)
_STORED = ["sha256", "file_path", "idempotency_key"]
_INSERT = (
    f"INSERT INTO tasks ({', '.join(TASK_COLUMNS + _STORED)}) "
    f"VALUES ({', '.join('?' for _ in TASK_COLUMNS + _STORED)})"
)


def row_values(task: Task) -> dict[str, Any]:
    values = task.to_json()
    error = values.pop("error")
    values["error_code"] = error["code"] if error else None
    values["error_message"] = error["message"] if error else None
    return values


def task_from_values(row: sqlite3.Row | tuple[Any, ...]) -> Task:
    m = dict(zip(TASK_COLUMNS, row, strict=True))
    code, message = m.pop("error_code"), m.pop("error_message")
    return Task(**m, error={"code": code, "message": message or ""} if code else None)


class SqliteWriter:
    def __init__(self, path: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._path = path

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction on the writer thread; rolled back if it raises."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._transaction, fn)

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._open()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)


def next_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(row[0] if row else 0) + 1


def get_task(conn: sqlite3.Connection, task_id: str) -> Task | None:
    row = conn.execute(f"{_SELECT_TASK} WHERE id = ?", (task_id,)).fetchone()
    return task_from_values(row) if row else None


def find_by_key(conn: sqlite3.Connection, key: str) -> Task | None:
    row = conn.execute(f"{_SELECT_TASK} WHERE idempotency_key = ?", (key,)).fetchone()
    return task_from_values(row) if row else None


def write_batch(
    conn: sqlite3.Connection,
    inserts: list[tuple[Task, dict[str, Any]]],
    updates: list[tuple[Task, str | None]],
    events: list[Event],
    results: list[tuple[str, dict[str, Any]]],
) -> None:
    """One group of changes, each kind as one executemany."""
    if inserts:
        rows = [_insert_row(task, stored) for task, stored in inserts]
        conn.executemany(_INSERT, rows)
    if updates:
        rows = [_update_row(task, finished) for task, finished in updates]
        conn.executemany(_UPDATE, rows)
    if results:
        conn.executemany("DELETE FROM results WHERE task_id = ?", [(t,) for t, _ in results])
        rows = [(t, json.dumps(r)) for t, r in results]
        conn.executemany("INSERT INTO results (task_id, result) VALUES (?, ?)", rows)
    if events:
        rows = [(e.seq, e.task.id, e.type, e.task.dumps(), e.task.updated_at) for e in events]
        sql = "INSERT INTO events (seq, task_id, type, task, created_at) VALUES (?, ?, ?, ?, ?)"
        conn.executemany(sql, rows)


def _insert_row(task: Task, stored: dict[str, Any]) -> tuple[Any, ...]:
    values = row_values(task) | stored
    return tuple(values[c] for c in TASK_COLUMNS + _STORED)


def _update_row(task: Task, finished_at: str | None) -> tuple[Any, ...]:
    values = row_values(task)
    return (*(values[c] for c in _MUTABLE), finished_at, task.id)
