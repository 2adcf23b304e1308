"""The one writer of the SQLite backend: one plain sqlite3 connection on one thread.

Every write goes through here, task changes and events, the epoch and retention
alike, one transaction per call; so nothing else ever holds SQLite's write lock and
no transaction waits behind busy_timeout. Through SQLAlchemy's async layer a
one-event commit took about a dozen hops to aiosqlite's thread, ~3 ms of CPU; the
same statements on a plain connection take tens of microseconds, which is what keeps
fan-out latency low under steady load.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

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

    async def close(self) -> None: ...


PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000")


class SqliteWriter:
    def __init__(self, path: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._conn: sqlite3.Connection | None = None
        self._path = path

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
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._transaction, fn)

    def _transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._open()
        conn.execute("BEGIN IMMEDIATE")
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
        return result

    async def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._pool, shut)
        self._pool.shutdown(wait=True)
