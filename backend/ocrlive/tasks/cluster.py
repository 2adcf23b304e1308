"""Several `ocrlive serve` nodes on one database: heartbeats, one leader, task owners.

Each node writes a heartbeat row every `lease/4` seconds and owns the tasks it queued
(tasks.owner, written in the transaction that creates or queues the task again, so a
node that dies right after an upload leaves no task that nobody owns). One node holds
the leader lease; only the leader sweeps the task table: it takes every unfinished
task that no live node owns (a node silent for longer than the lease is dead; a task
given up when the Dask scheduler was lost is nobody's) and hands them to its runner,
which queues them again. So after a scheduler restart, or a node killed with SIGKILL,
each task in flight is re-submitted once, by one node.

On SQLite a single process serves the file: it is the leader, and at start every
other node row is a dead one (a crash leaves its row behind), so its tasks are taken
at once. On PostgreSQL a node killed with SIGKILL leaves its row; the leader takes its
tasks once the lease has passed (10 s by default: `OCRLIVE_NODE_LEASE_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ocrlive.store.health import describe_error, is_storage_error
from ocrlive.store.nodes import Adopted, NodeRow, NodeTable

log = logging.getLogger(__name__)

Adopt = Callable[[list[Adopted]], Awaitable[None]]
Lost = Callable[[], Awaitable[None]]


def new_node(name: str, address: str) -> NodeRow:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    return NodeRow(uuid.uuid4().hex[:12], name, address, started, time.time())


class Cluster:
    def __init__(self, table: NodeTable, node: NodeRow, *, lease_s: float, single: bool) -> None:
        self.table, self.node, self.lease_s, self.single = table, node, lease_s, single
        self.is_leader = False
        self.on_adopt: Adopt | None = None  # the runner queues what the leader adopts
        self.on_lost: Lost | None = None  # this node was taken for dead
        self._wake = asyncio.Event()
        self._last_beat = time.time()
        self._quiet_until = 0.0  # no node is taken for dead before this (see beat)

    @property
    def node_id(self) -> str:
        return self.node.id

    @property
    def interval(self) -> float:
        return self.lease_s / 4

    async def start(self) -> None:
        await self.table.register(self.node)
        if self.single:
            await self.table.forget_others(self.node.id)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # a database that is gone: the lease runs out
            await self.table.leave(self.node.id)

    async def lead(self) -> bool:
        """Take the leader lease if it is free or run out (at start)."""
        self.is_leader = await self.table.try_lead(self.node.id, time.time(), self.lease_s)
        return self.is_leader

    def wake(self) -> None:
        """Sweep now (the Dask scheduler is back), not at the next beat."""
        self._wake.set()

    async def run(self) -> None:
        """The heartbeat loop (supervised by the runner). A storage fault (a full disk,
        the database away) is the storage's condition, shown by the runner's storage
        health: the loop logs it once and beats on."""
        failing = False
        while True:
            try:
                await self.beat()
                failing = False
            except Exception as exc:
                if not is_storage_error(exc):
                    raise
                if not failing:
                    log.warning("node %s: heartbeat not written (%s); retrying",
                                self.node.name, describe_error(exc))  # fmt: skip
                failing = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()
            self._wake.clear()

    async def beat(self) -> None:
        now = time.time()
        found = await self.table.beat(self.node, now)
        if now - self._last_beat > 2 * self.interval:
            # This node could not write for a while (the database was away): nor could
            # the others, so none is taken for dead before each had a lease to write
            # its heartbeat again.
            self._quiet_until = now + self.lease_s
        self._last_beat = now
        if not found and self.on_lost is not None:
            log.warning("node %s had been taken for dead; giving up the tasks it lost",
                        self.node.name)  # fmt: skip
            await self.on_lost()
        leading = await self.table.try_lead(self.node.id, now, self.lease_s)
        if leading != self.is_leader:
            log.info(
                "node %s %s the leader", self.node.name, "is now" if leading else "is no longer"
            )
        self.is_leader = leading
        if leading:
            await self.sweep()

    async def sweep(self, *, at_start: bool = False) -> list[Adopted]:
        """Take every unfinished task no live node owns and hand it to the runner.
        A task without an owner (from before migration 0005, or queued by a runner
        without a cluster) is taken once it has not changed for a lease; on SQLite at
        start, at once (nothing else runs yet)."""
        now = time.time()
        if at_start and self.single:
            before = "9999"
        else:
            before = (datetime.now(UTC) - timedelta(seconds=self.lease_s)).isoformat()
        reap = now >= self._quiet_until
        adopted = await self.table.adopt(self.node.id, now, self.lease_s, before, reap=reap)
        if adopted:
            log.info("node %s took %d unfinished tasks", self.node.name, len(adopted))
            if self.on_adopt is not None:
                await self.on_adopt(adopted)
        return adopted

    async def release(self, task_id: str) -> None:
        await self.table.release(task_id, self.node.id)
        self.wake()

    async def owned(self) -> set[str]:
        return set(await self.table.owned(self.node.id))

    async def describe(self) -> list[dict[str, object]]:
        """Every live node for /api/status."""
        rows, leader = await self.table.nodes(), await self.table.leader()
        now = time.time()
        holder = leader[0] if leader and leader[1] >= now else None
        return [_describe(row, now, self.lease_s, row.id == self.node.id, row.id == holder)
                for row in rows]  # fmt: skip


def _describe(row: NodeRow, now: float, lease_s: float, me: bool, leads: bool) -> dict[str, object]:
    silent = round(max(0.0, now - row.seen_at), 1)
    return {
        "id": row.id, "name": row.name, "address": row.address, "started_at": row.started_at,
        "seen_s_ago": silent, "state": "up" if silent <= lease_s else "silent",
        "leader": leads, "self": me,
    }  # fmt: skip
