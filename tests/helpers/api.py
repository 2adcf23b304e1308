"""Small async helpers over ocrlive's HTTP API, for tests against a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

ACTIVE = ("queued", "processing")


async def upload(
    session: aiohttp.ClientSession, url: str, data: bytes, *, name: str = "doc.png",
    patient: str = "P-1", document_type: str = "other",
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    fd = aiohttp.FormData()
    fd.add_field("patient_id", patient)
    fd.add_field("document_type", document_type)
    fd.add_field("file", data, filename=name, content_type="application/octet-stream")
    async with session.post(f"{url}/api/tasks", data=fd) as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


async def get_task(session: aiohttp.ClientSession, url: str, task_id: str) -> dict[str, Any]:
    async with session.get(f"{url}/api/tasks/{task_id}") as resp:
        task: dict[str, Any] = (await resp.json())["task"]
        return task


async def wait_status(
    session: aiohttp.ClientSession, url: str, task_id: str, wanted: tuple[str, ...],
    timeout: float = 120, interval: float = 0.05,
) -> dict[str, Any]:  # fmt: skip
    """Poll until the task's status is one of `wanted` (or finished otherwise)."""
    async with asyncio.timeout(timeout):
        while True:
            task = await get_task(session, url, task_id)
            if task["status"] in wanted or task["status"] not in ACTIVE:
                return task
            await asyncio.sleep(interval)


async def wait_finished(
    session: aiohttp.ClientSession, url: str, task_id: str, timeout: float = 120
) -> dict[str, Any]:
    return await wait_status(session, url, task_id, (), timeout, interval=0.2)
