"""Task and result reads on SQLite (the writes go through the event log)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from ocrlive.events import ACTIVE_STATUSES, FINISHED_STATUSES, Task
from ocrlive.ocr.types import TaskResult
from ocrlive.store.base import TaskFilter
from ocrlive.store.sqlite import rows
from ocrlive.store.sqlite.reader import Reads

_ACTIVE = f"WHERE status IN ({', '.join(repr(str(s)) for s in sorted(ACTIVE_STATUSES))})"
_FINISHED = f"WHERE status IN ({', '.join(repr(str(s)) for s in sorted(FINISHED_STATUSES))})"
_WHERE = {TaskFilter.ACTIVE: _ACTIVE, TaskFilter.FINISHED: _FINISHED, TaskFilter.ALL: ""}


class SqliteTaskStore:
    def __init__(self, reader: Reads) -> None:
        self._reader = reader

    async def get(self, task_id: str) -> Task | None:
        row = await self._reader.first(rows.TASK_BY_ID, (task_id,))
        return rows.task_from_row(row) if row else None

    async def file_path(self, task_id: str) -> str | None:
        row = await self._reader.first(rows.TASK_FILE, (task_id,))
        return str(row[0]) if row else None

    async def identity(self, task_id: str) -> tuple[str, str, str] | None:
        row = await self._reader.first(rows.TASK_IDENTITY, (task_id,))
        return (str(row[0]), str(row[1]), str(row[2])) if row else None

    async def find_by_idempotency_key(self, key: str) -> Task | None:
        row = await self._reader.first(rows.TASK_BY_KEY, (key,))
        return rows.task_from_row(row) if row else None

    async def list(self, which: TaskFilter, limit: int) -> Sequence[Task]:
        found = await self._reader.all(rows.list_tasks(_WHERE[which], limit))
        return [rows.task_from_row(row) for row in found]

    async def unfinished(self) -> Sequence[Task]:
        found = await self._reader.all(f"{rows.SELECT_TASK} {_ACTIVE} ORDER BY created_at")
        return [rows.task_from_row(row) for row in found]

    async def snapshot(self, finished_limit: int) -> Sequence[Task]:
        active = await self.list(TaskFilter.ACTIVE, 1_000_000)
        return [*active, *await self.list(TaskFilter.FINISHED, finished_limit)]

    async def result(self, task_id: str) -> TaskResult | None:
        row = await self._reader.first(rows.RESULT, (task_id,))
        return cast(TaskResult, json.loads(row[0])) if row and row[0] else None

    async def count_by_status(self) -> dict[str, int]:
        found = await self._reader.all("SELECT status, count(*) FROM tasks GROUP BY status")
        return {str(status): int(count) for status, count in found}

    async def close(self) -> None:
        await self._reader.close()
