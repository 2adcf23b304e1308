"""The processes of a Dask cluster for ocrlive: `ocrlive scheduler` and `ocrlive worker`.

Each worker process is a Dask worker under a Nanny (restarted when it dies) with one
task thread and the `ocr` resource, so it reads one page at a time, and a plugin that
loads the OCR engine once when the process starts. Page tasks ask for the `ocr`
resource: a plain `dask worker` joined to the same scheduler never gets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any

import dask
from distributed import Nanny, Scheduler

from ocrlive.ocr.dask_worker import ENGINE_RESOURCE, GPU_RESOURCE, EnginePlugin
from ocrlive.ocr.types import EngineConfig
from ocrlive.ocr.worker import thread_env

log = logging.getLogger(__name__)

CUDA_PROVIDER = "CUDAExecutionProvider"
CLOSE_TIMEOUT_S = 10.0
# A page whose worker dies is run again elsewhere once; a second death fails the task
# (`worker_crashed`), as a document that kills two local workers does.
ALLOWED_FAILURES = 1
# Dask's housekeeping that ocrlive's pages do not need, and that takes CPU from the
# readers on a small machine: an idle 2-worker cluster took 4.0 CPU s a minute with
# these, 6.4 with Dask's defaults (scripts/bench_scale.py). Work stealing stays on:
# without it Dask put all 24 pages of a PDF on the worker holding the document. An
# administrator's DASK_* variable still wins.
QUIET = {
    "distributed.worker.profile.enabled": False,  # a stack sample every 10 ms per worker
    "distributed.admin.system-monitor.interval": "2s",  # 500ms: CPU/memory of each process
    "distributed.worker.memory.monitor-interval": "1s",  # 100ms: each nanny polls psutil
}
# How often the scheduler moves queued pages from a busy worker to an idle one. With
# Dask's 1 s, the worker that finished its share of a 24-page PDF first idled 1.8-1.9 s
# before it got the other's last queued page (task stream, 2 of 2 runs): 4% of the run.
# An idle cluster returns from the check at once, so it costs nothing there.
STEAL_INTERVAL: dict[str, object] = {"distributed.scheduler.work-stealing-interval": "100ms"}
REJOIN_FIRST_S, REJOIN_MAX_S = 1.0, 15.0  # a worker whose scheduler went away tries again


def gpu_device(wanted: bool) -> str:
    """ "gpu:0" when asked for and ONNX Runtime has its CUDA provider, else "cpu"."""
    if not wanted:
        return "cpu"
    import onnxruntime

    if CUDA_PROVIDER in onnxruntime.get_available_providers():
        return "gpu:0"
    log.warning("--gpu: ONNX Runtime has no %s here; reading on the CPU", CUDA_PROVIDER)
    return "cpu"


def quiet() -> dict[str, object]:
    """QUIET, less what the administrator set through Dask's environment variables."""
    return unset(QUIET)


def unset(settings: dict[str, object]) -> dict[str, object]:
    """`settings`, less what the administrator set through Dask's environment variables."""
    return {key: value for key, value in settings.items() if dask_variable(key) not in os.environ}


def dask_variable(key: str) -> str:
    return "DASK_" + key.upper().replace(".", "__").replace("-", "_")


def worker_resources(device: str) -> dict[str, float]:
    resources = {ENGINE_RESOURCE: 1.0}
    if device.startswith("gpu"):
        resources[GPU_RESOURCE] = 1.0
    return resources


async def run_workers(
    scheduler: str, config: EngineConfig, *, processes: int, factory: str, name: str = ""
) -> None:
    """Start `processes` worker processes and serve until SIGINT/SIGTERM. Dask's workers
    close when their scheduler goes away; these join it again once it is back (a
    restarted scheduler finds its workers without anyone restarting them)."""
    # Spawned worker processes inherit this environment before they import numpy.
    os.environ.update(thread_env(config.threads))
    base = name or socket.gethostname()
    resources = worker_resources(config.device)
    plugins = (EnginePlugin(config, factory),)
    dask.config.set(quiet())  # before the nannies: they hand their config to the workers
    stop = _stop_event()
    delay = REJOIN_FIRST_S
    while not stop.is_set():
        nannies = [
            Nanny(scheduler, nthreads=1, resources=resources, plugins=plugins,
                  name=f"{base}-ocr-{n}")
            for n in range(processes)
        ]  # fmt: skip
        if await _serve(nannies, scheduler, stop):
            delay = REJOIN_FIRST_S
        if not stop.is_set():
            log.warning("ocrlive worker: lost the scheduler %s; joining again in %gs",
                        scheduler, delay)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(REJOIN_MAX_S, delay * 2)


async def _serve(nannies: list[Nanny], scheduler: str, stop: asyncio.Event) -> bool:
    """Until `stop` or until the nannies close (their scheduler went away); False if
    they could not join at all."""
    try:
        await asyncio.gather(*nannies)
    except Exception as exc:  # the scheduler is not up (yet)
        log.warning("ocrlive worker: could not join %s: %s", scheduler, exc)
        await _close(nannies)
        return False
    print(f"ocrlive worker: {len(nannies)} process(es) joined {scheduler}", flush=True)
    finished = [asyncio.ensure_future(n.finished()) for n in nannies]
    waiters = [asyncio.ensure_future(stop.wait()), *finished]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await _close(nannies)
    return True


async def _close(nannies: list[Nanny]) -> None:
    await asyncio.gather(*(n.close(timeout=CLOSE_TIMEOUT_S) for n in nannies),
                         return_exceptions=True)  # fmt: skip


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    return stop


async def _until_stopped(*finished: asyncio.Future[Any]) -> None:
    stop = _stop_event()
    waiters = [asyncio.ensure_future(stop.wait()), *finished]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)


def scheduler_settings() -> dict[str, object]:
    """Dask's settings for `ocrlive scheduler`: allowed-failures always, the others
    unless the administrator set them through DASK_* variables."""
    return {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES, **quiet(),
            **unset(STEAL_INTERVAL)}  # fmt: skip


async def run_scheduler(host: str, port: int) -> None:
    """A Dask scheduler set up for ocrlive, until SIGINT/SIGTERM."""
    with dask.config.set(scheduler_settings()):
        async with Scheduler(host=host, port=port, dashboard=False) as scheduler:
            print(f"ocrlive scheduler at {scheduler.address}", flush=True)
            await _until_stopped(asyncio.ensure_future(scheduler.finished()))
