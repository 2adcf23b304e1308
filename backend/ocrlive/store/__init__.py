"""Persistence: the event log and the task store (base.py: the interface and what a
backend must guarantee), the schema (models.py; db.py runs the migrations), and the backends:
sqlite/ (the embedded default) and postgres/ (several nodes on one database)."""

from __future__ import annotations

from pathlib import Path

from ocrlive.store.base import Store
from ocrlive.store.db import is_url


def open_store(database: Path | str) -> Store:
    """A SQLite file (a path) or a PostgreSQL URL; migrated already (store.db.migrate).
    Call `await store.log.open()` before use."""
    if is_url(database):
        from ocrlive.store.postgres import open_postgres  # psycopg: only when asked for

        return open_postgres(str(database))
    from ocrlive.store.sqlite import open_sqlite

    return open_sqlite(Path(database))
