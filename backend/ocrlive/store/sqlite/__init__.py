"""The SQLite backend (the embedded default): one writer thread for every write, reads
on aiosqlite beside it (WAL)."""

from __future__ import annotations

from pathlib import Path

from ocrlive.store.base import Store
from ocrlive.store.sqlite.log import SqliteEventLog
from ocrlive.store.sqlite.reader import Reader
from ocrlive.store.sqlite.tasks import SqliteTaskStore
from ocrlive.store.sqlite.writer import SqliteWriter


def open_sqlite(db_path: Path) -> Store:
    """The database must already be migrated (ocrlive.store.db.migrate);
    call `await store.log.open()` before use."""
    reader = Reader(db_path)
    return Store(log=SqliteEventLog(SqliteWriter(db_path), reader), tasks=SqliteTaskStore(reader))
