"""Retention: compact the event log of finished tasks and purge old tasks entirely.

Only finished tasks are touched. The log raises its purge floor over every deleted
seq, so a client asking to resume from below it gets a fresh snapshot instead of a
gap; the deletes run on the log's one writer, a chunk per transaction (store/).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ocrlive.store.base import EventLog
from ocrlive.store.health import describe_error, is_storage_error
from ocrlive.tasks.live import LiveTasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    compacted_events: int
    purged_tasks: int


def _cutoff(age: timedelta) -> str:
    return (datetime.now(UTC) - age).isoformat()


def _delete_files(pages_dir: Path, task_ids: list[str], files: list[str]) -> None:
    for task_id in task_ids:
        shutil.rmtree(pages_dir / task_id, ignore_errors=True)
    for path in files:
        Path(path).unlink(missing_ok=True)


async def run_retention(
    events: EventLog, pages_dir: Path, *, retention: timedelta, compact_after: timedelta,
    live: LiveTasks | None = None,
) -> PurgeReport:  # fmt: skip
    """Progress events of tasks finished `compact_after` ago go (their created, started
    and terminal events stay: all a replay needs to end right); tasks finished
    `retention` ago go entirely, with their page images and unshared documents."""
    compacted = await events.compact(_cutoff(compact_after))
    purged = await events.purge(_cutoff(retention))
    if live is not None:
        live.forget(purged.task_ids)
    await asyncio.to_thread(_delete_files, pages_dir, purged.task_ids, purged.orphan_files)
    if compacted or purged.task_ids:
        log.info("retention: %d events compacted, %d tasks purged", compacted,
                 len(purged.task_ids))  # fmt: skip
    return PurgeReport(compacted, len(purged.task_ids))


async def retention_loop(
    events: EventLog, pages_dir: Path, *, retention: timedelta, live: LiveTasks,
    interval: float = 600.0,
) -> None:  # fmt: skip
    compact_after = min(retention, timedelta(minutes=10))
    while True:
        try:
            await run_retention(
                events, pages_dir, retention=retention, compact_after=compact_after, live=live
            )
        except Exception as exc:
            if not is_storage_error(exc):
                raise  # a bug: the supervisor logs it and starts the loop again
            log.error("retention run failed on storage (%s); trying again later",
                      describe_error(exc))  # fmt: skip
        await asyncio.sleep(interval)
