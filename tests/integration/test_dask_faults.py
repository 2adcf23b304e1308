"""The Dask scheduler killed (SIGKILL) and restarted while documents are read: the
`ocrlive worker` processes join the new scheduler by themselves, the leader node
re-submits the work in flight from the task table, and every task completes with
each page once in its result and its events in one gapless order. Real processes:
`ocrlive scheduler`, two `ocrlive worker` (one thread each, the real engine) and
`ocrlive serve` with OCRLIVE_EXECUTOR=dask."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from distributed import Client
from tests.helpers.dask_cluster import DaskCluster, executing_keys
from tests.helpers.drawing import draw_page, sample_lines, word_recall, write_pdf
from tests.helpers.live import Live, upload
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

PAGE_SIZE = (1654, 1170)  # half an A4 sheet at 200 dpi, as test_dask_real
TOKEN = "dask-faults-token-0123456789"


async def until_a_page_runs(address: str, timeout: float = 300) -> None:
    async with Client(address, asynchronous=True, timeout=30) as client:
        async with asyncio.timeout(timeout):
            while True:
                running = await client.run(executing_keys, on_error="ignore")
                if any("ocrlive-page-" in key for keys in running.values() for key in keys):
                    return
                await asyncio.sleep(0.1)


async def pages_counted(server: ServerProcess, pages: int) -> list[dict[str, Any]]:
    """/api/status's workers once they report `pages` read (sent with Dask heartbeats)."""
    async with asyncio.timeout(30):
        while True:
            workers: list[dict[str, Any]] = server.status()["workers"]
            if sum(int(w["pages_done"]) for w in workers) >= pages:
                return workers
            await asyncio.sleep(0.5)


def assert_gapless(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_scheduler_killed_mid_page_and_restarted_every_task_completes(
    tmp_path: Path,
) -> None:
    cluster = DaskCluster(tmp_path / "dask", workers=2, threads=1)
    (tmp_path / "dask").mkdir()
    texts = [[sample_lines(5, seed=300 + 10 * d + n) for n in range(3)] for d in range(2)]
    pdfs = [
        write_pdf([draw_page(t, PAGE_SIZE) for t in doc], tmp_path / f"doc{d}.pdf")
        for d, doc in enumerate(texts)
    ]
    env = {"OCRLIVE_EXECUTOR": "dask", "OCRLIVE_DASK_SCHEDULER": cluster.address}
    server = ServerProcess(tmp_path / "data", TOKEN, **env)
    try:
        cluster.start()
        server.start()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as s:
            live = await Live.connect(s, f"{server.url}/api/ws")
            await live.subscribe("tasks")
            tasks = [await upload(s, server.url, p.read_bytes(), p.name) for p in pdfs]
            await until_a_page_runs(cluster.address)
            cluster.kill_scheduler()
            await asyncio.sleep(1.0)
            cluster.start_scheduler()
            for task in tasks:
                events = await live.until_terminal(task["id"], timeout=400)
                assert events[-1]["event"] == "task.completed", events[-1]
            requeued = [e for e in live.events if e["event"] == "task.requeued"]
            assert requeued, "no task was in flight when the scheduler died"
            assert {e["task"]["message"] for e in requeued} == {
                "Queued again: the Dask scheduler restarted"
            }
            assert_gapless(live.events)  # every event once, in seq order
            for task, doc in zip(tasks, texts, strict=True):
                async with s.get(f"{server.url}/api/tasks/{task['id']}/result") as resp:
                    result = await resp.json()
                assert [p["number"] for p in result["pages"]] == [1, 2, 3]  # each once
                for page, lines in zip(result["pages"], doc, strict=True):
                    assert word_recall("\n".join(lines), page["text"]) >= 0.8, page["text"]
            status = server.status()
            assert [n["leader"] for n in status["nodes"]] == [True]
            workers = await pages_counted(server, 6)  # both documents read again in full
            assert len(workers) == 2, workers
            assert {(w["threads"], w["gpu"], w["device"]) for w in workers} == {(1, 0, "cpu")}
            await live.close()
    finally:
        server.stop()
        cluster.stop()
