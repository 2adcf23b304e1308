"""The queue limit holds under concurrency (issue #12, item 3): many uploads at once over
real sockets against the real server process; the capacity check and the enqueue are
one step, so the queue never holds more than OCRLIVE_QUEUE_LIMIT tasks."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers.drawing import label_png
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

LIMIT = 30
UPLOADS = 150


async def upload(session: aiohttp.ClientSession, url: str, data: bytes) -> tuple[int, Any]:
    fd = aiohttp.FormData()
    fd.add_field("patient_id", "P-7")
    fd.add_field("document_type", "other")
    fd.add_field("file", data, filename="label.png", content_type="image/png")
    async with session.post(f"{url}/api/tasks", data=fd) as resp:
        return resp.status, (await resp.json(), resp.headers.get("Retry-After"))


async def test_concurrent_uploads_never_overfill_the_queue(
    real_server: Callable[..., ServerProcess],
) -> None:
    server = real_server(OCRLIVE_QUEUE_LIMIT=str(LIMIT))
    data = label_png("queue limit")
    connector = aiohttp.TCPConnector(limit=0)  # one socket per upload, all at once
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        answers = await asyncio.gather(*(upload(session, server.url, data) for _ in range(UPLOADS)))
        statuses = Counter(status for status, _ in answers)
        assert set(statuses) == {202, 503}, statuses
        refused = [body for status, (body, _) in answers if status == 503]
        assert {b["error"]["code"] for b in refused} == {"queue_full"}
        assert all(retry for status, (_, retry) in answers if status == 503)
        queue = server.status()["queue"]
        # Exact: the queue reached its limit and never went past it. Accepted uploads
        # beyond the limit are only those a worker took off the queue meanwhile.
        assert queue["peak"] == LIMIT, queue
        accepted = [body["task"]["id"] for status, (body, _) in answers if status == 202]
        async with session.get(f"{server.url}/api/tasks?status=all&limit=5000") as resp:
            tasks = {t["id"]: t for t in (await resp.json())["tasks"]}
        left_queue = sum(1 for t in accepted if tasks[t]["status"] != "queued")
        assert len(accepted) <= LIMIT + left_queue
        assert len(accepted) >= LIMIT
