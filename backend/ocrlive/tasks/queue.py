"""First in, first out, with urgent tasks ahead of normal ones."""

from __future__ import annotations

import asyncio
from collections import deque

from ocrlive.events import Priority

_ORDER = (Priority.URGENT, Priority.NORMAL)


class TaskQueue:
    def __init__(self) -> None:
        self._lanes: dict[Priority, deque[str]] = {p: deque() for p in _ORDER}
        self._ready = asyncio.Condition()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __contains__(self, task_id: str) -> bool:
        return any(task_id in lane for lane in self._lanes.values())

    async def put(self, task_id: str, priority: Priority = Priority.NORMAL) -> None:
        async with self._ready:
            self._lanes[priority].append(task_id)
            self._ready.notify()

    async def get(self) -> str:
        async with self._ready:
            await self._ready.wait_for(lambda: len(self) > 0)
            lane = next(self._lanes[p] for p in _ORDER if self._lanes[p])
            return lane.popleft()

    def remove(self, task_id: str) -> bool:
        for lane in self._lanes.values():
            if task_id in lane:
                lane.remove(task_id)
                return True
        return False
