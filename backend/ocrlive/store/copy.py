"""`ocrlive migrate-to URL`: an existing SQLite installation onto PostgreSQL.

Both databases are brought to the newest schema, then every row is copied in one
PostgreSQL transaction (COPY), ids and seqs unchanged: meta (the epoch, the purge floor,
the audit log's anchor), tasks, events, results with their revisions and line edits,
people, sessions, API tokens, sign-in links and the audit log, whose hash chain still
verifies. Browsers that follow a `since` and `epoch` carry on after the switch, and
people keep their passwords, sessions and tokens. The search index and the review queue
are not copied: PostgreSQL's triggers build them from the results as they arrive. The
target must hold no tasks, events, people or audit rows. Uploaded files and page images
stay in the data folder, where their paths point: keep the same `--data-dir`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg

from ocrlive.store.db import migrate
from ocrlive.store.postgres.connection import libpq_url

# In this order: the archive of replaced results before the results (a result's
# revision is its own), people before what refers to them.
TABLES = ("meta", "tasks", "events", "result_history", "line_edits", "results", "users",
          "sessions", "api_tokens", "login_links", "audit_log")  # fmt: skip
# Columns whose values PostgreSQL's sequences give: moved past the copied ids.
SERIALS = (("events", "seq"), ("line_edits", "id"), ("users", "id"), ("api_tokens", "id"),
           ("audit_log", "id"))  # fmt: skip
MUST_BE_EMPTY = ("tasks", "events", "users", "audit_log")


class TargetNotEmpty(Exception):
    """The PostgreSQL database already holds tasks or events."""


def copy_sqlite_to(db_path: Path, url: str) -> dict[str, int]:
    """Rows copied, by table."""
    migrate(db_path)
    migrate(url)
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        with psycopg.connect(libpq_url(url)) as target, target.transaction():
            _check_empty(target)
            target.execute("DELETE FROM meta")  # an epoch made by a server never used
            counts = {table: _copy(source, target, table) for table in TABLES}
            for table, column in SERIALS:
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"coalesce(max({column}), 0) + 1, false) FROM {table}"
                )
            return counts
    finally:
        source.close()


def _check_empty(target: psycopg.Connection[tuple[int]]) -> None:
    for table in MUST_BE_EMPTY:
        row = target.execute(f"SELECT count(*) FROM {table}").fetchone()
        if row and row[0]:
            raise TargetNotEmpty(f"the target database already holds {row[0]} {table}")


def _copy(source: sqlite3.Connection, target: psycopg.Connection[tuple[int]], table: str) -> int:
    columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
    names = ", ".join(columns)
    copied = 0
    with target.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in source.execute(f"SELECT {names} FROM {table}"):
            copy.write_row(row)
            copied += 1
    return copied
