"""Writes that outlast a fault of the disk: each waits for storage to answer again.

A full disk, an I/O error or a lock held too long must not kill the loop that carries
a task's state (or its result, held in memory meanwhile): the write is tried again with
backoff until storage takes it, and /api/status says why it waits (StorageHealth).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ocrlive.store.health import StorageHealth, is_storage_error

T = TypeVar("T")
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0  # how long at most a freed disk waits to be noticed


async def persist(health: StorageHealth, write: Callable[[], Awaitable[T]], what: str) -> T:
    """`write()`, again and again while storage refuses it, with backoff; other errors
    propagate."""
    delay = RETRY_FIRST_S
    while True:
        try:
            done = await write()
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            health.failed(f"storing {what}", exc)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX_S, delay * 2)
        else:
            if delay > RETRY_FIRST_S:
                health.recovered()
            return done


async def wait_for_disk(health: StorageHealth, folder: Path) -> None:
    """Until a page's worth can be written and synced in `folder` again."""
    delay = RETRY_FIRST_S
    while True:
        try:
            await asyncio.to_thread(_probe_write, folder)
        except OSError as exc:
            health.failed("writing page images", exc)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX_S, delay * 2)
        else:
            return


def _probe_write(folder: Path) -> None:
    """Write, sync and remove 1 MiB where page images go: what a page needs."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / ".probe"
    try:
        with open(probe, "wb") as out:
            out.write(b"\0" * (1 << 20))
            out.flush()
            os.fsync(out.fileno())
    finally:
        probe.unlink(missing_ok=True)
