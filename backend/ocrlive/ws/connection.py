"""ConnectionManager: every open WebSocket with its metadata, outbox and writer.

Only the view's handler reads a socket. Publishing never awaits a client: a frame is
written straight to the transport while nothing is queued and the transport is below
its high-water mark; otherwise it goes to a bounded outbox that a writer task (started
on demand) drains with backpressure. The raw writes go through ws/transport.py's
SocketWriter, the one place that knows aiohttp's internals. A client whose outbox
overflows is closed with CloseCode.TOO_SLOW and resumes later with `since`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ocrlive.events import utcnow
from ocrlive.identity.permissions import Principal
from ocrlive.ratelimit import TokenBucket
from ocrlive.ws.outbox import Frame, Outbox
from ocrlive.ws.protocol import CloseCode
from ocrlive.ws.transport import SocketWriter

log = logging.getLogger(__name__)

_ids = itertools.count(1)
# Closes initiated by the server, by close code, over the life of the process (/metrics).
closed_by_server: collections.Counter[int] = collections.Counter()
PING = b"\x89\x00"  # a complete, empty WebSocket ping frame (RFC 6455, server side)


@dataclass(slots=True)
class ConnectionInfo:
    address: str
    user_agent: str
    principal: Principal
    connected: float = field(default_factory=time.time)  # a float: 24 B, not 81 B of text

    @property
    def user(self) -> str:
        return self.principal.username

    @property
    def connected_at(self) -> str:
        return datetime.fromtimestamp(self.connected, UTC).isoformat()


class Connection:
    __slots__ = (
        "_closer", "_closing", "_holding", "_room", "_socket", "_writer", "answered", "bucket",
        "errors", "id", "info", "last_ack", "last_id", "outbox", "rejected", "sent",
        "subscriptions", "ws",
    )  # fmt: skip

    def __init__(
        self, ws: web.WebSocketResponse, info: ConnectionInfo, outbox_limit: int,
        bucket: TokenBucket,
    ) -> None:  # fmt: skip
        self.id = next(_ids)
        self.ws = ws
        self._socket = SocketWriter(ws)
        self.info = info
        self.outbox = Outbox(outbox_limit)
        # A tuple: sockets follow a topic or three (a set of two was 216 B a socket).
        self.subscriptions: tuple[str, ...] = ()
        self.bucket = bucket
        self.last_ack = self.last_id = self.sent = self.errors = self.rejected = 0
        self.answered = True  # since the last heartbeat ping
        # topic -> live events held while that topic is replayed; made on first use
        self._holding: dict[str, list[Frame]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None  # only while a replay waits for room
        self._closer: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, frame: Frame) -> None:
        """Queue a frame for this client (never blocks)."""
        if self._closing:
            return
        # Written at once while the transport is below its high-water mark (the common
        # case): no task switch per client per event.
        if self._writer is None and not self.outbox and self._socket.try_write(frame.wire):
            self.sent += 1
            return
        self.outbox.push(frame)
        if self.outbox.overflowing:
            self.close_soon(CloseCode.TOO_SLOW, "too slow")
        elif self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name=f"ws-writer-{self.id}")

    async def _drain(self) -> None:
        """Send what is queued, in few writes, waiting whenever the transport is above
        its high-water mark; ends when the outbox is empty."""
        try:
            while self.outbox:
                wires: list[bytes] = []
                while len(wires) < 256 and (frame := self.outbox.pop()) is not None:
                    wires.append(frame.wire)
                self._socket.write(b"".join(wires))
                self.sent += len(wires)
                self._make_room()
                await self._socket.drain()
        except (ConnectionError, RuntimeError):
            self._closing = True
        finally:
            self._writer = None
            self._make_room()

    def _make_room(self) -> None:
        if self._room is not None and len(self.outbox) < self.outbox.limit // 2:
            self._room.set()

    async def send_replay(self, frames: Iterable[Frame]) -> None:
        """Queue replayed events without collapsing any and without overflowing: the
        caller (the reading handler) waits while the client works through them."""
        for frame in frames:
            while len(self.outbox) >= self.outbox.limit // 2 and not self._closing:
                self._room = asyncio.Event()
                await self._room.wait()
                self._room = None
            self.send(frame)

    def deliver(self, topic: str, frame: Frame) -> None:
        """An event on `topic`: held back while that topic is being replayed."""
        held = self._holding.get(topic) if self._holding else None
        if held is None:
            self.send(frame)
        elif len(held) >= self.outbox.limit:
            self.close_soon(CloseCode.TOO_SLOW, "too slow")
        else:
            held.append(frame)

    def hold(self, topic: str) -> None:
        if self._holding is None:
            self._holding = {}
        self._holding[topic] = []

    def release(self, topic: str, after_seq: int) -> None:
        """Send the events held during a replay that the replay did not already cover."""
        held = self._holding.pop(topic, []) if self._holding else []
        if not self._holding:
            self._holding = None
        for frame in held:
            if frame.seq > after_seq:
                self.send(frame)

    def ping(self) -> None:
        """A WebSocket ping, written now (two bytes: even past the high-water mark)."""
        self.answered = False
        with contextlib.suppress(ConnectionError):
            self._socket.write(PING)

    def drop(self) -> None:
        """Gone silent: abort the TCP connection (the client sees 1006 and reconnects)."""
        self._closing = True
        self._socket.abort()

    def close_soon(self, code: CloseCode, reason: str) -> None:
        if not self._closing:
            closed_by_server[int(code)] += 1
            self._closing = True
            self.outbox.clear()
            if self._room is not None:
                self._room.set()
            # Kept on self: the loop holds tasks weakly, and this one must finish.
            self._closer = asyncio.get_running_loop().create_task(self.close(code, reason))

    async def close(self, code: CloseCode, reason: str) -> None:
        """Close now. A client that stopped reading may block the close handshake, so the
        transport is aborted when the close frame cannot go out promptly."""
        if not self._closing:  # close_soon counted it already
            closed_by_server[int(code)] += 1
        self._closing = True
        if self._room is not None:
            self._room.set()
        await self.stop_writer()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 2.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            self._abort()
        except asyncio.CancelledError:
            self._abort()
            raise

    def _abort(self) -> None:
        self._socket.abort()

    async def stop_writer(self) -> None:
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "address": self.info.address,
            "user_agent": self.info.user_agent,
            "user": self.info.user,
            "role": self.info.principal.role.value,
            "connected_at": self.info.connected_at,
            "subscriptions": sorted(self.subscriptions),
            "last_ack": self.last_ack,
            "sent": self.sent,
            "queued": len(self.outbox),
        }


class ConnectionManager:
    def __init__(self) -> None:
        self._connections: dict[int, Connection] = {}
        # Sockets still waiting for their `auth` message (at most AUTH_TIMEOUT each).
        self._pending: dict[int, dict[str, Any]] = {}

    @contextlib.contextmanager
    def authenticating(self, address: str, user_agent: str) -> Iterator[None]:
        key = next(_ids)
        self._pending[key] = {
            "address": address, "user_agent": user_agent, "connected_at": utcnow(),
        }  # fmt: skip
        try:
            yield
        finally:
            del self._pending[key]

    def describe_pending(self) -> list[dict[str, Any]]:
        return [dict(pending) for pending in self._pending.values()]

    async def heartbeat(self, interval: float) -> None:
        """Every `interval`, ping every socket; drop those that sent nothing within half
        of it (a pong, or anything else). One task for all: aiohttp's own heartbeat
        costs each socket two timers and a receive timeout (~1.9 KiB)."""
        while True:
            await asyncio.sleep(interval)
            pinged = [conn for conn in self._connections.values() if not conn.closing]
            for conn in pinged:
                conn.ping()
            await asyncio.sleep(interval / 2)
            for conn in pinged:
                if not conn.answered and not conn.closing:
                    log.info("connection %d did not answer its ping; dropped", conn.id)
                    conn.drop()

    def register(self, conn: Connection) -> None:
        self._connections[conn.id] = conn

    async def unregister(self, conn: Connection) -> None:
        self._connections.pop(conn.id, None)
        conn._closing = True
        await conn.stop_writer()

    def __len__(self) -> int:
        return len(self._connections)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))

    def describe(self) -> list[dict[str, Any]]:
        return [conn.describe() for conn in self._connections.values()]

    async def close_all(self) -> None:
        """On shutdown every socket is closed with 1001 so clients reconnect."""
        conns = list(self._connections.values())
        closing = (c.close(CloseCode.GOING_AWAY, "server shutting down") for c in conns)
        await asyncio.gather(*closing, return_exceptions=True)
        self._connections.clear()
