"""Restart recovery: SIGKILL the real server mid-task; at the next start the tasks run
again and complete, and no task, file or event is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.helpers.drawing import draw_page, sample_lines, write_pdf
from tests.helpers.live import Live
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

TOKEN = "restart-token-123456"


async def upload(session: aiohttp.ClientSession, url: str, path: Path) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("patient_id", "P-9")
    form.add_field("document_type", "discharge_summary")
    form.add_field("file", path.read_bytes(), filename=path.name)
    async with session.post(f"{url}/api/tasks", data=form) as resp:
        assert resp.status == 202
        task: dict[str, Any] = (await resp.json())["task"]
        return task


async def test_sigkill_mid_task_then_restart_completes_everything(tmp_path: Path) -> None:
    docs = []
    for n in range(3):
        path = tmp_path / f"summary-{n}.pdf"
        write_pdf([draw_page(sample_lines(12, seed=n * 2 + p)) for p in range(2)], path)
        docs.append(path)
    server = ServerProcess(tmp_path / "data", TOKEN, OCRLIVE_WORKERS="1")
    server.start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            live = await Live.connect(session, f"{server.url}/api/ws")
            await live.subscribe("tasks")
            tasks = [await upload(session, server.url, path) for path in docs]
            while not any(e["event"] == "task.progress" for e in live.events):
                await live._receive()
            before = max(e["seq"] for e in live.events)
            server.kill()
            server.start()
            live = await Live.connect(session, f"{server.url}/api/ws")
            reply = await live.subscribe("tasks", since=before)
            assert reply["recovered"] is True
            for task in tasks:
                events = await live.until_terminal(task["id"], timeout=300)
                assert events[-1]["event"] == "task.completed", events[-1]
            assert min(e["seq"] for e in live.events) > before
            requeued = [e for e in live.events if e["event"] == "task.requeued"]
            assert requeued and "restart" in requeued[0]["task"]["message"]
            async with session.get(f"{server.url}/api/tasks?status=all") as resp:
                listed = (await resp.json())["tasks"]
            assert {t["id"] for t in listed} == {t["id"] for t in tasks}
            assert {t["status"] for t in listed} == {"completed"}
    finally:
        server.stop()
