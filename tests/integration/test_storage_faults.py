"""A full disk never stops processing (issue #12, item 1). The data folder lives on a
small tmpfs that the test mounts and fills while the real server reads a document:
uploads get 503 `storage_unavailable`, /api/status shows the condition, the task in
flight is finished once space is freed, and new uploads run again without a restart."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers.api import upload, wait_finished, wait_status
from tests.helpers.disk import fill
from tests.helpers.drawing import draw_page, label_png, sample_lines
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def as_root(*command: str) -> list[str]:
    """As scripts/install.sh does: through sudo (never prompting) when not root."""
    return list(command) if os.geteuid() == 0 else ["sudo", "-n", *command]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 40 MiB tmpfs the server (this user) can fill."""
    mount = tmp_path / "disk"
    mount.mkdir()
    options = f"size=40m,uid={os.getuid()},gid={os.getgid()}"
    try:
        subprocess.run(
            as_root("mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)),
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:  # no sudo, or it asks
        said = getattr(exc, "stderr", "") or exc
        pytest.fail(f"mounting a small tmpfs needs root or sudo without a prompt: {said}")
    try:
        yield mount
    finally:
        subprocess.run(as_root("umount", "-l", str(mount)), check=False)


def page_png(tmp_path: Path, lines: int, seed: int) -> bytes:
    path = tmp_path / f"page-{seed}.png"
    draw_page(sample_lines(lines, seed=seed), (1240, 1754)).save(path)
    return path.read_bytes()


async def test_a_full_disk_answers_503_and_processing_resumes_when_space_is_freed(
    small_disk: Path, tmp_path: Path, engine_config: Any
) -> None:
    models = str(Path(engine_config.det_model_dir).parent)
    server = ServerProcess(
        small_disk / "data", TOKEN, OCRLIVE_MODELS_DIR=models, OCRLIVE_WORKERS="1"
    )
    server.log_path = tmp_path / "server.log"  # the log must not sit on the full disk
    server.start()
    server.wait_workers_ready()
    try:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            await _fill_during_a_task_then_free(session, server, small_disk, tmp_path)
        log = server.full_log()
        assert "Traceback" not in log, log[-4000:]
        assert "storage answers again" in log
    finally:
        server.stop()


async def _fill_during_a_task_then_free(
    session: aiohttp.ClientSession, server: ServerProcess, disk: Path, tmp_path: Path
) -> None:
    url = server.url
    status, body = await upload(session, url, page_png(tmp_path, 25, seed=1))
    assert status == 202
    in_flight = body["task"]["id"]
    await wait_status(session, url, in_flight, ("processing",))
    filler = fill(disk)
    status, refused = await upload(session, url, label_png("during the outage"))
    assert status == 503 and refused["error"]["code"] == "storage_unavailable", refused
    storage = server.status()["storage"]
    assert storage["ok"] is False and storage["error"]
    # The in-flight task reaches its completion path (a page image or its result to
    # write) while the disk is full; it must wait for storage, not die with the loop.
    await _wait_until_the_worker_is_done(server)
    # Reading the task writes an audit row, so while the disk is full it is refused too.
    async with session.get(f"{url}/api/tasks/{in_flight}") as resp:
        assert resp.status == 503 and (await resp.json())["error"]["code"] == "storage_unavailable"
    filler.unlink()
    task = await wait_finished(session, url, in_flight, timeout=180)
    assert task["status"] == "completed", task
    status, body = await upload(session, url, label_png("after the outage"))
    assert status == 202
    task = await wait_finished(session, url, body["task"]["id"])
    assert task["status"] == "completed", task
    after = server.status()
    assert after["storage"]["ok"] is True
    assert all(loop["restarts"] == 0 for loop in after["loops"]), after["loops"]


async def _wait_until_the_worker_is_done(server: ServerProcess, timeout: float = 120) -> None:
    async with asyncio.timeout(timeout):
        while server.status()["running"]:
            await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # the runner tries to store what it has, and fails
