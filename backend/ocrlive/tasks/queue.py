"""First in, first out, with urgent tasks ahead of normal ones."""

from __future__ import annotations

import asyncio
from collections import deque


class TaskQueue:
    def __init__(self) -> None:
        self._lanes: dict[str, deque[str]] = {"urgent": deque(), "normal": deque()}
        self._ready = asyncio.Condition()

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __contains__(self, task_id: str) -> bool:
        return any(task_id in lane for lane in self._lanes.values())

    async def put(self, task_id: str, priority: str = "normal") -> None:
        async with self._ready:
            self._lanes["urgent" if priority == "urgent" else "normal"].append(task_id)
            self._ready.notify()

    async def get(self) -> str:
        async with self._ready:
            await self._ready.wait_for(lambda: len(self) > 0)
            lane = self._lanes["urgent"] or self._lanes["normal"]
            return lane.popleft()

    def remove(self, task_id: str) -> bool:
        for lane in self._lanes.values():
            if task_id in lane:
                lane.remove(task_id)
                return True
        return False
