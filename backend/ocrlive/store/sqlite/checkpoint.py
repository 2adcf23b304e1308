"""WAL checkpoints of the SQLite file, off the event loop and off the writer.

SQLite checkpoints by itself inside the COMMIT that takes the WAL past 1,000 pages
(wal_autocheckpoint): copying ~4 MB into the database and syncing it. Since a short
transaction commits on the event loop (writer.py), that COMMIT would stall every
socket for the copy; so the writer's connection turns it off and this class runs the
same PASSIVE checkpoint every CHECKPOINT_COMMITS commits on a connection and thread of
its own. A checkpoint takes none of SQLite's write lock: it copies committed pages
while the writer goes on committing, so neither waits for the other (on the writer's
thread it held up every event behind it). It writes no rows, so the one-writer rule
stands: every transaction of this process is still the writer's.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

# A progress event's commit writes ~4-5 pages (the task row, the event row, their
# index pages, the seq counter): 200 commits are about the 1,000 pages at which SQLite
# itself would have checkpointed.
CHECKPOINT_COMMITS = 200
PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class Checkpointer:
    """Counts the writer's commits; every CHECKPOINT_COMMITS, one PASSIVE checkpoint."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._since = 0  # commits since the last checkpoint started
        self._running: asyncio.Future[None] | None = None

    def committed(self, commits: int) -> None:
        """On the loop, after the writer committed: start a checkpoint when one is due
        and none is running (a slow one is not queued twice)."""
        self._since += commits
        if self._since < CHECKPOINT_COMMITS or self._running is not None:
            return
        self._since = 0
        self._running = asyncio.get_running_loop().run_in_executor(self._pool, self._checkpoint)
        self._running.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[None]) -> None:
        self._running = None
        if not future.cancelled() and (exc := future.exception()) is not None:
            # A checkpoint that failed (a full disk) only leaves the WAL longer: the
            # next one copies what this one could not.
            log.warning("WAL checkpoint failed: %s", exc)

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._conn.execute(PASSIVE).fetchall()

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.wait([self._running])
        await asyncio.get_running_loop().run_in_executor(self._pool, self._shut)
        self._pool.shutdown(wait=True)

    def _shut(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
