"""Reads on SQLAlchemy's async engine (aiosqlite): in WAL mode they never wait for
the writer thread. They run the same SQL text as the writer (see rows.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL
    # mode except for the last transactions on power loss, not on a process crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Reads(Protocol):
    """Reads with the backend's driver (SQLite here, or PostgreSQL), `?` marks."""

    async def all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Sequence[Any]: ...

    async def first(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any | None: ...

    async def close(self) -> None: ...


class Reader:
    def __init__(self, db_path: Path) -> None:
        self.engine: AsyncEngine = create_async_engine(f"sqlite+aiosqlite:///{db_path}")
        event.listen(self.engine.sync_engine, "connect", _on_connect)

    async def all(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            return (await conn.exec_driver_sql(sql, tuple(params))).all()

    async def first(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any | None:
        async with self.engine.connect() as conn:
            return (await conn.exec_driver_sql(sql, tuple(params))).first()

    async def close(self) -> None:
        await self.engine.dispose()
