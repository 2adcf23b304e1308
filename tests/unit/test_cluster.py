"""Nodes on one database (tasks/cluster.py, store/nodes.py) over a real migrated file:
one leader at a time, a dead node's tasks taken over exactly once, a task given up
when the Dask scheduler was lost re-submitted by the leader and read to the end, and a
task owned by the node that queued it from the commit that queued it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_manager import RecordingPublisher, new_task

from ocrlive.events import Event, EventType, TaskErrorCode, TaskStatus
from ocrlive.ocr.pool_state import SchedulerLost
from ocrlive.ocr.types import OcrJob, OcrPage, OcrResult, Progress
from ocrlive.settings import Settings
from ocrlive.store.base import Store
from ocrlive.store.database import Database
from ocrlive.store.db import migrate
from ocrlive.store.nodes import NodeTable
from ocrlive.tasks.cluster import Cluster, new_node
from ocrlive.tasks.manager import TaskManager
from ocrlive.tasks.runner import Runner

LEASE = 1.0  # seconds: short, so that a silent node is dead within the test


@pytest.fixture
async def manager(store: Store) -> TaskManager:
    m = TaskManager(store, RecordingPublisher(), progress_interval=0.01)
    await m.start()
    return m


@pytest.fixture
async def nodes(database: Path | str) -> AsyncIterator[Callable[[str], Cluster]]:
    """Clusters for nodes on the same database (SQLite, then PostgreSQL), each with a
    writer of its own, as separate processes have."""
    opened: list[Database] = []

    def make(name: str) -> Cluster:
        opened.append(Database.open(database))
        table = NodeTable(opened[-1].writer)
        return Cluster(table, new_node(name, name), lease_s=LEASE, single=False)

    yield make
    for db in opened:
        await db.close()


async def test_one_leader_at_a_time_and_the_lease_passes_on(
    nodes: Callable[[str], Cluster],
) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start()
    await b.start()
    assert [await a.lead(), await b.lead()] == [True, False]
    assert await a.lead() and not await b.lead()  # renewed while a lives
    await asyncio.sleep(LEASE * 1.5)  # a stops renewing (killed)
    assert await b.lead() and not await a.lead()
    described = await b.describe()
    assert [(n["name"], n["leader"], n["self"]) for n in described] == [
        ("a", False, False),
        ("b", True, True),
    ]


async def test_a_dead_nodes_tasks_are_taken_once(
    manager: TaskManager, nodes: Callable[[str], Cluster]
) -> None:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    for node in (a, b, c):
        await node.start()
    tasks = [(await manager.create(new_task()))[0] for _ in range(4)]
    for task in tasks:
        await a.table.claim(task.id, a.node_id)
    await manager.mark_started(tasks[0].id)
    await a.table.beat(a.node, time.time())
    assert await b.sweep() == []  # a is alive: nothing to take
    await asyncio.sleep(LEASE * 1.5)
    for node in (b, c):  # their heartbeats (beat() would also sweep, as leader)
        await node.table.beat(node.node, time.time())
    # Both sweep at once (as two leaders never would): each task goes to one of them.
    took_b, took_c = await asyncio.gather(b.sweep(), c.sweep())
    taken = [t.task_id for t in took_b + took_c]
    assert sorted(taken) == sorted(t.id for t in tasks)
    assert {t.previous_owner for t in took_b + took_c} == {a.node_id}
    statuses = {t.task_id: t.status for t in took_b + took_c}
    assert statuses[tasks[0].id] == TaskStatus.PROCESSING
    assert [n["name"] for n in await b.describe()] == ["b", "c"]  # a's row is gone
    owners = await b.owned() | await c.owned()
    assert owners == {t.id for t in tasks}


async def test_unclaimed_tasks_wait_a_lease_released_ones_do_not(
    manager: TaskManager, nodes: Callable[[str], Cluster]
) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start()
    await b.start()
    fresh = (await manager.create(new_task()))[0]  # nobody's (as before migration 0005)
    given_up = (await manager.create(new_task()))[0]
    await a.table.claim(given_up.id, a.node_id)
    await a.release(given_up.id)  # the scheduler was lost mid-document
    assert [t.task_id for t in await b.sweep()] == [given_up.id]
    await asyncio.sleep(LEASE * 1.5)
    await a.table.beat(a.node, time.time())  # a lives; the fresh task is nobody's, and old
    assert [t.task_id for t in await b.sweep()] == [fresh.id]


async def test_after_a_database_outage_no_node_is_taken_for_dead_at_once(
    manager: TaskManager, nodes: Callable[[str], Cluster]
) -> None:
    a, b = nodes("a"), nodes("b")
    await a.start()
    await b.start()
    task = (await manager.create(new_task()))[0]
    await a.table.claim(task.id, a.node_id)
    await asyncio.sleep(LEASE * 1.5)  # neither could write (the database was away)
    await b.beat()  # b is back first and leads: a is silent, but so was b
    assert b.is_leader and await b.owned() == set()
    await a.table.beat(a.node, time.time())  # a writes again within the lease
    await asyncio.sleep(LEASE * 0.6)
    await b.beat()
    assert await b.owned() == set() and await a.owned() == {task.id}
    for _ in range(int(2.6 * LEASE / b.interval)):  # now a is really gone; b beats on
        await b.beat()
        await asyncio.sleep(b.interval)
    assert await b.owned() == {task.id}


async def test_a_node_taken_for_dead_drops_the_tasks_it_lost(
    manager: TaskManager, nodes: Callable[[str], Cluster], tmp_path: Path
) -> None:
    a, b = nodes("a"), nodes("b")
    runner = Runner(manager, SchedulerGoesAway(), tmp_path / "pages", queue_limit=10,
                    concurrency=1, cluster=a)  # type: ignore[arg-type]  # fmt: skip
    a.on_lost = runner.drop_lost
    await a.start()
    await b.start()
    kept, lost = [(await manager.create(new_task()))[0] for _ in range(2)]
    for task in (kept, lost):
        await a.table.claim(task.id, a.node_id)
        runner.queue.put_nowait(task.id)
    await asyncio.sleep(LEASE * 1.5)  # a stalls past its lease
    await b.table.beat(b.node, time.time())
    assert {t.task_id for t in await b.sweep()} == {kept.id, lost.id}
    await a.table.claim(kept.id, a.node_id)  # (as if a took it back since: it stays a's)
    await a.beat()  # a finds its row gone
    assert runner.queue.ids() == [kept.id]


class DiesAfterCommit(RecordingPublisher):
    """Publishes right after each commit, in the loop turn of the commit: on the event
    `kind` it cancels `victim` (an upload or a retry), as a node killed at that moment
    stops: nothing after the commit runs."""

    def __init__(self, kind: EventType) -> None:
        super().__init__()
        self.kind = kind
        self.victim: asyncio.Task[object] | None = None

    def publish(self, event: Event) -> None:
        super().publish(event)
        if event.type == self.kind and self.victim is not None:
            self.victim.cancel()


async def killed_after_commit(
    manager: TaskManager, kind: EventType, work: Coroutine[Any, Any, object]
) -> str:
    """Runs `work` until its change of kind `kind` commits, then stops it there; the
    task that event was about."""
    publisher = DiesAfterCommit(kind)
    manager.journal.publisher = publisher
    publisher.victim = asyncio.create_task(work)
    with pytest.raises(asyncio.CancelledError):
        await publisher.victim
    return next(e.task.id for e in publisher.seen if e.type == kind)


async def test_a_node_killed_right_after_an_upload_or_a_retry_owns_the_task(
    manager: TaskManager, nodes: Callable[[str], Cluster], tmp_path: Path
) -> None:
    """The owner is written in the transaction that queues the task: a node killed the
    moment it commits an upload (or a retry of another node's task) leaves no task that
    nobody owns (the leader took it only after a lease), nor one that a live node owns
    but never queued (nobody took it at all)."""
    a, b = nodes("a"), nodes("b")
    await a.start()
    await b.start()
    failed = (await manager.create(new_task()))[0]  # b's, failed
    await b.table.claim(failed.id, b.node_id)
    await manager.fail(failed.id, TaskErrorCode.ENGINE_ERROR, "boom")
    runner = Runner(manager, SchedulerGoesAway(), tmp_path / "pages", queue_limit=10,
                    concurrency=1, cluster=a)  # type: ignore[arg-type]  # fmt: skip
    uploaded = await killed_after_commit(manager, EventType.CREATED, runner.submit(new_task()))
    retried = await killed_after_commit(manager, EventType.REQUEUED, runner.retry(failed.id))
    assert retried == failed.id
    assert await a.owned() == {uploaded, retried}
    assert await b.owned() == set()


class SchedulerGoesAway:
    """An executor whose first run loses its Dask scheduler mid-document."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.versions: dict[str, str] = {}
        self.on_reconnect: Callable[[], None] | None = None
        self.size, self.busy, self.queue_depth = 1, 0, 0

    async def run(self, job: OcrJob, on_progress: Callable[[Progress], None]) -> OcrResult:
        self.runs.append(job.task_id)
        if len(self.runs) == 1:
            raise SchedulerLost("scheduler-connection-lost")
        page = OcrPage(number=1, width=10, height=10, lines=[])
        return OcrResult(pages=[page], engine={})

    def cancel(self, task_id: str) -> bool:
        return False

    def status(self) -> list[dict[str, object]]:
        return []


async def test_a_task_lost_with_the_scheduler_is_resubmitted_by_the_leader(
    manager: TaskManager, store: Store, database: Path | str, tmp_path: Path
) -> None:
    db = Database.open(database)
    cluster = Cluster(NodeTable(db.writer), new_node("solo", "solo"), lease_s=LEASE, single=True)
    executor = SchedulerGoesAway()
    runner = Runner(manager, executor, tmp_path / "pages", queue_limit=10, concurrency=1,
                    cluster=cluster)  # type: ignore[arg-type]  # fmt: skip
    await runner.start()
    try:
        task, _ = await runner.submit(new_task())
        async with asyncio.timeout(10):
            while (await manager.get(task.id)).status != TaskStatus.COMPLETED:
                await asyncio.sleep(0.05)
    finally:
        await runner.close()
        await cluster.stop()
        await db.close()
    assert executor.runs == [task.id, task.id]
    events = await store.log.read_since(0, manager.epoch, task_id=task.id)
    assert events is not None
    kinds = [(str(e.type), e.task.message) for e in events]
    assert [k for k, _ in kinds] == [
        "task.created", "task.started", "task.requeued", "task.started", "task.completed"
    ]  # fmt: skip
    assert kinds[2][1] == "Queued again: the Dask scheduler restarted"
    assert events[-1].task.attempts == 1  # the lost run was not held against it


async def test_a_restarted_sqlite_server_leads_at_once(settings: Settings) -> None:
    """A killed server's lease is still running when it starts again on the same file:
    the one process serving SQLite takes it at once instead of waiting it out (the tasks
    it was reading would otherwise sit a whole lease before being resumed)."""
    migrate(settings.db_path)
    db = Database.open(settings.db_path)
    try:
        table = NodeTable(db.writer)
        killed = Cluster(table, new_node("old", "old"), lease_s=60.0, single=True)
        await killed.start()
        assert await killed.lead()
        restarted = Cluster(table, new_node("new", "new"), lease_s=60.0, single=True)
        await restarted.start()
        assert await restarted.lead()
    finally:
        await db.close()
