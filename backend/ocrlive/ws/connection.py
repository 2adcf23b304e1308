"""ConnectionManager: every open WebSocket with its metadata, outbox and writer task.

Only the view's handler reads a socket; only the connection's writer task writes to
it. Publishing never awaits a client: frames go to a bounded outbox, and a client
whose outbox overflows is closed with CLOSE_TOO_SLOW and resumes later by `since`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
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


@dataclass
class ConnectionInfo:
    address: str
    user_agent: str
    user: str
    connected_at: str = field(default_factory=utcnow)


class Connection:
    def __init__(self, ws: web.WebSocketResponse, info: ConnectionInfo, outbox_limit: int) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.info = info
        self.outbox = Outbox(outbox_limit)
        self.subscriptions: set[str] = set()
        self.last_ack = 0
        self.last_id = 0
        self.sent = 0
        self.last_message_at = time.monotonic()
        self._holding: dict[str, list[Frame]] = {}
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.id}")

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, frame: Frame) -> None:
        """Queue a frame for this client (never blocks)."""
        if self._closing:
            return
        self.outbox.push(frame)
        if self.outbox.overflowing:
            self.close_soon(CLOSE_TOO_SLOW, "too slow")
            return
        self._wakeup.set()

    async def send_replay(self, frames: Iterable[Frame]) -> None:
        """Queue replayed events without collapsing any and without overflowing: the
        caller (the reading handler) waits while the client works through them."""
        for frame in frames:
            while len(self.outbox) >= self.outbox.limit // 2 and not self._closing:
                self._room.clear()
                await self._room.wait()
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

    async def _write_loop(self) -> None:
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup.clear()
            while (frame := self.outbox.pop()) is not None:
                try:
                    await self.ws.send_str(frame.text)
                except (ConnectionError, RuntimeError):
                    self._closing = True
                    self._room.set()
                    return
                self.sent += 1
                if len(self.outbox) < self.outbox.limit // 2:
                    self._room.set()

    def close_soon(self, code: int, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._room.set()
            self.outbox.clear()
            # Kept on self: the loop holds tasks weakly, and this one must finish.
            self._closer = asyncio.get_running_loop().create_task(self.close(code, reason))

    async def close(self, code: int, reason: str) -> None:
        """Close now. A client that stopped reading may block the close handshake, so the
        transport is aborted when the close frame cannot go out promptly."""
        self._closing = True
        self._room.set()
        await self._stop_writer()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), 2.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            self._abort()
        except BaseException:
            log.exception("closing connection %s", self.id)
            self._abort()
            raise

    def _abort(self) -> None:
        writer = getattr(self.ws, "_writer", None)
        transport = getattr(writer, "transport", None)
        if transport is not None:
            transport.abort()

    async def _stop_writer(self) -> None:
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

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
        self.total_opened = 0

    def register(self, conn: Connection) -> None:
        self._connections[conn.id] = conn
        self.total_opened += 1
        conn.start()

    async def unregister(self, conn: Connection) -> None:
        self._connections.pop(conn.id, None)
        conn._closing = True
        await conn._stop_writer()

    def __len__(self) -> int:
        return len(self._connections)

    def describe(self) -> list[dict[str, Any]]:
        return [conn.describe() for conn in self._connections.values()]

    async def close_all(self) -> None:
        """On shutdown every socket is closed with 1001 so clients reconnect."""
        closing = [
            c.close(CLOSE_GOING_AWAY, "server shutting down") for c in self._connections.values()
        ]
        await asyncio.gather(*closing, return_exceptions=True)
        self._connections.clear()
