"""The nodes table: which `ocrlive serve` processes are alive, which one leads, and
which node owns each unfinished task (tasks.owner). Migration 0005_nodes.

Every call is one transaction on the backend's writer (any object with
`run(fn(connection))`: SQLite's single writer thread, or PostgreSQL's, whose every
transaction first takes the log's advisory lock). Transactions of all nodes are thus
serialized, so "read who holds it, then take it" is atomic without a lock of its own:
two nodes can never both become leader, nor both adopt one task.

Time is each node's own clock (seconds since the epoch): leases are seconds long and
nodes are expected to keep NTP time, as any lease-based system does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

LEADER = "leader"
ACTIVE = "('queued', 'processing')"
RELEASED = ""  # owner of a task given up on purpose (scheduler lost): taken at once


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...


class Writer(Protocol):
    async def run(self, fn: Callable[[Any], T]) -> T: ...


@dataclass(frozen=True)
class NodeRow:
    id: str
    name: str
    address: str
    started_at: str
    seen_at: float


@dataclass(frozen=True)
class Adopted:
    """An unfinished task taken over from a dead node (or from nobody)."""

    task_id: str
    status: str
    previous_owner: str | None


class NodeTable:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def register(self, node: NodeRow) -> None:
        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM nodes WHERE id = ?", (node.id,))
            conn.execute(
                "INSERT INTO nodes (id, name, address, started_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                (node.id, node.name, node.address, node.started_at, node.seen_at),
            )

        await self._writer.run(write)

    async def beat(self, node: NodeRow, now: float) -> bool:
        """Renew this node's heartbeat; False when its row was gone (it had been taken
        for dead and its tasks adopted): the row is written again."""

        def write(conn: Connection) -> bool:
            found = conn.execute("UPDATE nodes SET seen_at = ? WHERE id = ?", (now, node.id))
            if found.rowcount:
                return True
            conn.execute(
                "INSERT INTO nodes (id, name, address, started_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                (node.id, node.name, node.address, node.started_at, now),
            )
            return False

        return await self._writer.run(write)

    async def leave(self, node_id: str) -> None:
        """A clean stop: the row and the lease go, so this node's unfinished tasks are
        adopted at once instead of after the lease."""

        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM nodes WHERE id = ?", (node_id,))
            conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (LEADER, node_id))

        await self._writer.run(write)

    async def forget_others(self, node_id: str) -> None:
        """On SQLite only one process serves the file: every other row is a dead one,
        and so is the leader lease a killed server still held (kept, it made a restart
        wait a whole lease before resuming the tasks it was reading)."""

        def write(conn: Connection) -> None:
            conn.execute("DELETE FROM nodes WHERE id <> ?", (node_id,))
            conn.execute("DELETE FROM leases WHERE holder <> ?", (node_id,))

        await self._writer.run(write)

    async def try_lead(self, node_id: str, now: float, lease_s: float) -> bool:
        """Take or renew the leader lease; True while this node holds it."""

        def write(conn: Connection) -> bool:
            row = conn.execute(
                "SELECT holder, until FROM leases WHERE name = ?", (LEADER,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)",
                    (LEADER, node_id, now + lease_s),
                )
                return True
            holder, until = str(row[0]), float(row[1])
            if holder != node_id and until >= now:
                return False
            conn.execute(
                "UPDATE leases SET holder = ?, until = ? WHERE name = ?",
                (node_id, now + lease_s, LEADER),
            )
            return True

        return await self._writer.run(write)

    async def claim(self, task_id: str, node_id: str) -> None:
        """Make a node the task's owner outside a change of the task (tests); a node's
        own uploads and retries write it with the change (tasks/journal.py)."""

        def write(conn: Connection) -> None:
            conn.execute("UPDATE tasks SET owner = ? WHERE id = ?", (node_id, task_id))

        await self._writer.run(write)

    async def release(self, task_id: str, node_id: str) -> None:
        """Give the task up for the leader to re-submit (it stays as it is meanwhile)."""

        def write(conn: Connection) -> None:
            conn.execute(
                "UPDATE tasks SET owner = ? WHERE id = ? AND owner = ?",
                (RELEASED, task_id, node_id),
            )

        await self._writer.run(write)

    async def adopt(
        self, node_id: str, now: float, lease_s: float, unclaimed_before: str, *,
        reap: bool = True,
    ) -> list[Adopted]:  # fmt: skip
        """Drop the rows of nodes silent for longer than the lease (if `reap`) and take
        every unfinished task that no live node owns: released ones, those of dead
        nodes, and ownerless ones untouched since `unclaimed_before` (an ISO time)."""

        def write(conn: Connection) -> list[Adopted]:
            if reap:
                dead = now - lease_s
                conn.execute("DELETE FROM nodes WHERE seen_at < ? AND id <> ?", (dead, node_id))
            found = conn.execute(
                f"SELECT id, status, owner FROM tasks WHERE status IN {ACTIVE} AND ("
                "owner = ? OR (owner IS NULL AND updated_at < ?) OR (owner IS NOT NULL AND "
                "owner <> ? AND owner NOT IN (SELECT id FROM nodes))) ORDER BY created_at",
                (RELEASED, unclaimed_before, RELEASED),
            ).fetchall()
            for task_id, _, _ in found:
                conn.execute("UPDATE tasks SET owner = ? WHERE id = ?", (node_id, task_id))
            return [Adopted(str(t), str(s), o) for t, s, o in found]

        return await self._writer.run(write)

    async def nodes(self) -> list[NodeRow]:
        def read(conn: Connection) -> list[NodeRow]:
            rows = conn.execute(
                "SELECT id, name, address, started_at, seen_at FROM nodes ORDER BY started_at"
            ).fetchall()
            return [NodeRow(str(i), str(n), str(a), str(s), float(t)) for i, n, a, s, t in rows]

        return await self._writer.run(read)

    async def leader(self) -> tuple[str, float] | None:
        def read(conn: Connection) -> tuple[str, float] | None:
            row = conn.execute("SELECT holder, until FROM leases WHERE name = ?", (LEADER,))
            found = row.fetchone()
            return (str(found[0]), float(found[1])) if found else None

        return await self._writer.run(read)

    async def owned(self, node_id: str) -> list[str]:
        """The unfinished tasks this node owns, oldest first."""

        def read(conn: Connection) -> list[str]:
            rows = conn.execute(
                f"SELECT id FROM tasks WHERE status IN {ACTIVE} AND owner = ? ORDER BY created_at",
                (node_id,),
            ).fetchall()
            return [str(r[0]) for r in rows]

        return await self._writer.run(read)
