"""WsServices: everything the WebSocket view and its commands need, wired by app.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ocrlive import __version__
from ocrlive.audit.log import AuditLog
from ocrlive.identity.requests import RequestAuth
from ocrlive.ratelimit import SlidingWindow
from ocrlive.ws.connection import ConnectionManager
from ocrlive.ws.hub import Hub
from ocrlive.ws.outbox import Frame
from ocrlive.ws.recovery import RecoveryService


@dataclass
class WsServices:
    hub: Hub
    recovery: RecoveryService
    connections: ConnectionManager
    auth: RequestAuth
    audit: AuditLog
    connect_limit: SlidingWindow
    heartbeat: float
    outbox_limit: int
    message_rate: float
    _hello: tuple[int, Frame] = field(default=(-1, Frame("")), init=False)

    def hello(self) -> Frame:
        """The hello, made once per head: a reconnect storm sends the same frame to all."""
        head = self.recovery.log.head()
        if self._hello[0] != head:
            text = json.dumps({
                "type": "hello", "server": "ocrlive", "version": __version__,
                "epoch": self.recovery.epoch, "seq": head, "heartbeat": self.heartbeat,
            })  # fmt: skip
            self._hello = (head, Frame(text))
        return self._hello[1]
