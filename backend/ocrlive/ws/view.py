"""GET /api/ws: handshake, authentication, and the one loop that reads the socket."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from ocrlive import __version__
from ocrlive.errors import RateLimited
from ocrlive.http.auth import Authenticator, check_origin
from ocrlive.ratelimit import SlidingWindow, TokenBucket
from ocrlive.store.repo import head_seq
from ocrlive.ws import commands as _commands  # noqa: F401  (registers the commands)
from ocrlive.ws.connection import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_POLICY,
    CLOSE_RATE_LIMITED,
    CLOSE_UNAUTHORIZED,
    Connection,
    ConnectionInfo,
    ConnectionManager,
)
from ocrlive.ws.hub import Hub
from ocrlive.ws.outbox import Frame
from ocrlive.ws.protocol import (
    MAX_FRAME,
    WsError,
    check_id,
    error_frame,
    parse,
    result_frame,
    validate,
)
from ocrlive.ws.recovery import RecoveryService

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
MAX_ERRORS = 100  # protocol errors tolerated on one connection before it is closed
MAX_REJECTED = 200  # messages refused by the rate limit before the connection is closed


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

    def hello(self, head: int) -> str:
        return json.dumps({
            "type": "hello", "server": "ocrlive", "version": __version__,
            "epoch": self.recovery.epoch, "seq": head, "heartbeat": self.heartbeat,
        })  # fmt: skip


async def handle(request: web.Request, services: WsServices) -> web.StreamResponse:
    address = request.remote or "unknown"
    if not services.connect_limit.hit(address):
        raise RateLimited("Too many connection attempts; wait a minute")
    preauth = _handshake_auth(request, services)
    if preauth is False:
        services.failure_limit.hit(address)
    # No permessage-deflate: measured (scripts/bench_ws.py), zlib's 262 KiB per socket
    # and the CPU of compressing every frame per client cost far more than the bytes
    # saved on ~600-byte progress frames over a hospital LAN.
    ws = web.WebSocketResponse(heartbeat=services.heartbeat, max_msg_size=MAX_FRAME, compress=False)
    await ws.prepare(request)
    if preauth is False:
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"unauthorized")
        return ws
    if preauth is None and not await _message_auth(ws, services, address):
        return ws
    await _serve(ws, request, services, address)
    return ws


def _handshake_auth(request: web.Request, services: WsServices) -> bool | None:
    """True: authenticated; False: wrong credentials; None: none given (auth message)."""
    address = request.remote or "unknown"
    if services.failure_limit.full(address):
        raise RateLimited("Too many failed attempts from this address; wait a minute")
    bearer = services.auth.bearer(request)
    if bearer is not None:
        return bearer
    if services.auth.cookie(request):
        check_origin(request)
        return True
    return None


async def _message_auth(ws: web.WebSocketResponse, services: WsServices, address: str) -> bool:
    await ws.send_str(json.dumps({"type": "auth_required"}))
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        await ws.close(code=CLOSE_AUTH_TIMEOUT, message=b"auth timeout")
        return False
    token = _auth_token(msg.data) if msg.type == WSMsgType.TEXT else None
    if token is not None and services.auth.check_token(token):
        return True
    services.failure_limit.hit(address)
    await ws.close(code=CLOSE_UNAUTHORIZED, message=b"unauthorized")
    return False


def _auth_token(text: str) -> str | None:
    try:
        message = parse(text)
    except WsError:
        return None
    token = message.get("token")
    return token if message.get("type") == "auth" and isinstance(token, str) else None


async def _serve(
    ws: web.WebSocketResponse, request: web.Request, services: WsServices, address: str
) -> None:
    user_agent = request.headers.get("User-Agent", "")[:200]
    info = ConnectionInfo(address=address, user_agent=user_agent, user="token")
    conn = Connection(ws, info, services.outbox_limit)
    services.connections.register(conn)
    try:
        conn.send(Frame(services.hello(await _head(services))))
        await _read_loop(ws, conn, services)
    finally:
        services.hub.drop(conn)
        await services.connections.unregister(conn)


async def _head(services: WsServices) -> int:
    # Its own frame: the read connection must not live on in _serve for the socket's life.
    async with services.recovery.db.read() as db:
        return await head_seq(db)


async def _read_loop(ws: web.WebSocketResponse, conn: Connection, services: WsServices) -> None:
    bucket = TokenBucket(services.message_rate, services.message_rate * 2)
    errors = rejected = 0
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            conn.send(Frame(error_frame(None, "invalid_json", "Send JSON text frames")))
            errors += 1
        elif not bucket.allow():
            rejected += 1
            conn.send(Frame(error_frame(None, "rate_limited", "Too many messages")))
        elif not await _dispatch(msg.data, conn, services):
            errors += 1
        if errors > MAX_ERRORS or rejected > MAX_REJECTED:
            code = CLOSE_POLICY if errors > MAX_ERRORS else CLOSE_RATE_LIMITED
            await conn.close(code, "too many errors" if code == CLOSE_POLICY else "rate limited")
            return


async def _dispatch(text: str, conn: Connection, services: WsServices) -> bool:
    """Run one client message; False when it was refused with an error."""
    msg_id = None
    try:
        message = parse(text)
        msg_id = message.get("id")
        if message.get("type") == "auth":
            raise WsError("already_authenticated", "This connection is authenticated")
        cmd = validate(message)
        conn.last_id = check_id(message, conn.last_id)
        reply = await cmd.handler(services, conn, message)
    except WsError as exc:
        conn.send(Frame(error_frame(msg_id, exc.code, exc.message)))
        return False
    if reply is not None:
        conn.send(Frame(result_frame(message["id"], reply)))
    return True
