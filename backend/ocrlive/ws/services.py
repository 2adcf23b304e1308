"""WsServices: everything the WebSocket view and its commands need, wired by app.py."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ocrlive import __version__
from ocrlive.http.auth import Authenticator  # the people engineer moves this (identity/)
from ocrlive.ratelimit import SlidingWindow
from ocrlive.ws.connection import ConnectionManager
from ocrlive.ws.hub import Hub
from ocrlive.ws.recovery import RecoveryService


@dataclass
class WsServices:
    hub: Hub
    recovery: RecoveryService
    connections: ConnectionManager
    auth: Authenticator
    connect_limit: SlidingWindow
    failure_limit: SlidingWindow
    heartbeat: float
    outbox_limit: int
    message_rate: float

    def hello(self) -> str:
        return json.dumps({
            "type": "hello", "server": "ocrlive", "version": __version__,
            "epoch": self.recovery.epoch, "seq": self.recovery.log.head(),
            "heartbeat": self.heartbeat,
        })  # fmt: skip
