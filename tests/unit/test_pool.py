"""The OCR pool with real worker processes and the fake engine (ocrlive.ocr.fake)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from ocrlive.ocr.fake import LOAD_S_ENV, STEP_S_ENV
from ocrlive.ocr.pool import OcrPool, PoolClosed, TaskTimedOut, WorkerCrashed, WorkerStartFailed
from ocrlive.ocr.types import EngineConfig, OcrFailure, OcrJob, OcrResult, Progress, TaskCancelled

CONFIG = EngineConfig(
    engine="onnxruntime",
    det_model_dir="/nonexistent/det",
    rec_model_dir="/nonexistent/rec",
    det_model_name="det",
    rec_model_name="rec",
    threads=1,
)
FAKE = "ocrlive.ocr.fake:FakeEngine"

MakePool = Callable[..., Awaitable[OcrPool]]
MakeJob = Callable[..., OcrJob]


def noop(progress: Progress) -> None:
    pass


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    # Polls on purpose: the conditions are process states no event reports.
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def pid_of(pool: OcrPool, slot: int = 0) -> int:
    pid = pool.status()[slot]["pid"]
    assert isinstance(pid, int)
    return pid


def gone(pid: int) -> bool:
    """Exited and reaped: a zombie still shows in the process table."""
    return not psutil.pid_exists(pid)


def ready_with_new_pid(pool: OcrPool, old_pid: int) -> Callable[[], bool]:
    def check() -> bool:
        row = pool.status()[0]
        return row["pid"] not in (None, old_pid) and row["state"] == "idle"

    return check


@pytest.fixture
async def make_pool() -> AsyncIterator[MakePool]:
    pools: list[OcrPool] = []

    async def make(ready: bool = True, **options: Any) -> OcrPool:
        settings: dict[str, Any] = {"workers": 1, "engine_config": CONFIG, "engine_factory": FAKE}
        pool = OcrPool(**(settings | options))
        pools.append(pool)
        await pool.start()
        if ready:
            await pool.wait_ready(timeout=20)
        return pool

    yield make
    for pool in pools:
        await pool.close(grace=1.0)


@pytest.fixture
def make_job(tmp_path: Path) -> MakeJob:
    numbers = itertools.count(1)

    def make(content: bytes = b"hello pool") -> OcrJob:
        n = next(numbers)
        path = tmp_path / f"doc-{n}.txt"
        path.write_bytes(content)
        return OcrJob(f"task-{n}", str(path), str(tmp_path / f"pages-{n}"))

    return make


async def started(pool: OcrPool, job: OcrJob) -> asyncio.Task[OcrResult]:
    """Run `job` in the background and return once the worker reported on it."""
    first = asyncio.Event()
    task = asyncio.create_task(pool.run(job, lambda progress: first.set()))
    await asyncio.wait_for(first.wait(), 10)
    return task


async def test_result_and_ordered_progress(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    job, seen = make_job(b"hello pool\nsecond line"), list[Progress]()
    result = await pool.run(job, seen.append)
    assert result.text == "hello pool"
    assert result.engine["pid"] == pid_of(pool)
    assert result.engine["threads"] == str(CONFIG.threads)
    assert [p.stage for p in seen] == ["loading", *["recognizing"] * 3, "done"]
    assert [p.progress for p in seen] == sorted(p.progress for p in seen)
    assert {p.task_id for p in seen} == {job.task_id}
    assert pool.versions == {"engine": "fake", "fake": "1.0"}
    row = pool.status()[0]
    assert (row["state"], row["task_id"], row["tasks_done"]) == ("idle", None, 1)
    assert row["restarts"] == 0
    assert isinstance(row["rss_mb"], float) and row["rss_mb"] > 1
    assert isinstance(row["started_at"], str) and datetime.fromisoformat(row["started_at"])


async def test_two_workers_run_two_jobs_concurrently(
    make_pool: MakePool, make_job: MakeJob
) -> None:
    pool = await make_pool(workers=2)
    first, second = make_job(b"SLOW one"), make_job(b"SLOW two")
    tasks = [await started(pool, first), await started(pool, second)]
    assert pool.busy == 2
    rows = pool.status()
    assert {row["task_id"] for row in rows} == {first.task_id, second.task_id}
    assert {row["state"] for row in rows} == {"busy"}
    assert rows[0]["pid"] != rows[1]["pid"]
    for job, task in zip((first, second), tasks, strict=True):
        pool.cancel(job.task_id)
        with pytest.raises(TaskCancelled):
            await task


async def test_waiting_jobs_are_served_in_fifo_order(
    make_pool: MakePool, make_job: MakeJob, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STEP_S_ENV, "0.05")  # each job outlasts the queueing below
    pool = await make_pool()
    jobs = [make_job(f"job {i}".encode()) for i in range(4)]
    finished: list[str] = []

    async def run(job: OcrJob) -> None:
        finished.append((await pool.run(job, noop)).text)

    tasks = [asyncio.create_task(run(job)) for job in jobs]
    await asyncio.sleep(0)  # every task has reached pool.run() in creation order
    assert (pool.busy, pool.queue_depth) == (1, 3)
    await asyncio.gather(*tasks)
    assert finished == ["job 0", "job 1", "job 2", "job 3"]


async def test_cancel_running_job(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    pid, job = pid_of(pool), make_job(b"SLOW")
    task = await started(pool, job)
    began = time.monotonic()
    assert pool.cancel(job.task_id) is True
    with pytest.raises(TaskCancelled):
        await task
    assert time.monotonic() - began < 2  # a SLOW job would run 10 s
    assert (await pool.run(make_job(b"after"), noop)).engine["pid"] == pid
    assert pool.status()[0]["restarts"] == 0


async def test_cancel_waiting_job(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    running, waiting = make_job(b"SLOW"), make_job(b"never read")
    running_task = await started(pool, running)
    waiting_task = asyncio.create_task(pool.run(waiting, noop))
    await until(lambda: pool.queue_depth == 1)
    assert pool.cancel(waiting.task_id) is True
    with pytest.raises(TaskCancelled):
        await asyncio.wait_for(waiting_task, 0.5)
    assert pool.queue_depth == 0
    assert pool.cancel(waiting.task_id) is False
    assert pool.cancel("unknown") is False
    assert pool.status()[0]["task_id"] == running.task_id
    pool.cancel(running.task_id)
    with pytest.raises(TaskCancelled):
        await running_task


async def test_caller_cancellation_stops_the_job(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    pid, job = pid_of(pool), make_job(b"SLOW")
    task = await started(pool, job)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: pool.busy == 0, timeout=2)
    assert (await pool.run(make_job(b"next"), noop)).engine["pid"] == pid


async def test_timeout_kills_and_replaces_worker(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool(task_timeout=0.5)
    old_pid = pid_of(pool)
    with pytest.raises(TaskTimedOut):
        await asyncio.wait_for(pool.run(make_job(b"HANG"), noop), 5)
    await until(lambda: gone(old_pid))
    result = await pool.run(make_job(b"next"), noop)
    assert result.engine["pid"] not in (old_pid, None)
    assert pool.status()[0]["restarts"] == 1


async def test_crash_raises_and_replacement_serves(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    old_pid = pid_of(pool)
    with pytest.raises(WorkerCrashed, match="SIGKILL"):
        await asyncio.wait_for(pool.run(make_job(b"CRASH"), noop), 5)
    result = await pool.run(make_job(b"next"), noop)
    assert result.engine["pid"] != old_pid
    assert gone(old_pid)
    assert pool.status()[0]["restarts"] == 1


async def test_idle_worker_killed_externally_is_replaced(
    make_pool: MakePool, make_job: MakeJob
) -> None:
    pool = await make_pool()
    old_pid = pid_of(pool)
    os.kill(old_pid, signal.SIGKILL)
    await until(ready_with_new_pid(pool, old_pid))
    assert gone(old_pid)
    assert (await pool.run(make_job(), noop)).engine["pid"] == pid_of(pool)
    assert pool.status()[0]["restarts"] == 1


async def test_recycled_after_max_tasks(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool(max_tasks_per_worker=2)
    pids = [(await pool.run(make_job(), noop)).engine["pid"] for _ in range(3)]
    assert pids[0] == pids[1] != pids[2]
    await until(lambda: gone(pids[0]))
    assert [row["pid"] for row in pool.status()] == [pids[2]]


async def test_recycled_when_rss_exceeds_cap(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool(max_rss_mb=1)  # every worker is over: recycled after each job
    first = (await pool.run(make_job(), noop)).engine["pid"]
    second = (await pool.run(make_job(), noop)).engine["pid"]
    assert first != second


async def test_engine_errors_map_to_ocr_failure(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool()
    pid = pid_of(pool)
    with pytest.raises(OcrFailure) as boom:
        await pool.run(make_job(b"BOOM"), noop)
    assert boom.value.code == "engine_error"
    assert "RuntimeError: the fake engine exploded" in boom.value.message
    with pytest.raises(OcrFailure) as fail:
        await pool.run(make_job(b"FAIL"), noop)
    assert fail.value.code == "unreadable_document"
    assert pid_of(pool) == pid and pool.status()[0]["restarts"] == 0


async def test_start_failure_surfaces_and_backs_off(make_pool: MakePool) -> None:
    pool = await make_pool(ready=False, engine_factory="ocrlive.ocr.fake:BrokenEngine")
    with pytest.raises(WorkerStartFailed, match="no OCR models in '/nonexistent/det'"):
        await pool.wait_ready(timeout=10)
    await asyncio.sleep(1.5)  # backoff: respawns after 1 s, then 2 s, 4 s...
    restarts = pool.status()[0]["restarts"]
    assert isinstance(restarts, int) and 1 <= restarts <= 2
    assert "no OCR models" in str(pool.status()[0]["error"])


async def test_start_timeout(make_pool: MakePool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOAD_S_ENV, "30")
    pool = await make_pool(ready=False, start_timeout=0.5)
    with pytest.raises(WorkerStartFailed, match=r"not ready after 0\.5s"):
        await pool.wait_ready(timeout=10)


async def test_close_leaves_no_processes_or_threads(make_pool: MakePool, make_job: MakeJob) -> None:
    pool = await make_pool(workers=2)
    pids = [pid_of(pool, 0), pid_of(pool, 1)]
    hung, slow = await started(pool, make_job(b"HANG")), await started(pool, make_job(b"SLOW"))
    waiting = asyncio.create_task(pool.run(make_job(), noop))
    await until(lambda: pool.queue_depth == 1)
    await pool.close(grace=0.5)
    for task in (hung, slow, waiting):
        with pytest.raises(PoolClosed):
            await task
    assert all(gone(pid) for pid in pids)
    assert not {child.pid for child in psutil.Process().children()} & set(pids)
    assert not [t for t in threading.enumerate() if t.name.startswith("ocrlive-ocr")]
    await pool.close()  # idempotent
    with pytest.raises(PoolClosed):
        await pool.run(make_job(), noop)


PARENT_SCRIPT = f"""
import asyncio
from ocrlive.ocr.pool import OcrPool
from ocrlive.ocr.types import EngineConfig

async def main() -> None:
    pool = OcrPool(workers=1, engine_config=EngineConfig(**{CONFIG.__dict__!r}),
                   engine_factory={FAKE!r})
    await pool.start()
    await pool.wait_ready(timeout=20)
    print(pool.status()[0]["pid"], flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_workers_die_with_their_parent() -> None:
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT_SCRIPT, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    try:
        worker_pid = int(await asyncio.wait_for(parent.stdout.readline(), 20))
    finally:
        parent.kill()
        await parent.wait()
    await until(lambda: not_running(worker_pid), timeout=5)


def not_running(pid: int) -> bool:
    # Orphans are reaped by whatever adopts them, which in a container may never happen.
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
