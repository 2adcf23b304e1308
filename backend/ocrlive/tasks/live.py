"""LiveTasks: the tasks as last published, in memory, for WebSocket snapshots.

A browser that (re)subscribes gets a snapshot: every active task and the newest
finished ones. After a restart of a busy server every browser asks at once; serving
them from here instead of the database is what keeps a reconnect storm cheap. The
journal applies each event here right after its commit, in seq order, in the same
loop turn as it moves the log's head, so a snapshot and the head always agree.
"""

from __future__ import annotations

from collections.abc import Iterable

from ocrlive.events import Event, Task
from ocrlive.store.base import TaskFilter, TaskStore


class LiveTasks:
    def __init__(self, finished_limit: int) -> None:
        self.finished_limit = finished_limit
        self._active: dict[str, Task] = {}
        self._finished: dict[str, Task] = {}  # at most finished_limit, newest created
        self._snapshot: str | None = None  # the JSON text, made once per change

    async def load(self, tasks: TaskStore) -> None:
        """At start: what the store holds (before any event is applied)."""
        self._active = {t.id: t for t in await tasks.list(TaskFilter.ACTIVE, 1_000_000)}
        finished = await tasks.list(TaskFilter.FINISHED, self.finished_limit)
        self._finished = {t.id: t for t in finished}
        self._snapshot = None

    def apply(self, event: Event) -> None:
        task = event.task
        self._snapshot = None
        if task.active:
            self._finished.pop(task.id, None)
            self._active[task.id] = task
            return
        self._active.pop(task.id, None)
        self._finished[task.id] = task
        if len(self._finished) > self.finished_limit:
            oldest = min(self._finished.values(), key=lambda t: t.created_at)
            del self._finished[oldest.id]

    def forget(self, task_ids: Iterable[str]) -> None:
        """Purged by retention."""
        for task_id in task_ids:
            if self._finished.pop(task_id, None) is not None:
                self._snapshot = None

    def get(self, task_id: str) -> Task | None:
        """None: not active nor among the newest finished; ask the store."""
        return self._active.get(task_id) or self._finished.get(task_id)

    def snapshot_json(self) -> str:
        """The `tasks` snapshot: active tasks, then finished ones, each newest first."""
        if self._snapshot is None:
            ordered = [
                *sorted(self._active.values(), key=_created, reverse=True),
                *sorted(self._finished.values(), key=_created, reverse=True),
            ]
            self._snapshot = f"[{','.join(task.dumps() for task in ordered)}]"
        return self._snapshot


def _created(task: Task) -> str:
    return task.created_at
