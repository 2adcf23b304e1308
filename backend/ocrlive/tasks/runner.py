"""Runner: queued tasks go to the OCR pool, the worker's reports go to the task
registry (which stores and publishes them). The OCR code never sees either."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from ocrlive.errors import InvalidState, QueueFull, TaskNotFound
from ocrlive.events import Priority, Task, TaskErrorCode, TaskStatus
from ocrlive.ocr.executor import Executor
from ocrlive.ocr.pool_state import PoolClosed, TaskTimedOut, WorkerCrashed
from ocrlive.ocr.types import OcrFailure, OcrJob, OcrResultJson, TaskCancelled, TaskResult
from ocrlive.tasks.manager import NewTask, TaskManager
from ocrlive.tasks.queue import TaskQueue

log = logging.getLogger(__name__)

MAX_CRASH_ATTEMPTS = 2  # a document that kills its worker twice is failed, not retried forever


class Runner:
    def __init__(
        self, manager: TaskManager, pool: Executor, pages_dir: Path, *, queue_limit: int,
        concurrency: int,
    ) -> None:  # fmt: skip
        self.manager = manager
        self.pool = pool
        self.pages_dir = pages_dir
        self.queue = TaskQueue()
        self.queue_limit = queue_limit
        self.queue_peak = 0  # the deepest the queue has been, for /api/status
        self._admitting = 0  # uploads between the capacity check and their enqueue
        self.concurrency = concurrency
        self._loops: list[asyncio.Task[None]] = []
        self.running: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        await self.recover()
        self._loops = [
            asyncio.create_task(self._loop(), name=f"ocr-runner-{n}")
            for n in range(self.concurrency)
        ]

    async def close(self) -> None:
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop

    async def recover(self) -> None:
        """After a restart (or a crash of the server) tasks that were processing go back
        to the queue, and every queued task is queued again, oldest first."""
        unfinished = await self.manager.store.tasks.unfinished()
        for task in unfinished:
            if task.status == TaskStatus.PROCESSING:
                message = "Queued again after a server restart"
                task = await self.manager.requeue(task.id, message)
            await self.queue.put(task.id, task.priority)
        if unfinished:
            log.info("recovered %d unfinished tasks", len(unfinished))

    def check_capacity(self) -> None:
        if len(self.queue) + self._admitting >= self.queue_limit:
            raise QueueFull(f"The queue already holds {self.queue_limit} documents")

    async def submit(self, new: NewTask) -> tuple[Task, bool]:
        """Check, store and enqueue as one step: a place in the queue is taken before
        the first await and given back only once the task is in the queue (or was not
        created), so concurrent uploads can never overshoot the limit."""
        self.check_capacity()
        self._admitting += 1
        try:
            task, created = await self.manager.create(new)
            if created:
                self.queue.put_nowait(task.id, task.priority)
        finally:
            self._admitting -= 1
        self.queue_peak = max(self.queue_peak, len(self.queue))
        return task, created

    async def cancel(self, task_id: str) -> Task:
        task = await self.manager.cancel(task_id)
        self.queue.remove(task_id)
        self.pool.cancel(task_id)
        return task

    async def retry(self, task_id: str) -> Task:
        task = await self.manager.requeue(task_id, "Queued again on request", reset_attempts=True)
        await self.queue.put(task.id, task.priority)
        return task

    async def rerun(self, task_id: str) -> Task:
        """Read a completed document again (the current engine and settings)."""
        self.check_capacity()
        task = await self.manager.rerun(task_id)
        await self.queue.put(task.id, task.priority)
        return task

    async def _loop(self) -> None:
        while True:
            task_id = await self.queue.get()
            try:
                await self._run_one(task_id)
            except (InvalidState, TaskNotFound):
                continue  # cancelled or purged while it waited in the queue
            except PoolClosed:
                return
            except Exception:
                log.exception("task %s: unexpected error in the runner", task_id)
                with contextlib.suppress(InvalidState, TaskNotFound):
                    await self.manager.fail(
                        task_id, TaskErrorCode.ENGINE_ERROR, "Unexpected server error"
                    )

    async def _run_one(self, task_id: str) -> None:
        task = await self.manager.mark_started(task_id)
        job = await self._job(task)
        try:
            result = await self.pool.run(job, self.manager.report_progress)
        except TaskCancelled:
            return  # the cancel endpoint already recorded it
        except OcrFailure as exc:
            await self._finish_failed(task_id, exc.code, exc.message)
        except TaskTimedOut:
            message = "The document took too long to read; its worker was stopped"
            await self._finish_failed(task_id, TaskErrorCode.TIMEOUT, message)
        except WorkerCrashed:
            await self._after_crash(task)
        else:
            with contextlib.suppress(InvalidState):
                await self.manager.complete(task_id, self._result_json(task_id, result.to_json()))

    async def _job(self, task: Task) -> OcrJob:
        path = await self.manager.store.tasks.file_path(task.id)
        if path is None:
            raise TaskNotFound(task.id)
        return OcrJob(task_id=task.id, path=path, pages_dir=str(self.pages_dir / task.id))

    def _result_json(self, task_id: str, result: OcrResultJson) -> TaskResult:
        for page in result["pages"]:
            page["image_url"] = f"/api/tasks/{task_id}/pages/{page['number']}.png"
        return {"task_id": task_id, **result}

    async def _finish_failed(self, task_id: str, code: TaskErrorCode, message: str) -> None:
        with contextlib.suppress(InvalidState):
            await self.manager.fail(task_id, code, message)

    async def _after_crash(self, task: Task) -> None:
        if task.attempts >= MAX_CRASH_ATTEMPTS:
            message = "The OCR worker crashed on this document twice"
            await self._finish_failed(task.id, TaskErrorCode.WORKER_CRASHED, message)
            return
        with contextlib.suppress(InvalidState):
            task = await self.manager.requeue(task.id, "The OCR worker stopped; trying again")
            await self.queue.put(task.id, Priority.URGENT)
