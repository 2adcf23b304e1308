"""Two ocrlive nodes on one PostgreSQL with one Dask cluster, all real processes: a
throwaway PostgreSQL cluster, `ocrlive scheduler`, two `ocrlive worker` (one thread
each, the real engine) and two `ocrlive serve` on two ports sharing the database and
the data folder. Documents are uploaded to node A and followed on both nodes; a
worker is killed (SIGKILL) mid-page, then node A is; A's browser reconnects to B with
`since`, and B, the leader now, takes over A's unfinished tasks. Every task completes
with each page once in its result, and every browser has every event exactly once,
in seq order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from distributed import Client
from tests.helpers.dask_cluster import DaskCluster, kill_worker_running
from tests.helpers.drawing import draw_page, sample_lines, word_recall, write_pdf
from tests.helpers.live import TERMINAL, Live, upload
from tests.helpers.postgres import PostgresCluster
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

PAGE_SIZE = (1654, 1170)  # half an A4 sheet at 200 dpi, as test_dask_real
TOKEN = "multinode-token-0123456789"
LEASE_S = "4"  # node A is taken for dead 4 s after its last heartbeat


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[DaskCluster]:
    (tmp_path / "dask").mkdir()
    running = DaskCluster(tmp_path / "dask", workers=2, threads=1)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def documents(folder: Path, count: int, pages: int) -> list[tuple[Path, list[list[str]]]]:
    made = []
    for d in range(count):
        texts = [sample_lines(5, seed=500 + 10 * d + n) for n in range(pages)]
        pdf = write_pdf([draw_page(t, PAGE_SIZE) for t in texts], folder / f"doc{d}.pdf")
        made.append((pdf, texts))
    return made


def assert_once_in_order(events: list[dict[str, Any]]) -> None:
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def until_finished(live: Live, task_ids: list[str], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        for task_id in task_ids:
            await live.until_terminal(task_id, timeout=timeout)


async def test_worker_and_node_killed_every_task_completes_once_in_order(
    tmp_path: Path, postgres: PostgresCluster, database_url: str, dask_cluster: DaskCluster
) -> None:
    env = {
        "OCRLIVE_DATABASE_URL": database_url, "OCRLIVE_EXECUTOR": "dask",
        "OCRLIVE_DASK_SCHEDULER": dask_cluster.address, "OCRLIVE_NODE_LEASE_S": LEASE_S,
    }  # fmt: skip
    data = tmp_path / "data"  # shared by both nodes: uploads and page images
    node_a = ServerProcess(data, TOKEN, OCRLIVE_NODE_NAME="node-a", **env)
    node_b = ServerProcess(data, TOKEN, OCRLIVE_NODE_NAME="node-b", **env)
    docs = documents(tmp_path, 2, 3)
    try:
        node_a.start()
        node_b.start(provision=False)  # same database: the admin and token exist
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession(headers=headers) as s:
            on_a = await Live.connect(s, f"{node_a.url}/api/ws")
            on_b = await Live.connect(s, f"{node_b.url}/api/ws")
            assert on_a.hello["epoch"] == on_b.hello["epoch"]
            for live in (on_a, on_b):
                await live.subscribe("tasks", since=0)
            tasks = [await upload(s, node_a.url, pdf.read_bytes(), pdf.name) for pdf, _ in docs]
            ids = [t["id"] for t in tasks]
            async with Client(dask_cluster.address, asynchronous=True, timeout=30) as client:
                await kill_worker_running(client, "ocrlive-page-")
            # Node A dies while its documents are still being read.
            await on_b.until(lambda e: e["event"] == "task.progress", timeout=300)
            node_a.kill()
            resumed = await resume_on(s, node_b, on_a)
            # Both sockets read at once (one left unread would miss its pings).
            await asyncio.gather(
                until_finished(on_b, ids, timeout=600), until_finished(resumed, ids, timeout=600)
            )
            seen_by_a = [*on_a.events, *resumed.events]
            for events in (on_b.events, seen_by_a):
                assert_once_in_order(events)
                finished = [e for e in events if e["event"] in TERMINAL]
                assert sorted(e["task"]["id"] for e in finished) == sorted(ids)
                assert {e["event"] for e in finished} == {"task.completed"}
            assert [e["seq"] for e in seen_by_a] == [e["seq"] for e in on_b.events]
            messages = {e["task"]["message"] for e in on_b.events if e["event"] == "task.requeued"}
            assert "Queued again: the server node reading it stopped" in messages, messages
            for task_id, (_, texts) in zip(ids, docs, strict=True):
                async with s.get(f"{node_b.url}/api/tasks/{task_id}/result") as resp:
                    result = await resp.json()
                assert [p["number"] for p in result["pages"]] == [1, 2, 3]  # each page once
                for page, lines in zip(result["pages"], texts, strict=True):
                    assert word_recall("\n".join(lines), page["text"]) >= 0.8, page["text"]
            status = node_b.status()
            assert [(n["name"], n["leader"]) for n in status["nodes"]] == [("node-b", True)]
            assert len(status["workers"]) == 2, status["workers"]
            for live in (on_b, resumed):
                await live.close()
    finally:
        node_b.stop()
        node_a.stop()


async def resume_on(session: aiohttp.ClientSession, node: ServerProcess, lost: Live) -> Live:
    """A's browser: its socket is gone; it connects to B and resumes after the last seq
    it had, in the same epoch (the dashboard's reconnect)."""
    with pytest.raises((ConnectionError, TimeoutError, aiohttp.ClientError)):
        while True:
            await lost._receive(timeout=10)
    last = lost.events[-1]["seq"]
    resumed = await Live.connect(session, f"{node.url}/api/ws")
    answer = await resumed.subscribe("tasks", since=last, epoch=lost.hello["epoch"])
    assert answer.get("ok", True), answer
    return resumed
