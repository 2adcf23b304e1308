"""ConnectionManager: every open WebSocket with its metadata, outbox and writer.

Only the view's handler reads a socket. Publishing never awaits a client: a frame is
written straight to the transport while nothing is queued and the transport is below
its high-water mark; otherwise it goes to a bounded outbox that a writer task (started
on demand) drains with backpressure. This reaches into aiohttp's WebSocket writer
(`_writer.transport`, `protocol._paused`), which is why aiohttp is pinned below 3.15.
A client whose outbox overflows is closed with CLOSE_TOO_SLOW and resumes later with
`since`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ocrlive.events import utcnow
from ocrlive.ws.outbox import Frame, Outbox

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHORIZED = 4001
CLOSE_AUTH_TIMEOUT = 4002
CLOSE_POLICY = 4003
CLOSE_RATE_LIMITED = 4008
CLOSE_TOO_SLOW = 4009

_ids = itertools.count(1)


@dataclass(slots=True)
class ConnectionInfo:
    address: str
    user_agent: str
    user: str
    connected_at: str = field(default_factory=utcnow)


class Connection:
    __slots__ = (
        "_closer", "_closing", "_holding", "_room", "_writer", "id", "info", "last_ack",
        "last_id", "outbox", "sent", "subscriptions", "ws",
    )  # fmt: skip

    def __init__(self, ws: web.WebSocketResponse, info: ConnectionInfo, outbox_limit: int) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.info = info
        self.outbox = Outbox(outbox_limit)
        self.subscriptions: set[str] = set()
        self.last_ack = 0
        self.last_id = 0
        self.sent = 0
        self._holding: dict[str, list[Frame]] = {}
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
        if self._writer is None and not self.outbox and self._write_now(frame):
            return
        self.outbox.push(frame)
        if self.outbox.overflowing:
            self.close_soon(CLOSE_TOO_SLOW, "too slow")
        elif self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name=f"ws-writer-{self.id}")

    def _write_now(self, frame: Frame) -> bool:
        """Write at once while the transport is below its high-water mark (the common
        case): no task switch per client per event. aiohttp's writer is bypassed, so
        this needs compression off (it is, see ws.view)."""
        writer = self.ws._writer
        if writer is None or writer.transport.is_closing() or writer.protocol._paused:
            return False
        transport = writer.transport
        transport.write(frame.wire)
        self.sent += 1
        return True

    async def _drain(self) -> None:
        """Send what is queued, in few writes, waiting whenever the transport is above
        its high-water mark; ends when the outbox is empty."""
        writer = self.ws._writer
        try:
            while self.outbox:
                if writer is None or writer.transport.is_closing():
                    raise ConnectionResetError("the socket is closing")
                transport = writer.transport
                wires: list[bytes] = []
                while len(wires) < 256 and (frame := self.outbox.pop()) is not None:
                    wires.append(frame.wire)
                transport.write(b"".join(wires))
                self.sent += len(wires)
                self._make_room()
                if writer.protocol._paused:
                    await writer.protocol._drain_helper()
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
        held = self._holding.get(topic)
        if held is None:
            self.send(frame)
        elif len(held) >= self.outbox.limit:
            self.close_soon(CLOSE_TOO_SLOW, "too slow")
        else:
            held.append(frame)

    def hold(self, topic: str) -> None:
        self._holding[topic] = []

    def release(self, topic: str, after_seq: int) -> None:
        """Send the events held during a replay that the replay did not already cover."""
        for frame in self._holding.pop(topic, []):
            if frame.seq > after_seq:
                self.send(frame)

    def close_soon(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self.outbox.clear()
            if self._room is not None:
                self._room.set()
            # Kept on self: the loop holds tasks weakly, and this one must finish.
            self._closer = asyncio.get_running_loop().create_task(self.close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Close now. A client that stopped reading may block the close handshake, so the
        transport is aborted when the close frame cannot go out promptly."""
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
        transport = getattr(self.ws._writer, "transport", None)
        if transport is not None:
            transport.abort()

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
            "connected_at": self.info.connected_at,
            "subscriptions": sorted(self.subscriptions),
            "last_ack": self.last_ack,
            "sent": self.sent,
            "queued": len(self.outbox),
        }


class ConnectionManager:
    def __init__(self) -> None:
        self._connections: dict[int, Connection] = {}

    def register(self, conn: Connection) -> None:
        self._connections[conn.id] = conn

    async def unregister(self, conn: Connection) -> None:
        self._connections.pop(conn.id, None)
        conn._closing = True
        await conn.stop_writer()

    def __len__(self) -> int:
        return len(self._connections)

    def describe(self) -> list[dict[str, Any]]:
        return [conn.describe() for conn in self._connections.values()]

    async def close_all(self) -> None:
        """On shutdown every socket is closed with 1001 so clients reconnect."""
        conns = list(self._connections.values())
        await asyncio.gather(*(c.close(CLOSE_GOING_AWAY, "server shutting down") for c in conns),
                             return_exceptions=True)  # fmt: skip
        self._connections.clear()
