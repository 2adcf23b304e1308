"""RecoveryService: what a (re)subscribing client missed, or a fresh snapshot.

Positions are (epoch, seq). Events after `since` are replayed from the event log when
the log can say exactly what followed (same epoch, nothing after `since` purged: see
EventLog.read_since); otherwise the client gets `recovered: false` and must take the
snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocrlive.events import Event, Task
from ocrlive.store.base import EventLog, TaskStore
from ocrlive.tasks.live import LiveTasks

MAX_REPLAY = 5000  # past this a snapshot is cheaper than a replay, for both sides


@dataclass(frozen=True)
class Recovery:
    snapshot: str  # JSON text: a Task, or the list of them for the `tasks` topic
    recovered: bool
    seq: int  # the position the client holds once it has applied this recovery
    events: list[Event]
    release_after: int  # live events held during the replay are sent above this seq
    task: Task | None = None  # the subscribed task (None for `tasks`): whose data it is


class RecoveryService:
    def __init__(self, log: EventLog, tasks: TaskStore, live: LiveTasks) -> None:
        self.log = log
        self.tasks = tasks
        self.live = live

    @property
    def epoch(self) -> str:
        return self.log.epoch

    async def recover(
        self, task_id: str | None, since: int | None, epoch: str | None
    ) -> Recovery | None:
        """None when `task_id` names no task."""
        head = self.log.head()
        task = None if task_id is None else await self._task(task_id)
        if task_id is not None and task is None:
            return None
        snapshot = self.live.snapshot_json() if task is None else task.dumps()
        if self._current(since, epoch, head, task):
            # Nothing after `since` (a reconnect storm is mostly this): any newer event
            # is published after the caller started holding them.
            return Recovery(snapshot, True, head, [], head, task)
        missed = await self.log.read_since(since, epoch, task_id=task_id, limit=MAX_REPLAY + 1)
        if missed is None or len(missed) > MAX_REPLAY:
            return Recovery(snapshot, False, head, [], head, task)
        assert since is not None
        last = missed[-1].seq if missed else since
        return Recovery(snapshot, True, max(last, head), missed, last, task)

    async def _task(self, task_id: str) -> Task | None:
        """From memory (LiveTasks), except a task finished too long ago to be kept there."""
        return self.live.get(task_id) or await self.tasks.get(task_id)

    def _current(self, since: int | None, epoch: str | None, head: int, task: Task | None) -> bool:
        """The client holds everything: it is at the head, or (one task's topic) the
        task's newest event, its `version`, is not after `since`: no log read needed."""
        if since is None or epoch != self.log.epoch or not self.log.floor() <= since <= head:
            return False
        return since == head or (task is not None and task.version <= since)
