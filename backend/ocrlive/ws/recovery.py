"""ErrorRecoveryService: what a (re)subscribing client missed, or a fresh snapshot.

Positions are (epoch, seq). Events after `since` are replayed from the SQLite event
log when the log still holds all of them (nothing after `since` was purged) and the
epoch matches; otherwise the client gets `recovered: false` and must take the snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocrlive.events import Event
from ocrlive.store import repo
from ocrlive.store.db import Database

PURGE_FLOOR_KEY = "purge_floor"
MAX_REPLAY = 5000  # past this a snapshot is cheaper than a replay, for both sides


@dataclass(frozen=True)
class Recovery:
    snapshot: Any
    recovered: bool
    seq: int  # the position the client holds once it has applied this recovery
    events: list[Event]
    release_after: int  # live events held during the replay are sent above this seq


class RecoveryService:
    def __init__(self, db: Database, epoch: str, snapshot_finished: int) -> None:
        self.db = db
        self.epoch = epoch
        self.snapshot_finished = snapshot_finished

    async def recover(
        self, task_id: str | None, since: int | None, epoch: str | None
    ) -> Recovery | None:
        """None when `task_id` names no task."""
        async with self.db.read() as conn:
            head = await repo.head_seq(conn)
            if task_id is None:
                snapshot: Any = [t.to_json() for t in await self._all_tasks(conn)]
            else:
                task = await repo.get_task(conn, task_id)
                if task is None:
                    return None
                snapshot = task.to_json()
            if since == head and epoch == self.epoch:
                # Up to date (a reconnect storm after a restart is mostly this): any
                # newer event is published after the caller started holding them.
                return Recovery(snapshot, True, head, [], head)
            if not await self._can_replay(conn, since, epoch, head):
                return Recovery(snapshot, False, head, [], head)
            assert since is not None
            missed = await repo.events_since(conn, since, task_id, limit=MAX_REPLAY + 1)
        if len(missed) > MAX_REPLAY:
            return Recovery(snapshot, False, head, [], head)
        last = missed[-1].seq if missed else since
        return Recovery(snapshot, True, max(last, head), missed, last)

    async def _all_tasks(self, conn: Any) -> list[Any]:
        return await repo.snapshot_tasks(conn, self.snapshot_finished)

    async def _can_replay(self, conn: Any, since: int | None, epoch: str | None, head: int) -> bool:
        if since is None or epoch != self.epoch or since > head:
            return False
        floor = int(await repo.get_meta(conn, PURGE_FLOOR_KEY) or 0)
        return since >= floor
