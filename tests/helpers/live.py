"""A small WebSocket client of the ocrlive protocol, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TERMINAL = {"task.completed", "task.failed", "task.cancelled"}


async def upload(
    session: aiohttp.ClientSession, url: str, data: bytes, name: str,
    patient_id: str = "P-4711", document_type: str = "referral_letter",
) -> dict[str, Any]:  # fmt: skip
    """POST /api/tasks as the dashboard does; the accepted task (202)."""
    form = aiohttp.FormData()
    form.add_field("patient_id", patient_id)
    form.add_field("document_type", document_type)
    form.add_field("file", data, filename=name)
    async with session.post(f"{url}/api/tasks", data=form) as resp:
        assert resp.status == 202, await resp.text()
        task: dict[str, Any] = (await resp.json())["task"]
        return task


def fake_png(behaviour: bytes = b"") -> bytes:
    """Bytes that pass the upload's content check and steer the fake engine."""
    return PNG_MAGIC + behaviour + b"\n" + b"\0" * 64


class Live:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.results: dict[int, dict[str, Any]] = {}

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, token: str | None = None, **kw: Any
    ) -> Live:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ws = await session.ws_connect(url, headers=headers, **kw)
        hello = await ws.receive_json(timeout=10)
        return cls(ws, hello)

    async def request(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        await self.ws.send_str(json.dumps({"id": msg_id, "type": type_, **fields}))
        while msg_id not in self.results:
            await self._receive()
        return self.results.pop(msg_id)

    async def _receive(self, timeout: float = 30) -> None:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"socket closed: {msg.type} {msg.data!r} {msg.extra!r}")
        data = json.loads(msg.data)
        if data["type"] == "event":
            self.events.append(data)
        elif data["type"] == "result":
            self.results[data["id"]] = data

    async def subscribe(
        self, topic: str, since: int | None = None, epoch: str | None = None
    ) -> dict[str, Any]:
        return await self.request(
            "subscribe", topic=topic, since=since, epoch=epoch or self.hello["epoch"]
        )

    async def until_terminal(self, task_id: str, timeout: float = 120) -> list[dict[str, Any]]:
        """Events of `task_id` (any topic) up to and including its terminal one."""
        async with asyncio.timeout(timeout):
            while not any(
                e["event"] in TERMINAL and e["task"]["id"] == task_id for e in self.events
            ):
                await self._receive(timeout)
        return [e for e in self.events if e["task"]["id"] == task_id]

    async def until(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """The first event (received so far or next) that passes `check`."""
        async with asyncio.timeout(timeout):
            while not any(check(e) for e in self.events):
                await self._receive(timeout)
        return next(e for e in self.events if check(e))

    async def close(self) -> None:
        await self.ws.close()
