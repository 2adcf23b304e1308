"""Cross-node event latency for scripts/bench_scale.py: from the commit of an event on
node A to its delivery to WebSocket clients of node B, both on one PostgreSQL.

Node A is a TaskManager on the PostgreSQL backend in this process (what `ocrlive
serve` runs, minus HTTP); it notes when each event committed (its publisher is called
right after the COMMIT). Node B is a real `ocrlive serve` process on the same
database. The clients are a separate process: N WebSocket connections to node B, each
subscribed to `tasks`, noting when each event arrives. perf_counter is CLOCK_MONOTONIC
on Linux, one clock for every process of the machine, so the two notes subtract.
Rounds: one client (the baseline), then N; p50 and p99 over every delivery.

What is measured is node B, not the client process (2 cores: node B pinned to one,
the clients to the other, node A and PostgreSQL floating, as bench_ws pins):
- the clients are bench_ws's raw WebSocket client (scripts/bench_common.py). With
  aiohttp's client and a json.loads per message the client process took 38 us of CPU
  per delivery to node B's 12 us, so it read an event's 1,000 frames three times
  slower than node B wrote them (p50 30 ms, p99 84 ms at 1,000 clients, load 1.3);
- a frame's arrival is when the client's poll returned with its socket readable (the
  frame was in the socket then), not when the client got round to parsing it: even
  the raw client takes 16 us a frame to node B's 12, and 1,000 browsers do not queue
  on one core. The time to parsing is reported beside it (`parsed`);
- each round starts once node B is idle after the connections (the connect burst
  ends in a full garbage collection of ~100 ms there; bench_ws measures bursts), and
  reports the CPU seconds node B and the client process spent in it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import selectors
import statistics
import sys
import time
from array import array
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tests.helpers.postgres import PostgresCluster  # noqa: E402
from tests.helpers.server import ServerProcess  # noqa: E402

from bench_common import EVENT_POSITION, Recorder, pin_to, raise_nofile, waited_for_cpu_s  # noqa: E402
from benchws.fleet import open_client  # noqa: E402
from ocrlive.events import Event, Stage  # noqa: E402
from ocrlive.ocr.types import Progress  # noqa: E402
from ocrlive.store import open_store  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.tasks.changes import NewTask  # noqa: E402
from ocrlive.tasks.manager import TaskManager  # noqa: E402

TOKEN = "bench-scale-token-0123456789"
CONNECT_BATCH = 50  # connections opened at once by the client process
NODE_B_CPU, CLIENT_CPU = 0, 1  # as bench_ws: the server on one core, the clients on the other
EVENT = b'{"type":"event",'
SETTLE_MAX_S = 30.0


class Committed:
    """Node A's publisher: when each seq committed."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}

    def publish(self, event: Event) -> None:
        self.at.setdefault(event.seq, time.perf_counter())


class PollStamps(selectors.EpollSelector):
    """The client loop's selector, noting when each poll returned: a frame read after
    it was in its socket by then, however long the loop then took to reach it."""

    stamp = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        self.stamp = time.perf_counter()
        return ready


class Arrivals(Recorder):
    """Per seq, over every socket of the process: when the poll that found each frame
    returned (`polled`), and when the client parsed it (`parsed`)."""

    def __init__(self, selector: PollStamps) -> None:
        super().__init__()
        self.selector = selector
        self.polled: dict[int, array[float]] = {}
        self.parsed: dict[int, array[float]] = {}

    def on_text(self, payload: bytes) -> None:
        now = time.perf_counter()
        if payload.startswith(EVENT) and (found := EVENT_POSITION.search(payload)):
            seq = int(found[2])
            self.polled.setdefault(seq, array("d")).append(self.selector.stamp)
            self.parsed.setdefault(seq, array("d")).append(now)


def clients(port: int, count: int, ready: Any, stop: Any, out: Path) -> None:
    """The client process: `count` sockets on node B; arrival times by seq."""
    raise_nofile()
    pin_to(CLIENT_CPU)
    selector = PollStamps()
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(selector)) as runner:
        runner.run(_clients(port, count, ready, stop, out, Arrivals(selector)))


async def _clients(
    port: int, count: int, ready: Any, stop: Any, out: Path, arrivals: Arrivals
) -> None:
    target = {"kind": "ocrlive", "port": port, "token": TOKEN}
    sockets = []
    for start in range(0, count, CONNECT_BATCH):
        batch = range(start, min(count, start + CONNECT_BATCH))
        sockets += await asyncio.gather(*(open_client(target, ["tasks"], arrivals) for _ in batch))
    ready.set()
    cpu = time.process_time()
    await asyncio.to_thread(stop.wait)  # a multiprocessing Event, set by the bench
    cpu = time.process_time() - cpu
    for ws in sockets:
        ws.abort()
    polled = {seq: list(times) for seq, times in arrivals.polled.items()}
    parsed = {seq: list(times) for seq, times in arrivals.parsed.items()}
    out.write_text(json.dumps({"polled": polled, "parsed": parsed, "cpu_s": cpu}))


def pin_tree(pid: int, cpu: int) -> None:
    """Every thread of `pid` and of its children on `cpu` (a process's affinity is its
    threads'; those made later inherit it)."""
    if cpu >= (os.cpu_count() or 1) or not hasattr(os, "sched_setaffinity"):
        return
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        for thread in proc.threads():
            os.sched_setaffinity(thread.id, {cpu})


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


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


def one_round(node_b: ServerProcess, database: str, count: int, events: int, rate: float,
              work: Path) -> Any:  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), work / f"arrived-{count}.json"
    proc = ctx.Process(target=clients, args=(node_b.port, count, ready, stop, out))
    proc.start()
    if not ready.wait(600):
        proc.kill()
        raise TimeoutError(f"{count} clients did not connect in 600 s")
    assert node_b.proc is not None
    settle(node_b.proc.pid)
    node_b_cpu, node_b_wait = cpu_seconds(node_b.proc.pid), waited_for_cpu_s(node_b.proc.pid)
    committed = asyncio.run(_node_a(database, events, rate))
    time.sleep(2.0)  # the last deliveries
    node_b_cpu = cpu_seconds(node_b.proc.pid) - node_b_cpu
    node_b_wait = waited_for_cpu_s(node_b.proc.pid) - node_b_wait
    stop.set()
    proc.join(120)
    found = json.loads(out.read_text())
    summary = _summary(_lags(committed, found["polled"]), count * len(committed))
    summary["parsed"] = _summary(_lags(committed, found["parsed"]), count * len(committed))
    summary["cpu_s"] = {"node_b": round(node_b_cpu, 2), "clients": round(found["cpu_s"], 2)}
    summary["node_b_waited_for_cpu_ms"] = round(node_b_wait * 1000, 1)
    return summary


def settle(pid: int) -> None:
    """Until node B is idle after the connections (under 10% of a core for a second,
    at most SETTLE_MAX_S): the rounds measure steady delivery, not the tail of a burst
    of connections (bench_ws measures those)."""
    deadline = time.monotonic() + SETTLE_MAX_S
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.1:
            return


def _lags(committed: dict[int, float], arrived: dict[str, list[float]]) -> list[float]:
    return [1000 * (t - committed[int(s)]) for s, times in arrived.items()
            if int(s) in committed for t in times]  # fmt: skip


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
        assert node_b.proc is not None
        pin_tree(node_b.proc.pid, NODE_B_CPU)
        return {f"clients_{n}": one_round(node_b, database, n, events, rate, work) for n in counts}
    finally:
        if node_b is not None:
            node_b.stop()
        postgres.stop()
