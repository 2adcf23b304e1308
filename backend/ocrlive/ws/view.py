"""GET /api/ws: handshake, authentication, and the one loop that reads the socket."""

from __future__ import annotations

import asyncio
import json
import logging

from aiohttp import WSMessage, WSMsgType, web

from ocrlive.errors import RateLimited, SessionEnded
from ocrlive.identity.permissions import Principal
from ocrlive.identity.requests import Credentials, check_origin
from ocrlive.keys import WS
from ocrlive.ratelimit import TokenBucket
from ocrlive.store.health import describe_error, is_storage_error
from ocrlive.ws.commands import COMMANDS
from ocrlive.ws.connection import Connection, ConnectionInfo
from ocrlive.ws.outbox import Frame
from ocrlive.ws.protocol import (
    MAX_FRAME,
    CloseCode,
    WsError,
    WsErrorCode,
    check_id,
    error_frame,
    parse,
    result_frame,
    validate,
)  # fmt: skip
from ocrlive.ws.services import WsServices

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
MAX_ERRORS = 100  # protocol errors tolerated on one connection before it is closed
MAX_REJECTED = 200  # messages refused by the rate limit before the connection is closed


async def handle(request: web.Request) -> web.StreamResponse:
    """The route's handler itself, and the one coroutine that reads the socket: while a
    socket is open only this frame of ours waits on it (each coroutine level held costs
    an idle socket ~270 B, tracemalloc)."""
    services = request.app[WS]
    given, principal = await _authenticate(request, services)
    ws = _response()
    await ws.prepare(request)
    conn = None
    try:
        if principal is None:
            principal = await _admit(ws, request, services, given)
        if principal is not None:
            conn = _register(ws, request, services, principal)
            async for msg in ws:
                if not await _on_message(msg, conn, services):
                    break
    except ConnectionError:  # the client went away; after prepare() no answer can follow
        log.info("WebSocket client %s disconnected", services.auth.address(request))
    finally:
        if conn is not None:
            services.hub.drop(conn)
            await services.connections.unregister(conn)
    return ws


def _response() -> web.WebSocketResponse:
    # No permessage-deflate: measured (scripts/bench_ws.py), zlib's 262 KiB per socket
    # and the CPU of compressing every frame per client cost far more than the bytes
    # saved on ~600-byte progress frames over a hospital LAN.
    # No aiohttp heartbeat either: its per-socket timers and receive timeout cost ~1.9 KiB
    # per idle socket (tracemalloc); ConnectionManager pings every socket from one
    # task instead, and autoping=False lets the read loop see pongs and answer pings.
    return web.WebSocketResponse(autoping=False, max_msg_size=MAX_FRAME, compress=False)


async def _authenticate(request: web.Request, services: WsServices) -> tuple[str, Principal | None]:
    """(the kind of credentials the handshake carried, their principal), before the
    upgrade, so that a refusal can still be an HTTP answer (429, 403)."""
    address = services.auth.address(request)
    creds = services.auth.credentials(request)
    if not creds.kind:
        # Only sockets that are not signed in yet count toward the per-address limit: a
        # ward reconnecting through one proxy after a restart is many people, not a flood.
        if not services.connect_limit.hit(address):
            raise RateLimited("Too many connection attempts; wait a minute")
        return "", None
    if creds.kind == "cookie":
        check_origin(request)
    try:
        principal = await services.auth.resolve(creds, address, touch=False, recent=True)
    except SessionEnded:
        return creds.kind, None  # closed with 4001 below; not a guess, so not counted
    if principal is None:
        await services.auth.failed(address)  # 429 past the limit, before the upgrade
    return creds.kind, principal


async def _admit(
    ws: web.WebSocketResponse, request: web.Request, services: WsServices, given: str
) -> Principal | None:
    """No principal from the handshake: refused when it carried credentials, otherwise
    asked for in the first message."""
    if given:
        await ws.close(code=CloseCode.UNAUTHORIZED, message=b"unauthorized")
        return None
    address = services.auth.address(request)
    user_agent = request.headers.get("User-Agent", "")[:200]
    with services.connections.authenticating(address, user_agent):
        principal = await _message_auth(ws, services, address)
    if principal is not None:
        services.connect_limit.forgive(address)
    return principal


async def _message_auth(
    ws: web.WebSocketResponse, services: WsServices, address: str
) -> Principal | None:
    await ws.send_str(json.dumps({"type": "auth_required"}))
    try:
        # One deadline for the whole wait: a client answering our pings (or sending
        # its own) must not stretch it, as a per-receive timeout would.
        async with asyncio.timeout(AUTH_TIMEOUT):
            msg = await _next_message(ws)
    except TimeoutError:
        await ws.close(code=CloseCode.AUTH_TIMEOUT, message=b"auth timeout")
        return None
    token = _auth_token(msg.data) if msg.type == WSMsgType.TEXT else None
    principal = None
    if token is not None:
        creds = Credentials("bearer", token)
        principal = await services.auth.resolve(creds, address, recent=True)
    if principal is not None:
        return principal
    services.auth.failures.hit(address)
    await ws.close(code=CloseCode.UNAUTHORIZED, message=b"unauthorized")
    return None


async def _next_message(ws: web.WebSocketResponse) -> WSMessage:
    """The next data frame; pings are answered (autoping is off, see handle)."""
    while (msg := await ws.receive()).type in (WSMsgType.PING, WSMsgType.PONG):
        if msg.type == WSMsgType.PING:
            await ws.pong(msg.data)
    return msg


def _auth_token(text: str) -> str | None:
    try:
        message = parse(text)
    except WsError:
        return None
    token = message.get("token")
    return token if message.get("type") == "auth" and isinstance(token, str) else None


def _register(
    ws: web.WebSocketResponse, request: web.Request, services: WsServices, principal: Principal
) -> Connection:
    """The signed-in socket, registered and greeted."""
    user_agent = request.headers.get("User-Agent", "")[:200]
    info = ConnectionInfo(address=principal.address, user_agent=user_agent, principal=principal)
    bucket = TokenBucket(services.message_rate, services.message_rate * 2)
    conn = Connection(ws, info, services.outbox_limit, bucket)
    services.connections.register(conn)
    conn.send(services.hello())
    return conn


async def _on_message(msg: WSMessage, conn: Connection, services: WsServices) -> bool:
    """One frame from the client; False once the connection is closed for misbehaving."""
    conn.answered = True  # any frame proves the client alive (see ConnectionManager)
    if msg.type == WSMsgType.PING:
        await conn.ws.pong(msg.data)
        return True
    if msg.type == WSMsgType.PONG:
        return True
    if msg.type != WSMsgType.TEXT:
        conn.send(Frame(error_frame(None, WsErrorCode.INVALID_JSON, "Send JSON text frames")))
        conn.errors += 1
    elif not conn.bucket.allow():
        conn.rejected += 1
        conn.send(Frame(error_frame(None, WsErrorCode.RATE_LIMITED, "Too many messages")))
    elif not await _dispatch(msg.data, conn, services):
        conn.errors += 1
    if conn.errors > MAX_ERRORS or conn.rejected > MAX_REJECTED:
        code = CloseCode.POLICY if conn.errors > MAX_ERRORS else CloseCode.RATE_LIMITED
        await conn.close(code, "too many errors" if code == CloseCode.POLICY else "rate limited")
        return False
    return True


def _failure(exc: Exception, conn: Connection, text: str) -> tuple[WsErrorCode, str]:
    """A storage fault (a damaged page, a full disk) is the server's condition, told in
    one line; anything else is a bug, logged with its traceback."""
    if is_storage_error(exc):
        log.error("storage fault on WebSocket connection %d: %s", conn.id, describe_error(exc))
        return WsErrorCode.STORAGE_UNAVAILABLE, "Storage is unavailable on the server; try later"
    log.exception("WebSocket command failed on connection %d: %.200s", conn.id, text)
    return WsErrorCode.INTERNAL_ERROR, "Internal server error"


async def _dispatch(text: str, conn: Connection, services: WsServices) -> bool:
    """Run one client message; False when it was refused with an error. A handler that
    raises is a bug of ours, not the client's: it is logged and answered with
    `internal_error`, and the socket stays open."""
    msg_id = None
    try:
        message = parse(text)
        msg_id = message.get("id")
        if message.get("type") == "auth":
            message_text = "This connection is authenticated"
            raise WsError(WsErrorCode.ALREADY_AUTHENTICATED, message_text)
        cmd = validate(message, COMMANDS)
        conn.last_id = check_id(message, conn.last_id)
        if cmd.permission is not None and not conn.info.principal.can(cmd.permission):
            raise WsError(
                WsErrorCode.FORBIDDEN, f"Your role may not {cmd.type}: it needs {cmd.permission}"
            )
        reply = await cmd.handler(services, conn, message)
    except WsError as exc:
        conn.send(Frame(error_frame(msg_id, exc.code, exc.message)))
        return False
    except Exception as exc:
        conn.send(Frame(error_frame(msg_id, *_failure(exc, conn, text))))
        return True
    if reply is not None:
        conn.send(Frame(result_frame(message["id"], reply)))
    return True
