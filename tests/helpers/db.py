"""Plain SQL on a test's database, whichever backend holds it (a SQLite file or a
PostgreSQL URL): for checks that look at the tables themselves."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from ocrlive.store.postgres.connection import libpq_url, marks


def is_postgres(database: Path | str) -> bool:
    return isinstance(database, str) and "://" in database


def query(database: Path | str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of one statement (`?` marks), committed."""
    if is_postgres(database):
        with psycopg.connect(libpq_url(str(database))) as conn:
            cur = conn.execute(marks(sql), params)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
    with sqlite3.connect(database) as conn:
        return [tuple(r) for r in conn.execute(sql, params).fetchall()]
