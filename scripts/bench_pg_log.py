"""The cost of ordering PostgreSQL appends with one advisory lock.

Every append of every node takes `pg_advisory_xact_lock` before it reads the head, so
seqs commit in order (store/postgres/log.py). This measures, on a throwaway cluster
(initdb + pg_ctl in a temporary folder, fsync off as in the tests), one-event task
changes through the real TaskManager and PostgreSQL event log:

- one node, appends one after another: on SQLite (the embedded default's one writer
  thread: the baseline), on PostgreSQL without the lock (the same transaction with a
  plain SELECT in its place, correct only while a single node writes) and with it,
  alternated over several rounds, medians, as ratios to SQLite;
- two nodes in one process writing at once (with the lock: they take turns), and
  the delivery of each event committed on node A to node B's subscribers (LISTEN/
  NOTIFY wake-up, then a read of the table): p50 / p99 from commit to delivery.

    .venv/bin/python scripts/bench_pg_log.py [--changes 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.postgres import PostgresCluster  # noqa: E402

from ocrlive.events import Event  # noqa: E402
from ocrlive.store import open_store  # noqa: E402
from ocrlive.store.base import Store  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.store.postgres import open_postgres  # noqa: E402
from ocrlive.store.postgres.connection import LOG_LOCK, libpq_url  # noqa: E402
from ocrlive.tasks.changes import NewTask  # noqa: E402
from ocrlive.tasks.manager import TaskManager  # noqa: E402


class Clock:
    """Publisher and remote sink that note when each seq arrived."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}

    def publish(self, event: Event) -> None:
        self.at.setdefault(event.seq, time.perf_counter())

    def remote(self, events: list[Event]) -> None:
        for event in events:
            self.publish(event)


def new_task(n: int) -> NewTask:
    return NewTask(
        patient_id=f"P-{n}", document_type="lab_report", filename=f"{n}.png",
        content_type="image/png", size=1, sha256="0" * 64, file_path="/dev/null",
    )  # fmt: skip


async def node(url: str | Path, clock: Clock, *, lock: bool = True) -> tuple[Store, TaskManager]:
    """The real log and manager; other nodes' events reach `clock` through the journal."""
    store = open_postgres(url, lock=lock) if isinstance(url, str) else open_store(url)
    manager = TaskManager(store, clock)
    await manager.start()
    return store, manager


async def sequential(url: str | Path, changes: int, lock: bool = True) -> float:
    """Appends per second, one after another, one node (a Path: SQLite)."""
    store, manager = await node(url, Clock(), lock=lock)
    try:
        started = time.perf_counter()
        for n in range(changes):
            await manager.create(new_task(n))
        return changes / (time.perf_counter() - started)
    finally:
        await store.close()


async def two_nodes(url: str, changes: int) -> dict[str, float]:
    """Both nodes append at once (4 writers each); A's commits as B's subscribers see them."""
    clock_a, clock_b = Clock(), Clock()
    (store_a, a), (store_b, b) = await node(url, clock_a), await node(url, clock_b)
    committed: dict[int, float] = {}

    async def writer(manager: TaskManager, mine: bool, count: int) -> None:
        for n in range(count):
            task, _ = await manager.create(new_task(n))
            if mine:
                committed[task.version] = time.perf_counter()

    try:
        started = time.perf_counter()
        per = changes // 8
        await asyncio.gather(*(writer(a, True, per) for _ in range(4)),
                             *(writer(b, False, per) for _ in range(4)))  # fmt: skip
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)  # the last notifications
        delays = sorted(1000 * (clock_b.at[s] - t) for s, t in committed.items() if s in clock_b.at)
        missing = [s for s in committed if s not in clock_b.at]
    finally:
        await store_a.close()
        await store_b.close()
    return {"appends_per_s": 8 * per / elapsed, "cross_node_p50_ms": statistics.median(delays),
            "cross_node_p99_ms": delays[int(0.99 * (len(delays) - 1))],
            "undelivered": len(missing)}  # fmt: skip


def lock_server_ms(url: str, samples: int = 200) -> tuple[float, float]:
    """The lock's own cost inside PostgreSQL, uncontended, and that of a plain SELECT 1
    (EXPLAIN ANALYZE execution times, medians): what each append adds besides one
    round trip, which a loaded machine's scheduling makes far noisier than this."""
    times: dict[str, list[float]] = {"lock": [], "select": []}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        for _ in range(samples):
            for name, sql in (("lock", f"SELECT pg_advisory_xact_lock({LOG_LOCK})"),
                              ("select", "SELECT 1")):  # fmt: skip
                with conn.transaction():
                    plan = conn.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").fetchone()
                    assert plan is not None
                    times[name].append(float(plan[0][0]["Execution Time"]))
    return statistics.median(times["lock"]), statistics.median(times["select"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=2000, help="task changes per phase")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (medians)")
    args = parser.parse_args()
    cluster = PostgresCluster()
    folder = Path(tempfile.mkdtemp(prefix="ocrlive-bench-"))
    try:
        cluster.start()
        migrate(cluster.url())
        url = cluster.url()
        asyncio.run(sequential(url, args.changes // 4, lock=True))  # warm the server up
        runs: dict[str, list[float]] = {"sqlite": [], "no_lock": [], "lock": []}
        for n in range(args.rounds):  # alternated, so that a load spike hits all alike
            sqlite = folder / f"round-{n}.db"
            migrate(sqlite)
            runs["sqlite"].append(asyncio.run(sequential(sqlite, args.changes)))
            for name, lock in (("no_lock", False), ("lock", True)):
                runs[name].append(asyncio.run(sequential(url, args.changes, lock=lock)))
        row = {f"one_node_{name}_per_s": statistics.median(v) for name, v in runs.items()}
        row |= asyncio.run(two_nodes(url, args.changes))
        row["lock_server_ms"], row["select_1_server_ms"] = lock_server_ms(url)
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    base = row["one_node_sqlite_per_s"]
    print(json.dumps({k: round(v, 2) for k, v in row.items()}))
    print(
        f"one node, appends/s: SQLite writer {base:.0f}; PostgreSQL without the lock "
        f"{row['one_node_no_lock_per_s']:.0f} ({row['one_node_no_lock_per_s'] / base:.2f}x), "
        f"with it {row['one_node_lock_per_s']:.0f} ({row['one_node_lock_per_s'] / base:.2f}x; "
        f"{row['one_node_lock_per_s'] / row['one_node_no_lock_per_s']:.2f}x of no lock)"
    )
    print(f"two nodes at once, with the lock: {row['appends_per_s']:.0f} appends/s")
    lock, select = row["lock_server_ms"], row["select_1_server_ms"]
    print(f"the lock inside PostgreSQL: {lock:.4f} ms (SELECT 1: {select:.4f} ms), "
          "plus one round trip per append")  # fmt: skip
    p50, p99 = row["cross_node_p50_ms"], row["cross_node_p99_ms"]
    print(f"A's commit -> B's subscribers: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"{row['undelivered']:.0f} undelivered")  # fmt: skip


if __name__ == "__main__":
    main()
