"""The full-text index filled in batches (migrations/versions/0006_search_batches.py).

A stored result only queues its document in `search_pending`, in the completion's own
transaction (a trigger); the writer thread indexes the queue's pages and empties it:
in the transaction that fills it to BATCH, a second after it stopped being empty,
before every search (records/sqlite.py awaits `flush`), and when the log opens (what
a crash left queued) and closes. FTS5 writes one segment per transaction that
touched it and merges segments as they pile up: a page cost ~0.53 ms of CPU indexed
alone against ~0.21 ms in a transaction of 10-50 pages (a 30,000-page index).
"""

from __future__ import annotations

import asyncio
import contextlib

from ocrlive.store.sqlite.writer import Connection, Writer

BATCH = 32  # documents: past ~10 a transaction the saving flattens out
DELAY_S = 1.0  # the longest a document waits when nobody searches
QUEUED = "SELECT count(*) FROM search_pending"
# The view tags each page as its task is now: a status that moved while queued had the
# writer index the document at once (log.py's retag), so search_docs.status agrees.
PAGES = "SELECT id, body, tags, task_id, page FROM search_pending_pages"
INSERT_PAGE = "INSERT INTO search_pages (rowid, body, tags, task_id, page) VALUES (?, ?, ?, ?, ?)"
EMPTY = "DELETE FROM search_pending"


def index_queue(conn: Connection) -> None:
    """In the caller's transaction: every queued document into the full-text index,
    row by row (an INSERT ... SELECT into FTS5 cost twice the CPU)."""
    conn.executemany(INSERT_PAGE, conn.execute(PAGES).fetchall())
    conn.execute(EMPTY)


class SearchQueue:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        # Written on the writer thread alone (an int: atomic), read on the loop.
        self.queued = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    def after_store(self, conn: Connection) -> None:
        """On the writer thread, in the transaction that stored a result."""
        count = int(conn.execute(QUEUED).fetchone()[0])
        if count >= BATCH:
            self._flush(conn)
        else:
            self.queued = count

    def _flush(self, conn: Connection) -> None:
        index_queue(conn)
        self.queued = 0

    def written(self) -> None:
        """On the loop after a write: a queue left waiting is indexed DELAY_S later."""
        if self.queued and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DELAY_S, self._due)

    def _due(self) -> None:
        self._timer = None
        self._flushing = asyncio.create_task(self.flush(), name="ocrlive-search-queue")

    async def flush(self) -> None:
        """Index whatever is queued: every stored result is searchable after this."""
        if self.queued:
            await self._writer.run(self._flush)

    async def open(self) -> None:
        await self._writer.run(self._flush)  # what a crash or a copy left queued

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._flushing
        await self.flush()
