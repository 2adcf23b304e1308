"""WsServices: everything the WebSocket view and its commands need, wired by app.py."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ocrlive import __version__
from ocrlive.audit.log import AuditLog
from ocrlive.identity.requests import RequestAuth
from ocrlive.ratelimit import SlidingWindow
from ocrlive.ws.connection import ConnectionManager
from ocrlive.ws.hub import Hub
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

    def hello(self) -> str:
        return json.dumps({
            "type": "hello", "server": "ocrlive", "version": __version__,
            "epoch": self.recovery.epoch, "seq": self.recovery.log.head(),
            "heartbeat": self.heartbeat,
        })  # fmt: skip
