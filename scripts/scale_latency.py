"""Cross-node event latency for scripts/bench_scale.py: from the commit of an event on
node A to its delivery to WebSocket clients of node B, both on one PostgreSQL.

Node A is a TaskManager on the PostgreSQL backend in this process (what `ocrlive
serve` runs, minus HTTP); it notes when each event committed (its publisher is called
right after the COMMIT). Node B is a real `ocrlive serve` process on the same
database. The clients are a separate process: N WebSocket connections to node B, each
subscribed to `tasks`, noting when each event arrives. perf_counter is CLOCK_MONOTONIC
on Linux, one clock for every process of the machine, so the two notes subtract.
Rounds: one client (the baseline), then N; p50 and p99 over every delivery.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.postgres import PostgresCluster  # noqa: E402
from tests.helpers.server import ServerProcess  # noqa: E402

from ocrlive.events import Event, Stage  # noqa: E402
from ocrlive.ocr.types import Progress  # noqa: E402
from ocrlive.store import open_store  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.tasks.changes import NewTask  # noqa: E402
from ocrlive.tasks.manager import TaskManager  # noqa: E402

TOKEN = "bench-scale-token-0123456789"
CONNECT_BATCH = 50  # connections opened at once by the client process


class Committed:
    """Node A's publisher: when each seq committed."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}

    def publish(self, event: Event) -> None:
        self.at.setdefault(event.seq, time.perf_counter())


def clients(url: str, count: int, ready: Any, stop: Any, out: Path) -> None:
    """The client process: `count` sockets on node B; arrival times by seq."""
    asyncio.run(_clients(url, count, ready, stop, out))


async def _clients(url: str, count: int, ready: Any, stop: Any, out: Path) -> None:
    arrived: dict[int, list[float]] = {}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        sockets = []
        for start in range(0, count, CONNECT_BATCH):
            batch = range(start, min(count, start + CONNECT_BATCH))
            sockets += await asyncio.gather(*(_subscribe(session, url) for _ in batch))
        readers = [asyncio.create_task(_read(ws, arrived)) for ws in sockets]
        ready.set()
        await asyncio.to_thread(stop.wait)  # a multiprocessing Event, set by the bench
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    out.write_text(json.dumps(arrived))


async def _subscribe(session: aiohttp.ClientSession, url: str) -> Any:
    ws = await session.ws_connect(f"{url}/api/ws", max_msg_size=0)
    await ws.receive_json(timeout=60)  # hello
    await ws.send_str(json.dumps({"id": 1, "type": "subscribe", "topic": "tasks"}))
    while (await ws.receive_json(timeout=60)).get("type") != "result":
        pass
    return ws


async def _read(ws: Any, arrived: dict[int, list[float]]) -> None:
    async for msg in ws:
        now = time.perf_counter()
        data = json.loads(msg.data)
        if data.get("type") == "event":
            arrived.setdefault(int(data["seq"]), []).append(now)


async def _produce(manager: TaskManager, events: int, rate: float) -> None:
    new = NewTask(
        patient_id="P-bench", document_type="lab_report", filename="b.png",
        content_type="image/png", size=1, sha256="0" * 64, file_path="/nonexistent",
    )  # fmt: skip
    task, _ = await manager.create(new)
    await manager.mark_started(task.id)
    for n in range(events):
        started = time.perf_counter()
        percent = 100 * (n + 1) / (events + 1)
        await manager.apply_progress(Progress(task.id, Stage.RECOGNIZING, percent, "x", 1, 1))
        await asyncio.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    await manager.cancel(task.id)


def one_round(url: str, database: str, count: int, events: int, rate: float, work: Path) -> Any:
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), work / f"arrived-{count}.json"
    proc = ctx.Process(target=clients, args=(url, count, ready, stop, out))
    proc.start()
    if not ready.wait(600):
        proc.kill()
        raise TimeoutError(f"{count} clients did not connect in 600 s")
    committed = asyncio.run(_node_a(database, events, rate))
    time.sleep(2.0)  # the last deliveries
    stop.set()
    proc.join(120)
    arrived = {int(k): v for k, v in json.loads(out.read_text()).items()}
    lags = [1000 * (t - committed[s]) for s, times in arrived.items() if s in committed
            for t in times]  # fmt: skip
    expected = count * len(committed)
    return _summary(lags, expected)


async def _node_a(database: str, events: int, rate: float) -> dict[int, float]:
    store = open_store(database)
    publisher = Committed()
    manager = TaskManager(store, publisher, progress_interval=0.0)
    await manager.start()
    try:
        await _produce(manager, events, rate)
    finally:
        await store.close()
    return publisher.at


def _summary(lags: list[float], expected: int) -> dict[str, Any]:
    if not lags:
        return {"deliveries": 0, "expected": expected}
    lags.sort()

    def pick(q: float) -> float:
        return round(lags[min(len(lags) - 1, int(q * len(lags)))], 2)

    return {
        "deliveries": len(lags), "expected": expected, "p50_ms": pick(0.5),
        "p99_ms": pick(0.99), "max_ms": round(lags[-1], 2),
        "mean_ms": round(statistics.mean(lags), 2),
    }  # fmt: skip


def measure(work: Path, counts: list[int], events: int, rate: float) -> dict[str, Any]:
    postgres = PostgresCluster()
    node_b: ServerProcess | None = None
    try:
        postgres.start()
        database = postgres.create_database()
        migrate(database)
        env = {"OCRLIVE_DATABASE_URL": database, "OCRLIVE_WORKERS": "1",
               "OCRLIVE_CONNECT_RATE": "100000", "OCRLIVE_NODE_NAME": "node-b"}  # fmt: skip
        node_b = ServerProcess(work / "node-b", TOKEN, None, **env)
        node_b.start(timeout=300)
        return {
            f"clients_{n}": one_round(node_b.url, database, n, events, rate, work) for n in counts
        }
    finally:
        if node_b is not None:
            node_b.stop()
        postgres.stop()
