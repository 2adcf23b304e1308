"""The one writer of the SQLite backend: one plain sqlite3 connection, one transaction
at a time, on its thread or, for a short transaction, on the event loop.

Every write goes through here, task changes and events, the epoch and retention
alike, one transaction per call; so nothing else in this process ever holds SQLite's
write lock. Through SQLAlchemy's async layer a one-event commit took about a dozen
hops to aiosqlite's thread, ~3 ms of CPU; the same statements on a plain connection
take tens of microseconds.

`run_now` (the event log's appends, tasks/journal.py) commits on the loop itself
when it can: with WAL and synchronous=NORMAL a commit does not sync, so a progress
event's statements are ~60-80 us, while the hand-off to the thread and back
(run_in_executor, the future's wake-up, the GIL passed to and fro) cost more than
that again: from TaskManager to the publisher a progress event took 274 us of CPU
with its commit on the thread, 168 inline (0.61x; scripts/bench_journal.py at load
12). It goes inline only when the thread is idle and SQLite's write lock is free at
once (busy_timeout 0); when another process holds the lock (the `ocrlive` CLI), the
caller waits on the thread as `run` does, with the normal busy timeout. `run` keeps
the long jobs (retention chunks, purges, search-index batches) on the thread. The
connection lock below makes sure the thread and the loop never both use the
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ocrlive.store.sqlite.checkpoint import Checkpointer

T = TypeVar("T")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The calls the log makes on its writer's connection: sqlite3's, and the
    PostgreSQL backend's PgConnection, which takes the same SQL text."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> object: ...


class Writer(Protocol):
    """One transaction per call, every write of this process in turn."""

    async def run(self, fn: Callable[[Connection], T]) -> T: ...

    def run_now(self, fn: Callable[[Connection], T]) -> list[T]:
        """A transaction of a few statements, run and committed on the event loop when
        the backend can start it at once: [its result]; [] when it cannot (nothing was
        done; `run` it)."""
        ...

    async def run_short(self, fn: Callable[[Connection], T]) -> T:
        """`run_now` when it can, else `run`."""
        ...

    async def close(self) -> None: ...


# The writer's connection never waits for the lock by itself (inline, waiting would
# block the loop) and never checkpoints inside a COMMIT (checkpoint.py).
PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=0", "wal_autocheckpoint=0")
WAIT = "PRAGMA busy_timeout=10000"  # on the thread: another process may hold the lock
NO_WAIT = "PRAGMA busy_timeout=0"


class SqliteWriter:
    def __init__(self, path: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._path = path
        # Held by whoever uses the connection: the thread, or the loop for one inline
        # transaction (which never waits for it).
        self._lock = threading.Lock()
        # Jobs handed to the thread, and jobs it finished: each written on one side
        # only. Equal when the thread is idle and nothing waits for it, so an inline
        # transaction never overtakes a write submitted before it.
        self._submitted = 0
        self._finished = 0
        self._commits = 0  # counted under the lock
        self._counted = 0  # on the loop: the commits told to the checkpointer
        self._checkpoints = Checkpointer(path)

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below).
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in PRAGMAS:
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction on the writer thread; rolled back if it raises."""
        result = await self._on_thread(lambda: self._waiting(fn))
        self._checkpoint_due()
        return result

    async def run_short(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """As `run`; on the loop when the thread is idle and the write lock is free."""
        committed = self.run_now(fn)
        return committed[0] if committed else await self.run(fn)

    def run_now(self, fn: Callable[[sqlite3.Connection], T]) -> list[T]:
        """[result] when `fn` ran and committed here, on the loop; [] when it must go to
        the thread (nothing was done)."""
        committed = self._inline(fn)
        if committed:
            self._checkpoint_due()
        return committed

    def _inline(self, fn: Callable[[sqlite3.Connection], T]) -> list[T]:
        if self._submitted != self._finished or not self._lock.acquire(blocking=False):
            return []
        try:
            conn = self._open()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                return []  # another process writes: wait for it on the thread
            return [self._transaction(conn, fn)]
        finally:
            self._lock.release()

    def _waiting(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """On the thread: BEGIN IMMEDIATE waits up to busy_timeout for the lock."""
        conn = self._open()
        conn.execute(WAIT)
        try:
            conn.execute("BEGIN IMMEDIATE")
            return self._transaction(conn, fn)
        finally:
            conn.execute(NO_WAIT)

    def _transaction(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """After BEGIN IMMEDIATE, under the lock: `fn`, then COMMIT, or ROLLBACK."""
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            # COMMIT itself fails on a full disk (SQLITE_FULL) and may leave the
            # transaction open: a connection stuck in it would refuse every later BEGIN,
            # and nothing would be written again until a restart.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        self._commits += 1
        return result

    async def _on_thread(self, job: Callable[[], T]) -> T:
        def locked() -> T:
            try:
                with self._lock:
                    return job()
            finally:
                self._finished += 1

        self._submitted += 1
        return await asyncio.get_running_loop().run_in_executor(self._pool, locked)

    def _checkpoint_due(self) -> None:
        commits = self._commits  # an int read: atomic, whatever the thread does
        self._checkpoints.committed(commits - self._counted)
        self._counted = commits

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self._checkpoints.close()
        await self._on_thread(shut)
        self._pool.shutdown(wait=True)
