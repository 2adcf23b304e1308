"""The event log on PostgreSQL, for one node or several sharing the database.

Seqs: every writer transaction of every node first takes one transaction-scoped
advisory lock (connection.LOG_LOCK), then reads the head from the table and gives the
next seqs; the lock is held until COMMIT, so commit order is seq order and a reader
that has seen seq N never later finds an N-1 it missed. The cost is that appends of
all nodes are serialized: measured in scripts/bench_pg_log.py. (A sequence would not
do: nextval is not transactional, so a rolled-back append would leave a hole, and two
appends could commit out of seq order.)

Other nodes: an append ends with NOTIFY (delivered at commit, in commit order); each
node LISTENs and, woken, reads the events after the last one it delivered from the
table, never from the notification. Those it did not write go to `on_remote`'s
callback, always before any later event of its own: every read of the table and
every append of a node run on its one writer thread, in turn, and each hands its
events to the event loop in that order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

import psycopg

from ocrlive.events import Event
from ocrlive.store.base import Plan
from ocrlive.store.postgres.connection import PgConnection, PgReader, PgWriter
from ocrlive.store.sqlite import rows
from ocrlive.store.sqlite.log import FLOOR_KEY, SqliteEventLog, node_name, write_plan
from ocrlive.store.sqlite.writer import Connection

log = logging.getLogger(__name__)

CHANNEL = "ocrlive_events"
# Seqs are never reused, even when the newest events were purged: the floor covers them.
HEAD = (
    "SELECT greatest(coalesce(max(seq), 0), coalesce((SELECT CAST(value AS BIGINT) "
    f"FROM meta WHERE key = '{FLOOR_KEY}'), 0)) FROM events"
)
# While LISTEN is down this node hears of other nodes' events only when it writes
# itself, so the wait between attempts stays short: a refused connection costs ~1 ms.
RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.25, 2.0
# Every node's LISTEN connection carries this name, so that pg_stat_activity tells an
# administrator which connection is which node's.
NODE_PREFIX = "ocrlive node "

Deliver = Callable[[list[Event]], None]


class PgEventLog(SqliteEventLog):
    HEAD_SQL = HEAD
    shared = True  # other nodes append too

    def __init__(self, writer: PgWriter, reader: PgReader) -> None:
        super().__init__(writer, reader)
        self._pg_writer = writer
        self._url = writer.url
        self._node = f"{NODE_PREFIX}{node_name()} #{uuid.uuid4().hex[:6]}"[:63]  # libpq's limit
        self._delivered = 0  # writer thread only: the last seq handed to the event loop
        self._remote: Deliver | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def on_remote(self, deliver: Deliver) -> None:
        """Events other nodes committed, in seq order, called in the event loop."""
        self._remote = deliver

    async def open(self) -> None:
        await super().open()
        self._delivered = self.head()
        self._tasks = [asyncio.create_task(self._listen(), name="ocrlive-pg-listen"),
                       asyncio.create_task(self._follow(), name="ocrlive-pg-follow")]  # fmt: skip

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await super().close()

    def append_now(self, plan: Plan) -> list[Event] | None:
        """Never: a transaction is round trips to the server (and other nodes' events
        are read first, connection.py)."""
        return None

    async def append(self, plan: Plan) -> list[Event]:
        try:
            earlier, events = await self._pg_writer.run_then(
                lambda conn: self._append(conn, plan), self._committed
            )
        except Exception:
            self._wake.set()  # other nodes' events it read are still owed: _follow reads them
            raise
        self._hand_over(earlier)
        if events:
            self._head = max(self._head, events[-1].seq)
            self._remember(events)
        return events

    def _append(self, conn: PgConnection, plan: Plan) -> tuple[list[Event], list[Event]]:
        """Under the lock every earlier append of every node has committed: the events
        this node has not delivered yet are read first (handed over before ours), then
        the plan runs. Nothing is read after COMMIT, so a connection lost then cannot
        turn a stored change into an error."""
        earlier = self._read_after(conn, self._delivered)
        events = write_plan(conn, plan, self.HEAD_SQL)
        if events:
            conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, str(events[-1].seq)))
        return earlier, events

    def _committed(self, done: tuple[list[Event], list[Event]]) -> tuple[list[Event], list[Event]]:
        """On the writer thread right after COMMIT, before any other read there."""
        last = [e.seq for part in done for e in part[-1:]]
        self._delivered = max([self._delivered, *last])
        return done

    def _raise_floor(self, conn: Connection, seq: int) -> None:
        super()._raise_floor(conn, seq)
        conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, "floor"))  # other nodes read it

    def _read_after(self, conn: PgConnection, seq: int) -> list[Event]:
        sql = f"{rows.EVENTS_SINCE} ORDER BY seq"
        return [rows.event_from_row(*row) for row in conn.execute(sql, [seq])]

    def _catch_up(self, conn: PgConnection) -> list[Event]:
        """Other nodes' new events, and the floor their retention may have raised (the
        floor first: a replay must never be served across a hole)."""
        floor = conn.execute(rows.GET_META, (FLOOR_KEY,)).fetchone()
        self._floor = max(self._floor, int(floor[0]) if floor else 0)
        found = self._read_after(conn, self._delivered)
        if found:
            self._delivered = found[-1].seq
        return found

    def _hand_over(self, events: list[Event]) -> None:
        if not events:
            return
        self._head = max(self._head, events[-1].seq)
        self._remember(events)
        if self._remote is not None:
            self._remote(events)

    # --- other nodes ----------------------------------------------------------

    async def _follow(self) -> None:
        """Reads the table each time a notification (or a reconnection) wakes it."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                self._hand_over(await self._pg_writer.read(self._catch_up))
            except Exception:
                log.warning("could not read other nodes' events; trying again", exc_info=True)
                await asyncio.sleep(RECONNECT_FIRST_S)
                self._wake.set()

    async def _listen(self) -> None:
        delay = RECONNECT_FIRST_S
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, application_name=self._node
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = RECONNECT_FIRST_S
                    self._wake.set()  # what was committed while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except (OSError, psycopg.OperationalError) as exc:
                log.warning("LISTEN %s lost (%s); again in %.1fs", CHANNEL, exc, delay)
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX_S, delay * 2)
