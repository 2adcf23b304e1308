"""RecoveryService: what a (re)subscribing client missed, or a fresh snapshot.

Positions are (epoch, seq). Events after `since` are replayed from the event log when
the log can say exactly what followed (same epoch, nothing after `since` purged: see
EventLog.read_since); otherwise the client gets `recovered: false` and must take the
snapshot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ocrlive.events import Event, Task
from ocrlive.store.base import EventLog, TaskStore
from ocrlive.tasks.live import LiveTasks

MAX_REPLAY = 5000  # past this a snapshot is cheaper than a replay, for both sides
# Log reads at once, below the async engine's pool of 5: in a reconnect storm whose
# positions are older than the log's in-memory tail (after a restart, all of them),
# 1,000 reads at once waited in the pool, and past its 30 s timeout a subscribe failed
# with internal_error (bench_ws storm at load 14: 101 to 277 of 1,000 refused). They
# wait here instead, and no read opens an overflow connection and thread of its own.
READS_AT_ONCE = 4

_Key = tuple[int | None, str | None, str | None]  # since, epoch, task id
_Read = tuple[list[Event] | None, int]  # what followed since, and up to which seq


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
        self._reads = asyncio.Semaphore(READS_AT_ONCE)
        self._flights: dict[_Key, asyncio.Future[_Read]] = {}

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
        missed = await self._missed(since, epoch, task_id)
        if missed is None or len(missed) > MAX_REPLAY:
            return Recovery(snapshot, False, head, [], head, task)
        assert since is not None
        last = missed[-1].seq if missed else since
        return Recovery(snapshot, True, max(last, head), missed, last, task)

    async def _missed(
        self, since: int | None, epoch: str | None, task_id: str | None
    ) -> list[Event] | None:
        """What followed `since`. Clients resuming from the same position share one read
        (after a restart every browser on the `tasks` topic resumes from the same seq);
        one that joins a read begun before it started holding live events tops it up from
        the log's in-memory tail, so nothing between that read and its hold is lost."""
        key = (since, epoch, task_id)
        flight = self._flights.get(key)
        if flight is None:
            flight = self._flights[key] = asyncio.ensure_future(self._read(key))
            flight.add_done_callback(lambda done: self._land(key, done))
        missed, upto = await asyncio.shield(flight)  # a client that leaves cancels only itself
        after = max(upto, missed[-1].seq) if missed else upto
        if missed is None or after >= self.log.head():
            return missed
        newer = await self.log.read_since(after, epoch, task_id=task_id, limit=MAX_REPLAY + 1)
        return None if newer is None else missed + newer

    async def _read(self, key: _Key) -> _Read:
        since, epoch, task_id = key
        async with self._reads:
            upto = self.log.head()  # read_since reads up to the head as it starts: this one
            found = await self.log.read_since(since, epoch, task_id=task_id, limit=MAX_REPLAY + 1)
        return found, upto

    def _land(self, key: _Key, flight: asyncio.Future[_Read]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def _task(self, task_id: str) -> Task | None:
        """From memory (LiveTasks), except a task finished too long ago to be kept there."""
        return self.live.get(task_id) or await self.tasks.get(task_id)

    def _current(self, since: int | None, epoch: str | None, head: int, task: Task | None) -> bool:
        """The client holds everything: it is at the head, or (one task's topic) the
        task's newest event, its `version`, is not after `since`: no log read needed."""
        if since is None or epoch != self.log.epoch or not self.log.floor() <= since <= head:
            return False
        return since == head or (task is not None and task.version <= since)
