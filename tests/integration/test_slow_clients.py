"""One frozen tab must never slow the others, and server memory stays bounded: its
outbox fills, it is closed with 4009, and it catches up by replay when it returns."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from tests.helpers.live import Live

from ocrlive.events import Event, EventType, Task, utcnow
from ocrlive.keys import WS

Client = TestClient[Any, Any]
BIG = "x" * 8000  # large frames fill the socket buffers quickly


def synthetic(seq: int) -> Event:
    now = utcnow()
    task = Task(
        id=f"t{seq}", patient_id="P", document_type="other", filename="f.png",
        content_type="image/png", size=1, priority="normal", status="queued", progress=0.0,
        stage="queued", message=BIG, pages_done=0, pages_total=0, attempts=0,
        created_at=now, updated_at=now, error=None, version=seq,
    )  # fmt: skip
    return Event(seq=seq, type=EventType.CREATED, task=task)


async def slow_closes(client: Client) -> float:
    """What /metrics says of clients closed for being too slow (4009)."""
    text = await (await client.get("/metrics")).text()
    (line,) = [x for x in text.splitlines() if x.startswith("ocrlive_websocket_slow_closes_total")]
    return float(line.split()[-1])


async def test_a_frozen_client_is_closed_and_does_not_stall_the_others(
    start_app: Any, make_settings: Any
) -> None:
    client: Client = await start_app(make_settings(ws_outbox_limit=32))
    url = str(client.make_url("/api/ws"))
    frozen = await Live.connect(client.session, url)
    await frozen.subscribe("tasks")
    reader = await Live.connect(client.session, url)
    await reader.subscribe("tasks")
    slow_before = await slow_closes(client)
    frozen.ws._conn.transport.pause_reading()  # type: ignore[union-attr]  # stops reading
    services = client.server.app[WS]
    total = 1500

    async def read_all() -> None:
        while len(reader.events) < total:
            await reader._receive()

    reading = asyncio.create_task(read_all())
    for seq in range(1, total + 1):
        services.hub.publish(synthetic(seq))
        await asyncio.sleep(0)  # each real event awaits its commit, so writers run between
    await asyncio.wait_for(reading, 30)
    assert [e["seq"] for e in reader.events] == list(range(1, total + 1))
    async with asyncio.timeout(10):  # closing a frozen peer waits 2 s, then aborts
        while len(services.connections) > 1:
            await asyncio.sleep(0.1)
    (survivor,) = services.connections.describe()
    assert survivor["sent"] >= total
    frozen.ws._conn.transport.resume_reading()  # type: ignore[union-attr]
    with contextlib.suppress(ConnectionError, aiohttp.ClientError):
        while True:  # what was queued before the close, then the close itself
            await frozen._receive(timeout=5)
    assert len(frozen.events) < total
    assert await slow_closes(client) == slow_before + 1  # counted for /metrics


async def test_message_flood_is_refused_with_a_code(start_app: Any, make_settings: Any) -> None:
    client: Client = await start_app(make_settings(ws_rate=5))
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    for n in range(1, 41):
        await live.ws.send_str(json.dumps({"id": n, "type": "ping"}))
    codes = []
    for _ in range(40):
        reply = await live.ws.receive_json(timeout=5)
        codes.append(reply["error"]["code"] if not reply["ok"] else "ok")
    assert "rate_limited" in codes and codes.count("ok") >= 10


async def test_connection_attempts_are_rate_limited_per_address(
    start_app: Any, make_settings: Any
) -> None:
    """Sockets without credentials are capped per address; signed-in ones are not
    (a ward behind one proxy; tests/integration/test_limits.py)."""
    client: Client = await start_app(make_settings(connect_rate=5))
    url = str(client.make_url("/api/ws"))
    async with aiohttp.ClientSession() as anonymous:
        for _ in range(5):
            ws = await anonymous.ws_connect(url)
            await ws.close()
        try:
            await anonymous.ws_connect(url)
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 429
        else:
            raise AssertionError("the sixth attempt in a minute was accepted")
    for _ in range(10):  # the client's token: never capped
        ws = await client.session.ws_connect(url)
        await ws.close()
