"""The SQLite backend (the embedded default): one writer (one connection) for every
write, reads on aiosqlite beside it (WAL)."""

from __future__ import annotations

from pathlib import Path

from ocrlive.store.base import Store
from ocrlive.store.database import Database
from ocrlive.store.sqlite.log import SqliteEventLog
from ocrlive.store.sqlite.reader import Reader
from ocrlive.store.sqlite.tasks import SqliteTaskStore
from ocrlive.store.sqlite.writer import SqliteWriter


def open_sqlite(db_path: Path) -> Store:
    """The database must already be migrated (ocrlive.store.db.migrate);
    call `await store.log.open()` before use."""
    reader, writer = Reader(db_path), SqliteWriter(db_path)
    return Store(
        log=SqliteEventLog(writer, reader, search_batches=True), tasks=SqliteTaskStore(reader),
        db=Database(writer, reader),
    )  # fmt: skip
