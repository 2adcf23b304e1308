"""The full-text index read once when the server starts, so that the day's first
searches do not wait for the disk.

A server restarted overnight (an upgrade, a reboot) finds its database file out of
the page cache, and a search reads the index's pages at random. Measured on the
bench_search database (132,400 documents, a 2.7 GB file, this machine's virtual disk),
200 phrase queries with no filter, p95 wall with the page cache dropped: 363 ms; 113
ms after the index's own tables (164 MB) were read, 6.4 s; 30 ms after the pages'
text too (FTS5's content table: a phrase's ranking counts its terms in the text of
every matching page), 23.7 s and ~1 GB of page cache, as fast as fully warm (33 ms).
The rest of the file (results with their boxes, tasks) is read per hit, not ahead.

Only the SQLite backend: PostgreSQL keeps its own buffer cache, and a server there is
not restarted with the web nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

log = logging.getLogger(__name__)

# FTS5's shadow tables of search_pages: the term index, the segments, the page sizes
# BM25 needs, the pages' text. Read in the order a search needs them.
TABLES = ("search_pages_idx", "search_pages_data", "search_pages_docsize", "search_pages_content")
ROWS = 256  # per fetch: the stop flag is looked at in between


def warm_search_index(db_path: Path, stop: threading.Event) -> int:
    """Read every row of the index's tables (read-only, beside the writer in WAL);
    returns the rows read. Stops early, between fetches, once `stop` is set."""
    started, count = time.perf_counter(), 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    try:
        for table in _present(conn):
            count += _read_all(conn, table, stop)
            if stop.is_set():
                break
    finally:
        conn.close()
    log.info("search index read ahead: %d rows in %.1f s", count, time.perf_counter() - started)
    return count


def _present(conn: sqlite3.Connection) -> list[str]:
    """The shadow tables this database has (none before the records migration)."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return [table for table in TABLES if table in names]


def _read_all(conn: sqlite3.Connection, table: str, stop: threading.Event) -> int:
    # Every column, so that a segment's overflow pages are read too; the table name
    # comes from TABLES, never from input.
    cursor = conn.execute(f"SELECT * FROM {table}")
    count = 0
    while not stop.is_set():
        rows = cursor.fetchmany(ROWS)
        if not rows:
            break
        count += len(rows)
    return count


@contextlib.asynccontextmanager
async def reading_ahead(db_path: Path) -> AsyncIterator[None]:
    """The read-ahead on a thread of its own while the server runs; stopped at exit."""
    stop = threading.Event()
    reading = asyncio.create_task(asyncio.to_thread(warm_search_index, db_path, stop))
    try:
        yield
    finally:
        stop.set()
        try:
            await reading
        except Exception:  # a cold cache is slower, never wrong
            log.exception("reading the search index ahead failed")
