"""First in, first out, with urgent tasks ahead of normal ones."""

from __future__ import annotations

import asyncio
from collections import deque

from ocrlive.events import Priority

_ORDER = (Priority.URGENT, Priority.NORMAL)


class TaskQueue:
    """Putting never yields to the event loop, so a caller can check the queue's
    length and add to it as one step (the runner's exact queue limit relies on it)."""

    def __init__(self) -> None:
        self._lanes: dict[Priority, deque[str]] = {p: deque() for p in _ORDER}
        self._getters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __contains__(self, task_id: str) -> bool:
        return any(task_id in lane for lane in self._lanes.values())

    def put_nowait(self, task_id: str, priority: Priority = Priority.NORMAL) -> None:
        self._lanes[priority].append(task_id)
        self._wake_one()

    async def put(self, task_id: str, priority: Priority = Priority.NORMAL) -> None:
        self.put_nowait(task_id, priority)

    async def get(self) -> str:
        while not len(self):
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # it was woken for an item it will not take
                raise
        lane = next(self._lanes[p] for p in _ORDER if self._lanes[p])
        return lane.popleft()

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def ids(self) -> list[str]:
        return [task_id for p in _ORDER for task_id in self._lanes[p]]

    def remove(self, task_id: str) -> bool:
        for lane in self._lanes.values():
            if task_id in lane:
                lane.remove(task_id)
                return True
        return False
