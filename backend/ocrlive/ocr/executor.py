"""What the task runner needs from whatever reads documents: the local process pool
(ocrlive.ocr.pool.OcrPool, the default) or a Dask cluster
(ocrlive.ocr.dask_executor.DaskExecutor). Both raise the same errors: OcrFailure
(a public code), TaskCancelled, TaskTimedOut, WorkerCrashed, PoolClosed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol

from ocrlive.ocr.types import OcrJob, OcrResult, Progress


class Executor(Protocol):
    versions: dict[str, str]  # of the engine, once a worker has reported them
    # Workers replaced, by cause (/metrics): crashed, hung, timeout, max_tasks, max_rss...
    restart_causes: Counter[str]
    # Called when a restarted Dask scheduler answers again (the leader then re-submits
    # the work in flight); the local pool never calls it.
    on_reconnect: Callable[[], None] | None

    @property
    def size(self) -> int:
        """Pages (local pool: documents) that can be read at once."""
        ...

    @property
    def busy(self) -> int: ...

    @property
    def queue_depth(self) -> int: ...

    async def start(self) -> None: ...

    async def wait_ready(self, timeout: float | None = None) -> None: ...

    async def close(self, grace: float = 5.0) -> None: ...

    async def run(self, job: OcrJob, on_progress: Callable[[Progress], None]) -> OcrResult:
        """Read the document; on_progress is called in the event loop thread."""
        ...

    def cancel(self, task_id: str) -> bool: ...

    def status(self) -> list[dict[str, object]]:
        """One row per worker, for /api/status."""
        ...
