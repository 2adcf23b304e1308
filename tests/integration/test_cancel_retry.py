"""Cancel, then retry at once, many times over (issue #12, item 2): the retried task is
never refused by the OCR pool because the cancelled job is still registered there;
after the last retry the document completes. Real server, real engine, one worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers.api import get_task, upload, wait_finished, wait_status
from tests.helpers.drawing import draw_page, sample_lines
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

ROUNDS = 15


async def test_cancel_then_retry_at_once_never_fails_the_retry(
    real_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    # Two workers, so two runner loops: the retried task is taken at once by the other
    # loop while the cancelled run still waits for its worker to stop.
    server = real_server(OCRLIVE_WORKERS="2")
    path = tmp_path / "letter.png"
    draw_page(sample_lines(25, seed=4), (1240, 1754)).save(path)  # a few seconds of OCR
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        status, body = await upload(session, server.url, path.read_bytes())
        assert status == 202
        task_id, url = body["task"]["id"], server.url
        for round_ in range(ROUNDS):
            task = await wait_status(session, url, task_id, ("processing",))
            assert task["status"] == "processing", (round_, task)
            async with session.post(f"{url}/api/tasks/{task_id}/cancel") as resp:
                assert resp.status == 200, await resp.text()
            async with session.post(f"{url}/api/tasks/{task_id}/retry") as resp:
                assert resp.status == 200, await resp.text()
            after = await get_task(session, url, task_id)
            assert after["status"] in ("queued", "processing"), (round_, after)
        task = await wait_finished(session, url, task_id)
        assert task["status"] == "completed", task
        assert task["error"] is None and task["attempts"] == 1
    assert "already in the OCR pool" not in server.full_log()
