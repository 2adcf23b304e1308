"""A real Dask cluster for ocrlive as child processes: `ocrlive scheduler` and
`ocrlive worker` (each worker process under its Nanny, with the real engine)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from distributed import Client

from ocrlive.ocr.dask_worker import ENGINE_RESOURCE, PLUGIN_NAME
from tests.helpers.server import free_port

START_TIMEOUT = 240.0  # models loading in every worker on a busy 2-core machine


def executing_keys(dask_worker: Any) -> list[str]:
    """Run on each worker by Client.run: the keys of the tasks it is running now."""
    return [str(task.key) for task in dask_worker.state.executing]


def pages_read(dask_worker: Any) -> int:
    """Run on each worker by Client.run: the pages its engine has read to the end."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return int(getattr(plugin, "pages", 0))


def scheduler_keys(dask_scheduler: Any, fragment: str) -> list[str]:
    """Run on the scheduler: the keys it still holds that contain `fragment`."""
    return [str(key) for key in dask_scheduler.tasks if fragment in str(key)]


class DaskCluster:
    def __init__(self, folder: Path, workers: int = 2, threads: int = 1) -> None:
        self.folder, self.workers, self.threads = folder, workers, threads
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[Any]] = []

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115
        self._logs.append(log)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "ocrlive", *args]
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))

    def start(self) -> None:
        self.start_scheduler()
        self.add_workers(self.workers)

    def start_scheduler(self) -> None:
        """(Again, on the same port: `ocrlive worker` processes join it by themselves.)"""
        port = self.address.rsplit(":", 1)[1]
        self._spawn("scheduler", "scheduler", "--host", "127.0.0.1", "--port", port)
        self.procs.insert(0, self.procs.pop())  # procs[0] is always the scheduler

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler, as a crash of its machine would."""
        scheduler = self.procs.pop(0)
        scheduler.kill()
        scheduler.wait(10)

    def add_workers(self, count: int) -> None:
        """One more `ocrlive worker` command with `count` processes; waits until they join."""
        joined = self.ocr_workers() if len(self.procs) > 1 else 0
        self._spawn(
            f"workers-{len(self.procs)}", "worker", "--scheduler", self.address,
            "--nworkers", str(count), "--nthreads", str(self.threads),
            "--name", f"test{len(self.procs)}",
        )  # fmt: skip
        self.wait_for_workers(joined + count)

    def ocr_workers(self) -> int:
        with Client(self.address, timeout=60) as client:
            info = client.scheduler_info(n_workers=-1)["workers"].values()
            return sum(1 for w in info if ENGINE_RESOURCE in w["resources"])

    def wait_for_workers(self, count: int, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a cluster process exited: {self.log()}")
            try:
                if self.ocr_workers() >= count:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{count} OCR workers did not join in {timeout}s: {self.log()}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for log in self._logs:
            log.close()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.folder.glob("*.log"))


async def kill_worker_running(client: Client, fragment: str, timeout: float = 300) -> str:
    """SIGKILL the worker process running a task whose key contains `fragment`, as soon
    as one does; returns that worker's address."""
    async with asyncio.timeout(timeout):
        while True:
            # A worker that has just died or is starting again answers nothing.
            running = await client.run(executing_keys, on_error="ignore")
            for address, keys in running.items():
                if any(fragment in key for key in keys):
                    pids = await client.run(os.getpid, workers=[address], on_error="ignore")
                    if address in pids:
                        os.kill(pids[address], signal.SIGKILL)
                        return str(address)
            await asyncio.sleep(0.1)
