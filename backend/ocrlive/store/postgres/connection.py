"""The PostgreSQL backend's connections: one writer (a plain psycopg connection on one
thread, as on SQLite), reads through SQLAlchemy's async engine on psycopg, and the
LISTEN connection that wakes the log when another node commits.

The SQL text is the SQLite backend's (store/sqlite/rows.py, written with `?` marks):
`PgConnection` hands psycopg `%s` marks and offers the sqlite3 calls the log makes
(execute, executemany), so both backends run one copy of the log's logic.
A lost server surfaces as StorageUnavailable (503 `storage_unavailable`, the cause in
the log and /api/status, not in the answer); the next call connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import sqlalchemy.exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ocrlive.errors import StorageUnavailable
from ocrlive.store.db import sqlalchemy_url

T = TypeVar("T")
U = TypeVar("U")

# Every transaction of every node's writer takes this lock first (pg_advisory_xact_lock:
# released at commit or rollback), so transactions that append events commit one after
# another, in the order of their seqs. 0x6f63726c697665 is "ocrlive" in ASCII.
LOG_LOCK = 0x6F63726C697665
CONNECT_TIMEOUT_S = 5


def libpq_url(url: str) -> str:
    """postgresql+psycopg://... (SQLAlchemy's form) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def marks(sql: str) -> str:
    return sql.replace("?", "%s")


class PgConnection:
    """A psycopg connection with the sqlite3 calls the log makes."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.raw.execute(marks(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(marks(sql), list(rows))


@contextlib.contextmanager
def _no_pipeline() -> Iterator[None]:
    yield None


class PgWriter:
    """Every write of this node, one transaction per call, on one thread."""

    def __init__(self, url: str, *, lock: bool = True) -> None:
        self.url = libpq_url(url)
        self._lock = lock  # False only for scripts/bench_pg_log.py's single-node baseline
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-writer")
        self._conn: PgConnection | None = None

    async def run(self, fn: Callable[[PgConnection], T]) -> T:
        """Run `fn` in one transaction holding the log's lock; rolled back if it raises."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._transaction, fn)

    def run_now(self, fn: Callable[[PgConnection], T]) -> list[T]:
        """Never: every statement is a round trip to the server, so a transaction never
        runs on the event loop."""
        return []

    async def run_short(self, fn: Callable[[PgConnection], T]) -> T:
        return await self.run(fn)

    async def run_then(self, fn: Callable[[PgConnection], T], then: Callable[[T], U]) -> U:
        """`fn` in a transaction as `run`, pipelined (below), then `then` (no I/O) on its
        result after the commit, on the same thread before anything else runs there."""

        def both() -> U:
            return then(self._transaction(fn, pipelined=True))

        return await asyncio.get_running_loop().run_in_executor(self._pool, both)

    async def read(self, fn: Callable[[PgConnection], T]) -> T:
        """`fn` outside any transaction, in turn with the writes of this node."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, self._guarded, lambda: self._again_if_stale(lambda: fn(self._open()))
        )

    def _open(self) -> PgConnection:
        if self._conn is None or self._conn.raw.closed:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            self._conn = PgConnection(raw)
        return self._conn

    def _transaction(self, fn: Callable[[PgConnection], T], *, pipelined: bool = False) -> T:
        """Pipelined (libpq's pipeline mode): statements whose results `fn` does not read
        go out together, so an append's BEGIN and lock take one round trip and its
        writes, NOTIFY and COMMIT another, ~4-5 round trips where one each took 9. Not
        for `fn`s that read a cursor's rowcount (the people store): it comes at a sync."""
        started = False

        def locked() -> T:
            nonlocal started
            conn = self._open()
            pipeline = conn.raw.pipeline() if pipelined else _no_pipeline()
            with pipeline as pipe, conn.raw.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(?)" if self._lock else "SELECT 1",
                             (LOG_LOCK,) if self._lock else ())  # fmt: skip
                if pipe is not None:
                    pipe.sync()  # a connection that died while idle fails here
                started = True
                return fn(conn)

        return self._guarded(lambda: self._again_if_stale(locked, lambda: not started))

    def _again_if_stale(self, fn: Callable[[], T], safe: Callable[[], bool] = lambda: True) -> T:
        """A connection that died while idle (the server restarted) fails on its first
        statement: connect again and try once more, when nothing was done (`safe`), so
        the first request after a restart is served rather than answered 503."""
        try:
            return fn()
        except psycopg.OperationalError:
            conn = self._conn
            if conn is None or not (conn.raw.broken or conn.raw.closed) or not safe():
                raise
            self._drop()
            return fn()

    def _guarded(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except psycopg.OperationalError as exc:
            self._drop()
            # The client gets the generic message; the cause (host, port, the server's
            # words) goes to the log and /api/status through __cause__, never to it.
            raise StorageUnavailable() from exc

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.raw.close()
            self._conn = None

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._drop)
        self._pool.shutdown(wait=True)


class PgReader:
    """Reads on SQLAlchemy's async engine; the same SQL text as the SQLite reader."""

    def __init__(self, url: str) -> None:
        # pre_ping: after a restart of the server, a pooled connection is tried first.
        self.engine: AsyncEngine = create_async_engine(sqlalchemy_url(url), pool_pre_ping=True)

    async def all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Sequence[Any]:
        try:
            async with self.engine.connect() as conn:
                return (await conn.exec_driver_sql(marks(sql), tuple(params))).all()
        except (OSError, psycopg.OperationalError, sqlalchemy.exc.DBAPIError) as exc:
            raise StorageUnavailable() from exc

    async def first(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any | None:
        found = await self.all(sql, params)
        return found[0] if found else None

    async def close(self) -> None:
        await self.engine.dispose()
