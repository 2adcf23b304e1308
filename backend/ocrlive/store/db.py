"""The SQLite engine: WAL, one writer, migrations at start."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ocrlive.store.writer import SqliteWriter

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL
    # mode except for the last transactions on power loss, not on a process crash.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(db_path: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db_path}")
    return cfg


def migrate(db_path: Path) -> None:
    """Bring the database to the newest revision (synchronous; run before serving)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(db_path), "head")


class Database:
    """Reads through the async engine (WAL: they never wait for the writer). Task
    changes and events are written by `writer` (one connection, one thread); the rare
    other writes (the epoch, retention) go through `write()`, and SQLite's lock with
    busy_timeout orders them against the writer."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self.engine: AsyncEngine = create_async_engine(f"sqlite+aiosqlite:///{db_path}")
        event.listen(self.engine.sync_engine, "connect", _on_connect)
        self._write_lock = asyncio.Lock()
        self.writer = SqliteWriter(db_path)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.writer.close()
        await self.engine.dispose()
