"""Retention: compact the event log of finished tasks and purge old tasks entirely.

Only finished tasks are touched. Every deleted seq raises the log's purge floor, so a
client asking to resume from below it gets a fresh snapshot instead of a gap.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.events import FINISHED_STATUSES, PROGRESS
from ocrlive.store import repo
from ocrlive.store.db import Database
from ocrlive.store.models import events, results, tasks
from ocrlive.ws.recovery import PURGE_FLOOR_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    compacted_events: int
    purged_tasks: int


def _cutoff(age: timedelta) -> str:
    return (datetime.now(UTC) - age).isoformat()


async def _raise_floor(conn: AsyncConnection, seq: int | None) -> None:
    if seq:
        floor = int(await repo.get_meta(conn, PURGE_FLOOR_KEY) or 0)
        await repo.set_meta(conn, PURGE_FLOOR_KEY, str(max(floor, seq)))


async def compact(conn: AsyncConnection, older_than: str) -> int:
    """Drop the progress events of tasks finished before `older_than`: their first,
    started and terminal events stay, which is all a replay needs to end right."""
    finished = select(tasks.c.id).where(
        tasks.c.status.in_(FINISHED_STATUSES), tasks.c.finished_at < older_than
    )
    doomed = (events.c.type == PROGRESS) & events.c.task_id.in_(finished)
    top = (await conn.execute(select(func.max(events.c.seq)).where(doomed))).scalar()
    deleted = (await conn.execute(delete(events).where(doomed))).rowcount
    await _raise_floor(conn, top)
    return int(deleted or 0)


async def purge(conn: AsyncConnection, older_than: str) -> list[tuple[str, str]]:
    """Delete tasks finished before `older_than`; returns (task id, file path) pairs."""
    query = select(tasks.c.id, tasks.c.file_path).where(
        tasks.c.status.in_(FINISHED_STATUSES), tasks.c.finished_at < older_than
    )
    doomed = [(r.id, r.file_path) for r in await conn.execute(query)]
    ids = [task_id for task_id, _ in doomed]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        top = (
            await conn.execute(select(func.max(events.c.seq)).where(events.c.task_id.in_(chunk)))
        ).scalar()
        await conn.execute(delete(events).where(events.c.task_id.in_(chunk)))
        await conn.execute(delete(results).where(results.c.task_id.in_(chunk)))
        await conn.execute(delete(tasks).where(tasks.c.id.in_(chunk)))
        await _raise_floor(conn, top)
    return doomed


async def _unreferenced(conn: AsyncConnection, paths: set[str]) -> set[str]:
    query = select(tasks.c.file_path).where(tasks.c.file_path.in_(paths))
    still_used = {row.file_path for row in await conn.execute(query)}
    return paths - still_used


def _delete_files(pages_dir: Path, task_ids: list[str], files: set[str]) -> None:
    for task_id in task_ids:
        shutil.rmtree(pages_dir / task_id, ignore_errors=True)
    for path in files:
        Path(path).unlink(missing_ok=True)


async def run_retention(
    db: Database, pages_dir: Path, *, retention: timedelta, compact_after: timedelta
) -> PurgeReport:
    async with db.write() as conn:
        compacted = await compact(conn, _cutoff(compact_after))
        doomed = await purge(conn, _cutoff(retention))
        files = await _unreferenced(conn, {path for _, path in doomed})
    await asyncio.to_thread(_delete_files, pages_dir, [t for t, _ in doomed], files)
    if compacted or doomed:
        log.info("retention: %d events compacted, %d tasks purged", compacted, len(doomed))
    return PurgeReport(compacted, len(doomed))


async def retention_loop(
    db: Database, pages_dir: Path, *, retention: timedelta, interval: float = 600.0
) -> None:
    compact_after = min(retention, timedelta(minutes=10))
    while True:
        try:
            await run_retention(db, pages_dir, retention=retention, compact_after=compact_after)
        except Exception:
            log.exception("retention run failed; trying again later")
        await asyncio.sleep(interval)
