"""RecoveryService: what a (re)subscribing client missed, or a fresh snapshot.

Positions are (epoch, seq). Events after `since` are replayed from the event log when
the log can say exactly what followed (same epoch, nothing after `since` purged: see
EventLog.read_since); otherwise the client gets `recovered: false` and must take the
snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocrlive.events import Event
from ocrlive.store.base import EventLog, TaskStore

MAX_REPLAY = 5000  # past this a snapshot is cheaper than a replay, for both sides


@dataclass(frozen=True)
class Recovery:
    snapshot: Any
    recovered: bool
    seq: int  # the position the client holds once it has applied this recovery
    events: list[Event]
    release_after: int  # live events held during the replay are sent above this seq


class RecoveryService:
    def __init__(self, log: EventLog, tasks: TaskStore, snapshot_finished: int) -> None:
        self.log = log
        self.tasks = tasks
        self.snapshot_finished = snapshot_finished

    @property
    def epoch(self) -> str:
        return self.log.epoch

    async def recover(
        self, task_id: str | None, since: int | None, epoch: str | None
    ) -> Recovery | None:
        """None when `task_id` names no task."""
        head = self.log.head()
        snapshot = await self._snapshot(task_id)
        if snapshot is None:
            return None
        if since == head and epoch == self.log.epoch:
            # Up to date (a reconnect storm after a restart is mostly this): any
            # newer event is published after the caller started holding them.
            return Recovery(snapshot, True, head, [], head)
        missed = await self.log.read_since(since, epoch, task_id=task_id, limit=MAX_REPLAY + 1)
        if missed is None or len(missed) > MAX_REPLAY:
            return Recovery(snapshot, False, head, [], head)
        assert since is not None
        last = missed[-1].seq if missed else since
        return Recovery(snapshot, True, max(last, head), missed, last)

    async def _snapshot(self, task_id: str | None) -> Any:
        if task_id is None:
            return [t.to_json() for t in await self.tasks.snapshot(self.snapshot_finished)]
        task = await self.tasks.get(task_id)
        return task.to_json() if task is not None else None
