"""ws/transport.py against the installed aiohttp: the three internals the fast fan-out
touches are still there and still mean what SocketWriter assumes. An aiohttp upgrade
that changes them fails here, loudly, before the `<3.15` pin is lifted."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ocrlive.ws import transport
from ocrlive.ws.outbox import text_frame
from ocrlive.ws.transport import AiohttpInternalsChanged, SocketWriter, check_aiohttp


def test_this_aiohttp_has_what_the_adapter_uses() -> None:
    check_aiohttp()


def test_a_changed_aiohttp_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Renamed:
        __slots__ = ("_loop", "transport")  # no _paused, no _drain_helper

    monkeypatch.setattr(transport, "BaseProtocol", Renamed)
    with pytest.raises(AiohttpInternalsChanged, match=r"_drain_helper.*_paused"):
        check_aiohttp()


async def _serve(handler: Any) -> TestServer:
    app = web.Application()
    app.router.add_get("/ws", handler)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_raw_frames_arrive_and_backpressure_is_seen_and_waited_out() -> None:
    """Written frames arrive whole; with the client not reading, the transport goes
    above its high-water mark (writable turns False, try_write writes nothing) and
    drain() returns only once the client has read enough."""
    seen: dict[str, Any] = {}
    finished = asyncio.Event()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        socket = SocketWriter(ws)
        seen["writable_at_start"] = socket.writable
        seen["tried_at_start"] = socket.try_write(text_frame(b'{"n":0}'))
        await seen["go"].wait()
        big = text_frame(b"x" * 60_000)
        while socket.writable:
            socket.write(big)
            seen["written"] = seen.get("written", 0) + 1
        seen["tried_while_paused"] = socket.try_write(big)
        seen["paused"] = True
        await socket.drain()
        seen["drained"] = True
        finished.set()
        await ws.receive()
        return ws

    seen["go"] = asyncio.Event()
    server = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(server.make_url("/ws"))
            assert await ws.receive_json(timeout=5) == {"n": 0}
            ws._conn.transport.pause_reading()  # type: ignore[union-attr]
            seen["go"].set()
            async with asyncio.timeout(10):
                while not seen.get("paused"):
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            assert not seen.get("drained")  # drain() waits while the client reads nothing
            ws._conn.transport.resume_reading()  # type: ignore[union-attr]
            for _ in range(seen["written"]):
                msg = await ws.receive(timeout=5)
                assert msg.type == aiohttp.WSMsgType.TEXT and len(msg.data) == 60_000
                if finished.is_set():
                    break
            await asyncio.wait_for(finished.wait(), 10)
            await ws.close()
    finally:
        await server.close()
    assert seen["writable_at_start"] is True and seen["tried_at_start"] is True
    assert seen["tried_while_paused"] is False


async def test_an_aborted_socket_refuses_writes() -> None:
    result: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        socket = SocketWriter(ws)
        result["before"] = (socket.closing, socket.writable)
        socket.abort()
        result["after"] = (socket.closing, socket.writable)
        result["tried"] = socket.try_write(text_frame(b"late"))
        try:
            socket.write(text_frame(b"late"))
        except ConnectionResetError:
            result["refused"] = True
        return ws

    server = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(server.make_url("/ws"))
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSE)
    finally:
        await server.close()
    assert result == {
        "before": (False, True),
        "after": (True, False),
        "tried": False,
        "refused": True,
    }
