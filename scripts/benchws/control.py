"""Bench-only routes under /bench/ that drive a server's event source (in the server's
process; never part of the product)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from bench_common import waited_for_cpu_s
from benchws.drivers import Driver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AddRoute = Callable[[web.Application, str, str, Handler], object]


@dataclass
class RunState:
    started: float = 0.0  # time.time() of the first event
    finished: float = 0.0
    sent: int = 0
    max_lag_ms: float = 0.0  # how late the paced schedule ran at worst
    cpu_s: float = 0.0  # the server's CPU time over the run: CPU per delivery
    error: str = ""
    # The server's full (generation 2) garbage collections during the run: a pause of
    # the whole loop, which a p99 over a few seconds shows or not by chance.
    gc_full: int = 0
    gc_full_max_ms: float = 0.0
    # How long the loop's thread was runnable but not running while the run lasted:
    # another task on its core (bench_common.waited_for_cpu_s).
    cpu_wait_ms: float = 0.0


class GcPauses:
    """Times the full collections while a run lasts (gc.callbacks)."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self.began = time.perf_counter()
            return
        self.state.gc_full += 1
        pause = (time.perf_counter() - self.began) * 1000
        self.state.gc_full_max_ms = round(max(self.state.gc_full_max_ms, pause), 1)


class Control:
    """POST /bench/setup, /bench/start, /bench/stop and GET /bench/status."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.runs: dict[str, RunState] = {}
        self.jobs: dict[str, asyncio.Task[None]] = {}

    def install(self, app: web.Application, add: AddRoute | None = None) -> None:
        """`add` declares a route where the server refuses undeclared ones (ocrlive)."""
        add = add or (lambda a, method, path, handler: a.router.add_route(method, path, handler))
        add(app, "POST", "/bench/setup", self.setup)
        add(app, "POST", "/bench/start", self.start)
        add(app, "POST", "/bench/stop", self.stop)
        add(app, "GET", "/bench/status", self.status)

    async def setup(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"ids": await self.driver.setup(int(body["count"]))})

    async def start(self, request: web.Request) -> web.Response:
        spec = await request.json()
        name = spec["name"]
        self._cancel(name)
        state = self.runs[name] = RunState()
        self.jobs[name] = asyncio.create_task(self._run(spec, state))
        return web.json_response({"ok": True})

    async def stop(self, request: web.Request) -> web.Response:
        body = await request.json()
        for name in body.get("names") or list(self.jobs):
            self._cancel(name)
        return web.json_response({"ok": True})

    async def status(self, request: web.Request) -> web.Response:
        runs = {name: asdict(state) for name, state in self.runs.items()}
        return web.json_response({"runs": runs, "driver": self.driver.stats()})

    def _cancel(self, name: str) -> None:
        job = self.jobs.pop(name, None)
        if job is not None:
            job.cancel()

    async def _run(self, spec: dict[str, Any], state: RunState) -> None:
        # A full collection owed by what came before (1,000 connections' objects, ~30-
        # 100 ms of CPU each here) runs here rather than inside whichever run comes
        # first (one fell inside the first steady run after the connects): every server
        # and variant starts from the same state.
        gc.collect()
        cpu, pauses, waited = time.process_time(), GcPauses(state), waited_for_cpu_s()
        gc.callbacks.append(pauses)
        try:
            if spec["mode"] == "paced":
                await self._paced(spec, state)
            else:
                await self._burst(spec, state)
        except Exception as exc:  # reported in /bench/status rather than lost in a log
            state.error = f"{type(exc).__name__}: {exc}"
        finally:
            gc.callbacks.remove(pauses)
            state.finished = time.time()
            state.cpu_s = time.process_time() - cpu
            state.cpu_wait_ms = round((waited_for_cpu_s() - waited) * 1000, 1)

    async def _paced(self, spec: dict[str, Any], state: RunState) -> None:
        """`rate` updates/s per task; the tasks' updates are spread evenly over each
        period, as independent OCR workers would report them."""
        tasks, letter = spec["tasks"], spec["letter"]
        period, total = 1 / spec["rate"], int(spec["duration"] * spec["rate"]) * len(tasks)
        t0, inflight = time.monotonic(), set()
        for n in range(total):
            tick, slot = divmod(n, len(tasks))
            delay = t0 + (tick + slot / len(tasks)) * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            state.max_lag_ms = max(state.max_lag_ms, -delay * 1000)
            if time.monotonic() - t0 > spec["duration"] + 5:
                break  # the server fell far behind: stop rather than run on
            job = asyncio.create_task(self._publish(spec, state, tasks[slot], letter, n))
            inflight.add(job)
            job.add_done_callback(inflight.discard)
        await _settle(inflight, 5.0)

    async def _burst(self, spec: dict[str, Any], state: RunState) -> None:
        t0 = time.monotonic()
        for n in range(spec["count"]):
            if time.monotonic() - t0 > spec["max_s"]:
                break
            await self._publish(spec, state, spec["tasks"][0], spec["letter"], n)
            # One loop turn per event, as a real source yields (ocrlive's SQLite commit
            # does): without it a synchronous hub publish would queue the whole burst
            # before the sockets' writers run.
            await asyncio.sleep(0)

    async def _publish(
        self, spec: dict[str, Any], state: RunState, task_id: str, letter: str, n: int
    ) -> None:
        now = time.time()
        state.started = state.started or now
        state.sent += 1
        await self.driver.publish(task_id, f"bench {letter} {n} {now:.6f}", spec["how"])


async def _settle(jobs: set[asyncio.Task[None]], timeout: float) -> None:
    """Wait for the publishes still in flight, cancelling what outlives `timeout`."""
    if not jobs:
        return
    _, pending = await asyncio.wait(jobs, timeout=timeout)
    for job in pending:
        job.cancel()
