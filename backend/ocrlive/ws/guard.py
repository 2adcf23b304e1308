"""Sockets end with their session: sign-out, a disabled person, a role change, a
revoked token, or a session that ran past its idle or absolute timeout (close 4001).

Changes made in this process close the sockets at once (Identity.on_end); a sweep
catches the rest: timeouts, and changes made by `ocrlive users` in another process."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ocrlive.identity.service import Ending, Identity
from ocrlive.ws.connection import ConnectionManager
from ocrlive.ws.protocol import CloseCode

log = logging.getLogger(__name__)


class SocketGuard:
    def __init__(self, identity: Identity, connections: ConnectionManager, every: float) -> None:
        self.identity = identity
        self.connections = connections
        self.every = every
        self._task: asyncio.Task[None] | None = None
        identity.on_end(self.close_covered)

    def close_covered(self, ending: Ending) -> None:
        for conn in self.connections:
            if ending.covers(conn.info.principal):
                conn.close_soon(CloseCode.UNAUTHORIZED, "session ended")

    async def sweep(self) -> int:
        conns = [c for c in self.connections if not c.closing]
        principals = list({c.info.principal for c in conns})
        if not principals:
            return 0
        valid = await self.identity.still_valid(principals)
        closed = 0
        for conn in conns:
            if conn.info.principal not in valid:
                conn.close_soon(CloseCode.UNAUTHORIZED, "session ended")
                closed += 1
        return closed

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.sweep()
            except Exception:
                log.exception("socket sweep failed; trying again")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
