"""The PostgreSQL backend (`OCRLIVE_DATABASE_URL=postgresql+psycopg://...`): the same
tables and migrations as SQLite, the same SQL text, one writer thread per node, and
an advisory lock and LISTEN/NOTIFY between nodes (see log.py)."""

from __future__ import annotations

from ocrlive.store.base import Store
from ocrlive.store.database import Database
from ocrlive.store.postgres.connection import PgReader, PgWriter
from ocrlive.store.postgres.log import PgEventLog
from ocrlive.store.sqlite.tasks import SqliteTaskStore


def open_postgres(url: str, *, lock: bool = True) -> Store:
    """The database must already be migrated; call `await store.log.open()` before use.
    `lock=False` is for the benchmark's baseline only (see log.py)."""
    reader, writer = PgReader(url), PgWriter(url, lock=lock)
    log = PgEventLog(writer, reader)
    return Store(log=log, tasks=SqliteTaskStore(reader), db=Database(writer, reader))
