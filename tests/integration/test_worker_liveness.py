"""Hung workers (issue #12, item 7), made real with SIGSTOP on a real worker process of
`ocrlive serve`: an idle worker that hangs is found by the liveness check and replaced
before it is given a document; a worker that hangs mid-document is replaced and the
document retried once, like a crash; so is one whose task timed out while it hung."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers.api import upload, wait_finished, wait_status
from tests.helpers.drawing import draw_page, label_png, sample_lines
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIVENESS_S = 3


def worker_pid(server: ServerProcess) -> int:
    pid: int = server.status()["workers"][0]["pid"]  # the slot's worker (retiring ones follow)
    return pid


async def wait_replaced(server: ServerProcess, old_pid: int, timeout: float = 90) -> int:
    async with asyncio.timeout(timeout):
        while True:
            worker = server.status()["workers"][0]
            if worker["pid"] not in (None, old_pid) and worker["state"] == "idle":
                return int(worker["pid"])
            await asyncio.sleep(0.2)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie not yet reaped is gone too
        return stat.read().split(") ", 1)[1].startswith("Z")


@pytest.fixture(scope="module")
def server(real_server: Callable[..., ServerProcess]) -> ServerProcess:
    return real_server(OCRLIVE_WORKER_LIVENESS_S=str(LIVENESS_S))


async def test_an_idle_hung_worker_is_replaced_before_it_gets_a_document(
    server: ServerProcess,
) -> None:
    old = worker_pid(server)
    os.kill(old, signal.SIGSTOP)
    try:
        new = await wait_replaced(server, old)
    finally:
        if not gone(old):
            os.kill(old, signal.SIGCONT)
    assert new != old and gone(old)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        _status, body = await upload(session, server.url, label_png("after an idle hang"))
        task = await wait_finished(session, server.url, body["task"]["id"])
    assert task["status"] == "completed" and task["attempts"] == 1, task
    assert "hung" in server.full_log()


async def test_a_document_sent_as_its_worker_hangs_is_not_blamed(server: ServerProcess) -> None:
    old = worker_pid(server)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        os.kill(old, signal.SIGSTOP)  # hangs now; the upload follows at once
        _status, body = await upload(session, server.url, label_png("sent to a hung worker"))
        task = await wait_finished(session, server.url, body["task"]["id"])
    assert task["status"] == "completed", task
    assert gone(old)


async def _hang_mid_document(
    server: ServerProcess, tmp_path: Path, lines: int = 25
) -> dict[str, Any]:
    path = tmp_path / "long.png"
    draw_page(sample_lines(lines, seed=9), (1240, 1754)).save(path)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        _status, body = await upload(session, server.url, path.read_bytes())
        task_id = body["task"]["id"]
        await wait_status(session, server.url, task_id, ("processing",))
        await asyncio.sleep(0.5)
        old = worker_pid(server)
        os.kill(old, signal.SIGSTOP)
        task = await wait_finished(session, server.url, task_id, timeout=180)
    assert gone(old)
    return task


async def test_a_worker_that_hangs_mid_document_is_replaced_and_the_document_retried(
    server: ServerProcess, tmp_path: Path
) -> None:
    task = await _hang_mid_document(server, tmp_path)
    assert task["status"] == "completed" and task["attempts"] == 2, task


async def test_a_timeout_caused_by_a_hung_worker_is_retried_like_a_crash(
    real_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    # The liveness check is far away: the task timeout finds the hang first. The
    # timeout is generous: the second attempt must finish within it on a busy machine.
    server = real_server(OCRLIVE_TASK_TIMEOUT="45", OCRLIVE_WORKER_LIVENESS_S="600")
    task = await _hang_mid_document(server, tmp_path, lines=12)
    assert task["status"] == "completed" and task["attempts"] == 2, task
