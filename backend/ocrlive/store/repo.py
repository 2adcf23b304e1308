"""Queries over tasks, events and results. Functions take an open connection so that
the caller decides the transaction (see Database.write / Database.read)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.events import ACTIVE_STATUSES, FINISHED_STATUSES, Event, Task
from ocrlive.store.models import events, meta, results, tasks
from ocrlive.store.writer import TASK_COLUMNS as WRITER_COLUMNS
from ocrlive.store.writer import task_from_values

# The same columns, in the same order, as the writer reads: one row shape, one decoder.
TASK_COLUMNS = [tasks.c[name] for name in WRITER_COLUMNS]


def task_from_row(row: Row[Any]) -> Task:
    return task_from_values(tuple(row))


async def get_meta(conn: AsyncConnection, key: str) -> str | None:
    return (await conn.execute(select(meta.c.value).where(meta.c.key == key))).scalar()


async def set_meta(conn: AsyncConnection, key: str, value: str) -> None:
    found = await get_meta(conn, key)
    if found is None:
        await conn.execute(insert(meta).values(key=key, value=value))
    else:
        await conn.execute(update(meta).where(meta.c.key == key).values(value=value))


async def ensure_epoch(conn: AsyncConnection) -> str:
    epoch = await get_meta(conn, "epoch")
    if epoch is None:
        epoch = uuid.uuid4().hex[:16]
        await set_meta(conn, "epoch", epoch)
    return epoch


async def next_seq(conn: AsyncConnection) -> int:
    """The seq the next event will get. Only valid under the single writer's lock:
    AUTOINCREMENT's counter in sqlite_sequence never goes back, even after purges."""
    query = text("SELECT seq FROM sqlite_sequence WHERE name = 'events'")
    return int((await conn.execute(query)).scalar() or 0) + 1


async def get_task(conn: AsyncConnection, task_id: str) -> Task | None:
    row = (await conn.execute(select(*TASK_COLUMNS).where(tasks.c.id == task_id))).first()
    return task_from_row(row) if row else None


async def get_task_file(conn: AsyncConnection, task_id: str) -> str | None:
    query = select(tasks.c.file_path).where(tasks.c.id == task_id)
    return (await conn.execute(query)).scalar()


async def find_by_idempotency_key(conn: AsyncConnection, key: str) -> Task | None:
    query = select(*TASK_COLUMNS).where(tasks.c.idempotency_key == key)
    row = (await conn.execute(query)).first()
    return task_from_row(row) if row else None


async def list_tasks(conn: AsyncConnection, which: str, limit: int) -> list[Task]:
    query = select(*TASK_COLUMNS).order_by(tasks.c.created_at.desc()).limit(limit)
    if which == "active":
        query = query.where(tasks.c.status.in_(ACTIVE_STATUSES))
    elif which == "finished":
        query = query.where(tasks.c.status.in_(FINISHED_STATUSES))
    return [task_from_row(row) for row in await conn.execute(query)]


async def snapshot_tasks(conn: AsyncConnection, finished_limit: int) -> list[Task]:
    """Every active task plus the newest finished ones: the `tasks` topic snapshot."""
    active = await list_tasks(conn, "active", 1_000_000)
    finished = await list_tasks(conn, "finished", finished_limit)
    return active + finished


async def head_seq(conn: AsyncConnection) -> int:
    """The newest seq ever given, even when its event has since been purged."""
    return await next_seq(conn) - 1


async def events_since(
    conn: AsyncConnection, since: int, task_id: str | None = None, limit: int = 100_000
) -> list[Event]:
    query = select(events.c.seq, events.c.type, events.c.task).where(events.c.seq > since)
    if task_id is not None:
        query = query.where(events.c.task_id == task_id)
    query = query.order_by(events.c.seq).limit(limit)
    rows = await conn.execute(query)
    return [Event(seq=r.seq, type=r.type, task=Task(**json.loads(r.task))) for r in rows]


async def get_result(conn: AsyncConnection, task_id: str) -> dict[str, Any] | None:
    query = select(results.c.result).where(results.c.task_id == task_id)
    raw = (await conn.execute(query)).scalar()
    return json.loads(raw) if raw else None


async def unfinished_tasks(conn: AsyncConnection) -> Sequence[Task]:
    query = select(*TASK_COLUMNS).where(tasks.c.status.in_(ACTIVE_STATUSES))
    return [task_from_row(r) for r in await conn.execute(query.order_by(tasks.c.created_at))]
