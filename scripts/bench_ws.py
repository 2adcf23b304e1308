"""WebSocket fan-out benchmark: ocrlive's protocol against a plain aiohttp broadcast
and python-socketio rooms, in one run, on 127.0.0.1 only.

Each server runs in its own process (pinned to CPU 0), the clients in another (CPU 1),
and this process only orchestrates: it drives the servers through bench-only HTTP
routes that this script adds (never part of the product), reads the servers' RSS with
psutil, and collects delivery counts and latencies from the client process.

Scenarios per server and client count: idle memory per connection, steady (50 tasks x
10 updates/s), burst (one task, every client, events as fast as the server goes) and a
frozen client (one socket that subscribes and stops reading). Plus a permessage-deflate
check: zlib cost and savings on ocrlive-sized frames, and ocrlive with deflate clients.

ocrlive runs three ways on the same sockets: the real path (TaskManager: SQLite, then
the hub), "ocrlive/hub" (events straight into the hub, to isolate the WebSocket layer)
and "ocrlive/hub+fastpath" (an EXPERIMENT patched in by this script only, sizing a
proposed fix to ocrlive.ws.connection; see _fast_path). Wall-clock rates suffer when
another workload shares the CPUs; "us/dlv" (CPU time per delivery) much less so.

    .venv/bin/python scripts/bench_ws.py --clients 100,1000 --json /tmp/bench_ws.json
    .venv/bin/python scripts/bench_ws.py --quick          # about 3 minutes

Every loop is bounded in count and time; the whole run stops by itself (--budget-s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing as mp
import os
import secrets
import signal
import struct
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any, Protocol

import psutil
from aiohttp import WSMsgType, web

from bench_common import (
    RawWebSocket,
    Recorder,
    open_websocket,
    percentile,
    pin_to,
    print_table,
    raise_nofile,
)

SERVERS = ("ocrlive", "plain", "socketio")
FAKE_ENGINE = "ocrlive.ocr.fake:FakeEngine"
BACKLOG = 2048  # the same listen backlog for all three, so connect storms compare fairly
SERVER_CPU, CLIENT_CPU = 0, 1
FROZEN_RCVBUF = 4096  # a slow client on a small TCP window
HEARTBEAT_S = 90.0
MAX_COMMANDS = 100_000  # the client process's command loop is bounded too
KIB, MIB = 1024, 1024 * 1024

log = logging.getLogger("bench_ws")


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    clients: list[int]
    servers: list[str]
    tasks: int = 50
    rate: float = 10.0
    steady_s: float = 10.0
    burst: int = 1000
    burst_max_deliveries: int = 1_000_000  # fewer burst events at 5000 clients
    burst_max_s: float = 45.0
    fill: int = 12_000  # ~8 MB of frames: more than the kernel buffers of a frozen socket
    lifecycle: int = 600  # non-collapsible events: more than ocrlive's outbox limit (256)
    frozen_steady_s: float = 6.0
    deflate_clients: int = 300
    budget_s: float = 570.0
    pin: bool = True
    profile_dir: str | None = None

    def burst_events(self, clients: int) -> int:
        return max(50, min(self.burst, self.burst_max_deliveries // max(1, clients)))

    def estimate_s(self, clients: int) -> float:
        """A rough cost of one server at one client count, to skip what cannot fit."""
        deliveries = 2 * self.burst_events(clients) * clients
        return 25 + self.steady_s + self.frozen_steady_s + clients * 0.01 + deliveries / 40_000


# ------------------------------------------------------------------ event sources


def bench_task(task_id: str, seq: int, message: str) -> dict[str, Any]:
    """The same fields and sizes as ocrlive's Task, for the two reference servers."""
    now = datetime.now(UTC).isoformat()
    return {
        "id": task_id, "patient_id": "P-12345", "document_type": "referral_letter",
        "filename": "letter.pdf", "content_type": "application/pdf", "size": 183422,
        "priority": "normal", "status": "processing", "progress": 42.5, "stage": "recognizing",
        "message": message, "pages_done": 1, "pages_total": 5, "attempts": 1,
        "created_at": now, "updated_at": now, "error": None, "version": seq,
    }  # fmt: skip


class Driver(Protocol):
    async def setup(self, count: int) -> list[str]: ...

    async def publish(self, task_id: str, message: str, how: str) -> None:
        """how: "progress" (collapsible), "lifecycle" (never collapsed) or "hub"
        (ocrlive only: straight to the hub, without SQLite, to isolate the WebSocket
        layer; the others treat every kind alike)."""

    def stats(self) -> dict[str, Any]: ...


class OcrliveDriver:
    """Events through the real TaskManager: a SQLite transaction, then the hub."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.closes: Counter[int] = Counter()
        self.tasks: dict[str, Any] = {}  # task id -> Task, for hub-only events
        self.seq = 10**9  # hub-only events need increasing seqs, far from the log's
        _count_closes(self.closes)

    async def setup(self, count: int) -> list[str]:
        from ocrlive.keys import MANAGER
        from ocrlive.tasks.manager import NewTask

        manager, ids = self.app[MANAGER], []
        for n in range(count):
            new = NewTask(
                patient_id=f"P-{n:05d}", document_type="referral_letter",
                filename="letter.pdf", content_type="application/pdf", size=183422,
                sha256="0" * 64, file_path="/nonexistent/bench.pdf",
            )  # fmt: skip
            task, _ = await manager.create(new)
            # progress is only accepted while processing
            self.tasks[task.id] = await manager.mark_started(task.id)
            ids.append(task.id)
        return ids

    async def publish(self, task_id: str, message: str, how: str) -> None:
        from ocrlive.keys import MANAGER
        from ocrlive.ocr.types import Progress

        manager = self.app[MANAGER]
        if how == "hub":
            self._publish_to_hub(task_id, message)
            return
        if how == "lifecycle":  # task.requeued + task.started: never collapsed
            await manager.requeue(task_id, message)
            await manager.mark_started(task_id)
            return
        progress = Progress(
            task_id=task_id, stage="recognizing", progress=42.5, message=message, page=2,
            pages_total=5, lines_done=24, lines_total=40,
        )  # fmt: skip
        await manager.apply_progress(progress)

    def _publish_to_hub(self, task_id: str, message: str) -> None:
        """What TaskManager.transition publishes after its commit, without the commit."""
        from ocrlive.events import PROGRESS, Event, utcnow
        from ocrlive.keys import MANAGER

        self.seq += 1
        task = self.tasks[task_id].evolve(message=message, version=self.seq, updated_at=utcnow())
        self.app[MANAGER].hub.publish(Event(seq=self.seq, type=PROGRESS, task=task))

    def stats(self) -> dict[str, Any]:
        from ocrlive.keys import WS

        services = self.app[WS]
        # Bench-only peek at private state: the outbox of the most backed-up socket.
        conns = list(services.connections._connections.values())
        worst = max(conns, key=lambda c: len(c.outbox._items), default=None)
        return {
            "connections": len(conns),
            "closes": {str(code): n for code, n in self.closes.items()},
            "worst_outbox_entries": len(worst.outbox._items) if worst else 0,
            "worst_outbox_live": len(worst.outbox) if worst else 0,
        }


def _count_closes(counter: Counter[int]) -> None:
    """Count ocrlive's close codes in the bench server (close_soon ends in close)."""
    from ocrlive.ws.connection import Connection

    original = Connection.close

    async def close(self: Connection, code: int, reason: str) -> None:
        counter[code] += 1
        await original(self, code, reason)

    Connection.close = close  # type: ignore[method-assign]


def _fast_path(on: bool) -> None:
    """EXPERIMENT, bench-only, to size the fix proposed for ocrlive.ws.connection: when
    a connection has nothing queued and its transport has flushed everything, write the
    frame at once, encoded once per frame for all connections (server frames are not
    masked), instead of waking the connection's writer task for every event."""
    from ocrlive.ws.connection import Connection

    original = getattr(Connection, "_bench_original_send", Connection.send)
    Connection._bench_original_send = original  # type: ignore[attr-defined]
    last: dict[str, Any] = {"frame": None, "wire": b""}

    def send(self: Connection, frame: Any) -> None:
        writer = self.ws._writer  # aiohttp private: its transport and compression
        transport = getattr(writer, "transport", None)
        if (
            self._closing or self.outbox._items or writer is None or writer.compress
            or transport is None or transport.is_closing() or transport.get_write_buffer_size()
        ):  # fmt: skip
            original(self, frame)
            return
        if last["frame"] is not frame:
            last["frame"], last["wire"] = frame, _server_frame(frame.text.encode())
        transport.write(last["wire"])
        self.sent += 1

    Connection.send = send if on else original  # type: ignore[method-assign]


def _server_frame(payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


class PlainBroadcast:
    """The naive reference: serialize once, `await ws.send_str` to each subscriber."""

    def __init__(self) -> None:
        self.topics: dict[str, dict[int, web.WebSocketResponse]] = {}
        self.seq = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        mine: list[str] = []
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_message(ws, json.loads(msg.data), mine)
        finally:
            for topic in mine:
                self.topics.get(topic, {}).pop(id(ws), None)
        return ws

    async def _on_message(self, ws: web.WebSocketResponse, msg: Any, mine: list[str]) -> None:
        if isinstance(msg, dict) and msg.get("type") == "subscribe":
            topic = str(msg.get("topic"))
            self.topics.setdefault(topic, {})[id(ws)] = ws
            mine.append(topic)
            await ws.send_str(json.dumps({"type": "result", "topic": topic}))

    async def setup(self, count: int) -> list[str]:
        return [uuid.uuid4().hex for _ in range(count)]

    async def publish(self, task_id: str, message: str, how: str) -> None:
        self.seq += 1
        topic = f"task:{task_id}"
        event = {"type": "event", "topic": topic, "seq": self.seq, "event": "task.progress"}
        frame = json.dumps({**event, "task": bench_task(task_id, self.seq, message)})
        for ws in list(self.topics.get(topic, {}).values()):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(frame)

    def stats(self) -> dict[str, Any]:
        return {"connections": len({k for subs in self.topics.values() for k in subs})}


class SocketIoRooms:
    """python-socketio AsyncServer on aiohttp: one room per task topic."""

    def __init__(self) -> None:
        import socketio

        self.sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
        self.sio.on("subscribe", self._subscribe)
        self.seq = 0

    async def _subscribe(self, sid: str, topic: str) -> bool:
        await self.sio.enter_room(sid, topic)
        return True

    async def setup(self, count: int) -> list[str]:
        return [uuid.uuid4().hex for _ in range(count)]

    async def publish(self, task_id: str, message: str, how: str) -> None:
        self.seq += 1
        topic = f"task:{task_id}"
        event = {"type": "event", "topic": topic, "seq": self.seq, "event": "task.progress"}
        payload = {**event, "task": bench_task(task_id, self.seq, message)}
        await self.sio.emit("event", payload, room=topic)

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.sio.eio.sockets)}


# ------------------------------------------------------------------ bench routes


@dataclass
class RunState:
    started: float = 0.0  # time.time() of the first event
    finished: float = 0.0
    sent: int = 0
    max_lag_ms: float = 0.0  # how late the paced schedule ran at worst
    cpu_s: float = 0.0  # the server's CPU time over the run: CPU per delivery
    error: str = ""


class Control:
    """Bench-only routes under /bench/ that drive a server's event source."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.runs: dict[str, RunState] = {}
        self.jobs: dict[str, asyncio.Task[None]] = {}

    def install(self, app: web.Application) -> None:
        app.router.add_post("/bench/setup", self.setup)
        app.router.add_post("/bench/start", self.start)
        app.router.add_post("/bench/stop", self.stop)
        app.router.add_get("/bench/status", self.status)

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
        cpu = time.process_time()
        try:
            if spec["mode"] == "paced":
                await self._paced(spec, state)
            else:
                await self._burst(spec, state)
        except Exception as exc:  # reported in /bench/status rather than lost in a log
            state.error = f"{type(exc).__name__}: {exc}"
        finally:
            state.finished = time.time()
            state.cpu_s = time.process_time() - cpu

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
        if inflight:
            _, pending = await asyncio.wait(inflight, timeout=5)
            for job in pending:
                job.cancel()

    async def _burst(self, spec: dict[str, Any], state: RunState) -> None:
        t0 = time.monotonic()
        for n in range(spec["count"]):
            if time.monotonic() - t0 > spec["max_s"]:
                break
            await self._publish(spec, state, spec["tasks"][0], spec["letter"], n)
            # One loop turn per event, as a real source yields (ocrlive's SQLite commit
            # does): without it a synchronous publish would queue the whole burst before
            # any writer runs, and ocrlive's outboxes would collapse it to one event.
            await asyncio.sleep(0)

    async def _publish(
        self, spec: dict[str, Any], state: RunState, task_id: str, letter: str, n: int
    ) -> None:
        now = time.time()
        state.started = state.started or now
        state.sent += 1
        await self.driver.publish(task_id, f"bench {letter} {n} {now:.6f}", spec["how"])


# ----------------------------------------------------------------- server process


def build_ocrlive(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    from ocrlive.app import create_app
    from ocrlive.settings import load_settings
    from ocrlive.store.db import migrate

    # progress_interval_ms=0: nothing is coalesced before the hub; connect_rate: every
    # benchmark client comes from 127.0.0.1; ws_heartbeat: the frozen-client phase runs
    # up to a minute and should measure the outbox, not the heartbeat (20 s by default,
    # which drops a frozen client after ~30 s).
    settings = load_settings(
        environ={}, data_dir=data_dir, workers=1, token=token, progress_interval_ms=0,
        connect_rate=10**7, ws_heartbeat=HEARTBEAT_S,
    )  # fmt: skip
    migrate(settings.db_path)
    app = create_app(settings, token, engine_factory=FAKE_ENGINE)

    async def fast_path(request: web.Request) -> web.Response:
        _fast_path(bool((await request.json())["on"]))
        return web.json_response({"ok": True})

    app.router.add_post("/bench/fastpath", fast_path)
    return app, OcrliveDriver(app)


def build_plain(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    app, driver = web.Application(), PlainBroadcast()
    app.router.add_get("/ws", driver.handle)
    return app, driver


def build_socketio(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    app, driver = web.Application(), SocketIoRooms()
    driver.sio.attach(app)
    return app, driver


BUILDERS: dict[str, Callable[[str, Path], tuple[web.Application, Driver]]] = {
    "ocrlive": build_ocrlive,
    "plain": build_plain,
    "socketio": build_socketio,
}


def server_main(
    kind: str, token: str, data_dir: str, pipe: Pipe, cpu: int | None, profile_dir: str | None
) -> None:
    raise_nofile()
    pin_to(cpu)
    logging.basicConfig(level=logging.WARNING)
    if profile_dir is None:
        asyncio.run(_serve(kind, token, Path(data_dir), pipe))
        return
    import cProfile  # --profile: where the server's time goes (runs ~2x slower)

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(_serve(kind, token, Path(data_dir), pipe))
    finally:
        profiler.disable()
        profiler.dump_stats(Path(profile_dir) / f"{kind}-{os.getpid()}.prof")


async def _serve(kind: str, token: str, data_dir: Path, pipe: Pipe) -> None:
    app, driver = BUILDERS[kind](token, data_dir)
    Control(driver).install(app)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG, shutdown_timeout=2).start()
    pipe.send(runner.addresses[0][1])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(runner.cleanup(), 15)


# ----------------------------------------------------------------- client process


async def open_client(
    target: dict[str, Any], topics: list[str], recorder: Recorder, **options: Any
) -> RawWebSocket:
    """Connect, authenticate and subscribe to `topics` in the server's own protocol."""
    kind, port = target["kind"], target["port"]
    if kind == "ocrlive":
        bearer = {"Authorization": f"Bearer {target['token']}"}
        ws = await open_websocket(port, "/api/ws", recorder, headers=bearer, **options)
        await _subscribe_ocrlive(ws, topics)
    elif kind == "plain":
        ws = await open_websocket(port, "/ws", recorder, **options)
        await _subscribe_plain(ws, topics)
    else:
        path = "/socket.io/?EIO=4&transport=websocket"
        ws = await open_websocket(port, path, recorder, **options)
        ws.engineio = True
        await _subscribe_socketio(ws, topics)
    ws.live = True
    return ws


async def _reply(ws: RawWebSocket, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _ in range(1000):  # skips unrelated frames, but not forever
        message = json.loads(await ws.next_text())
        if isinstance(message, dict) and wanted(message):
            return message
    raise ConnectionError("no reply")


async def _subscribe_ocrlive(ws: RawWebSocket, topics: list[str]) -> None:
    hello = await _reply(ws, lambda m: m.get("type") == "hello")
    for n, topic in enumerate(topics, 1):
        # since/epoch from the hello: the resume path every reconnecting client takes.
        since, epoch = hello["seq"], hello["epoch"]
        message = {"id": n, "type": "subscribe", "topic": topic, "since": since, "epoch": epoch}
        ws.send_text(json.dumps(message))
        reply = await _reply(ws, lambda m, n=n: m.get("id") == n)  # type: ignore[misc]
        if not reply.get("ok"):
            raise ConnectionError(f"subscribe refused: {reply.get('error')}")


async def _subscribe_plain(ws: RawWebSocket, topics: list[str]) -> None:
    for topic in topics:
        ws.send_text(json.dumps({"type": "subscribe", "topic": topic}))
        await _reply(ws, lambda m, t=topic: m.get("type") == "result" and m["topic"] == t)  # type: ignore[misc]


async def _subscribe_socketio(ws: RawWebSocket, topics: list[str]) -> None:
    await _engineio_reply(ws, b"0")  # engine.io open
    ws.send_text("40")  # socket.io connect to the default namespace
    await _engineio_reply(ws, b"40")
    for n, topic in enumerate(topics, 1):
        ws.send_text(f'42{n}["subscribe",{json.dumps(topic)}]')
        await _engineio_reply(ws, f"43{n}[".encode())


async def _engineio_reply(ws: RawWebSocket, prefix: bytes) -> bytes:
    for _ in range(1000):
        text = await ws.next_text()
        if text.startswith(prefix):
            return text
    raise ConnectionError(f"no {prefix!r}")


class ClientFleet:
    """Every client socket of this process; commands come from the orchestrator."""

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.recorder = Recorder()
        self.clients: list[RawWebSocket] = []
        self.frozen: RawWebSocket | None = None
        self.frozen_recorder = Recorder()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(MAX_COMMANDS):
            command, args = await loop.run_in_executor(None, self.pipe.recv)
            if command == "quit":
                break
            try:
                reply = await getattr(self, f"cmd_{command}")(**args)
            except Exception as exc:  # reported to the orchestrator, which decides
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            self.pipe.send(reply)
        for ws in [*self.clients, self.frozen]:
            if ws is not None:
                ws.abort()
        self.pipe.send({"ok": True})

    async def cmd_connect(
        self, target: dict[str, Any], topics: list[list[str]], concurrency: int, deflate: bool
    ) -> dict[str, Any]:
        gate, errors, before = asyncio.Semaphore(concurrency), Counter[str](), len(self.clients)

        async def one(wanted: list[str]) -> None:
            async with gate:
                try:
                    ws = await open_client(target, wanted, self.recorder, deflate=deflate)
                    self.clients.append(ws)
                except (OSError, TimeoutError, ValueError) as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(wanted) for wanted in topics))
        return {
            "connected": len(self.clients) - before,
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(3)),
            "seconds": time.monotonic() - t0,
        }

    async def cmd_arm(self, letter: str, final_index: int) -> dict[str, Any]:
        self.recorder.arm(letter, final_index)
        return {}

    async def cmd_collect(self, letter: str, latencies: bool = False) -> dict[str, Any]:
        stats = self.recorder.phases[letter.encode()]
        return {
            "count": stats.count,
            "first": stats.first,
            "last": stats.last,
            "final_seen": stats.final_seen,
            "wire_bytes": self.recorder.wire_bytes - stats.wire_start,
            "open": sum(not ws.closed.done() for ws in self.clients),
            "closes": {str(code): n for code, n in self.recorder.closes.items()},
            "latencies": stats.latencies.tobytes() if latencies else b"",
            "cpu_s": time.process_time() - stats.cpu_start,
        }

    async def cmd_freeze(self, target: dict[str, Any], topics: list[str]) -> dict[str, Any]:
        for letter in "SBFL":
            self.frozen_recorder.arm(letter, -1)
        ws = await open_client(target, topics, self.frozen_recorder, rcvbuf=FROZEN_RCVBUF)
        assert ws.transport is not None
        ws.transport.pause_reading()  # from here on the server's writes pile up
        self.frozen = ws
        return {}

    async def cmd_thaw(self, wait_s: float) -> dict[str, Any]:
        ws = self.frozen
        assert ws is not None and ws.transport is not None
        if not ws.closed.done():
            ws.transport.resume_reading()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(ws.closed), wait_s)
        events = {k.decode(): s.count for k, s in self.frozen_recorder.phases.items()}
        closed = ws.closed.done()
        return {"closed": closed, "close_code": ws.close_code if closed else None, "events": events}


def client_main(pipe: Pipe, cpu: int | None) -> None:
    raise_nofile()
    pin_to(cpu)
    asyncio.run(ClientFleet(pipe).serve())


# ------------------------------------------------------------------- orchestrator


class ServerHandle:
    """One benchmark server in its own process, driven over its /bench/ routes."""

    def __init__(
        self, kind: str, data_dir: Path, cpu: int | None, profile_dir: str | None = None
    ) -> None:
        self.kind, self.token = kind, secrets.token_urlsafe(16)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        args = (kind, self.token, str(data_dir), child, cpu, profile_dir)
        # Not a daemon: ocrlive's OCR pool starts its own worker process.
        self.process = ctx.Process(target=server_main, args=args, name=f"bench-{kind}")
        self.process.start()
        self.ps = psutil.Process(self.process.pid)
        if not parent.poll(90):
            self.close()
            raise RuntimeError(f"{kind} server did not start")
        self.port: int = parent.recv()

    @property
    def target(self) -> dict[str, Any]:
        return {"kind": self.kind, "port": self.port, "token": self.token}

    def request(self, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        url = f"http://127.0.0.1:{self.port}{path}"
        req = urllib.request.Request(url, data=data, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())

    def status(self, timeout: float = 10) -> dict[str, Any] | None:
        """None while the server's loop is too busy to answer (a plain burst)."""
        try:
            result: dict[str, Any] = self.request("/bench/status", timeout=timeout)
            return result
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            return None

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()  # SIGTERM: a graceful runner.cleanup()
            self.process.join(25)
        if self.process.is_alive():
            with contextlib.suppress(psutil.Error):
                for child in self.ps.children(recursive=True):
                    child.kill()
            self.process.kill()
            self.process.join(5)


class ClientHandle:
    """The client process: a command pipe, each command bounded in time."""

    def __init__(self, cpu: int | None) -> None:
        ctx = mp.get_context("spawn")
        self.pipe, child = ctx.Pipe()
        self.process = ctx.Process(target=client_main, args=(child, cpu), daemon=True)
        self.process.start()

    def call(self, command: str, timeout: float = 120, **args: Any) -> dict[str, Any]:
        self.pipe.send((command, args))
        if not self.pipe.poll(timeout):
            raise TimeoutError(f"client command {command} took over {timeout}s")
        reply: dict[str, Any] = self.pipe.recv()
        if "error" in reply:
            raise RuntimeError(f"client command {command}: {reply['error']}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("quit", timeout=15)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


@dataclass
class Combo:
    """One server at one client count, with its tasks and its client process."""

    plan: Plan
    kind: str
    clients: int
    server: ServerHandle
    fleet: ClientHandle
    steady_ids: list[str] = field(default_factory=list)
    burst_id: str = ""
    flood_id: str = ""

    def topics(self, n: int) -> list[str]:
        return [f"task:{self.steady_ids[n % len(self.steady_ids)]}", f"task:{self.burst_id}"]


@contextlib.contextmanager
def combo(plan: Plan, kind: str, clients: int, root: Path) -> Iterator[Combo]:
    data_dir = root / f"{kind}-{clients}-{time.monotonic_ns()}"
    server = ServerHandle(kind, data_dir, SERVER_CPU if plan.pin else None, plan.profile_dir)
    fleet = None
    try:
        fleet = ClientHandle(CLIENT_CPU if plan.pin else None)
        ids = server.request("/bench/setup", {"count": plan.tasks + 2}, timeout=60)["ids"]
        yield Combo(plan, kind, clients, server, fleet, ids[: plan.tasks], ids[-2], ids[-1])
    finally:
        if fleet is not None:
            fleet.close()  # clients first, so the server's shutdown has no one to close
        server.close()


def connect(c: Combo, count: int, deflate: bool = False) -> dict[str, Any]:
    topics = [c.topics(n) for n in range(count)]
    timeout = 60 + count * 0.05
    result = c.fleet.call(
        "connect", target=c.server.target, topics=topics, concurrency=64, deflate=deflate,
        timeout=timeout,
    )  # fmt: skip
    if result["failed"]:
        log.warning("%s: %d connections failed: %s", c.kind, result["failed"], result["errors"])
    return result


def measure_memory(c: Combo, deflate: bool = False) -> dict[str, Any]:
    """RSS per idle, authenticated and subscribed connection."""
    time.sleep(0.5)
    base = c.server.rss()
    result = connect(c, c.clients, deflate)
    time.sleep(1.5)  # let the handshakes' garbage settle
    idle = c.server.rss()
    per_conn = (idle - base) / max(1, result["connected"])
    return {
        "connected": result["connected"],
        "failed": result["failed"],
        "connect_s": round(result["seconds"], 2),
        "rss_base": base,
        "rss_idle": idle,
        "rss_per_conn_kib": round(per_conn / KIB, 2),
    }


def wait_run(c: Combo, name: str, max_s: float) -> dict[str, Any]:
    """Poll the server until the named run finished (bounded by max_s)."""
    deadline, state = time.monotonic() + max_s, {}
    while time.monotonic() < deadline:
        status = c.server.status(timeout=max(1.0, deadline - time.monotonic()))
        if status is not None:
            state = status["runs"].get(name, {})
            if state.get("finished"):
                break
        time.sleep(0.25)
    return state


def wait_deliveries(
    c: Combo, letter: str, need: int, quiet_s: float, max_s: float
) -> dict[str, Any]:
    """Wait until `need` clients saw the final event, or deliveries stop for quiet_s."""
    t0 = last_change = time.monotonic()
    last_count = -1
    while time.monotonic() - t0 < max_s:
        stats = c.fleet.call("collect", letter=letter)
        if need and stats["final_seen"] >= need:
            break
        if stats["count"] != last_count:
            last_count, last_change = stats["count"], time.monotonic()
        elif time.monotonic() - last_change >= quiet_s:
            break
        time.sleep(0.2)
    return c.fleet.call("collect", letter=letter, latencies=True)


def summarize(stats: dict[str, Any], started: float, expected: int) -> dict[str, Any]:
    latencies = array("d")
    latencies.frombytes(stats["latencies"])
    ordered = sorted(latencies)
    span = stats["last"] - started if stats["count"] and started else 0.0
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return {
        "delivered": stats["count"],
        "expected": expected,
        "received_pct": round(100 * stats["count"] / expected, 1) if expected else None,
        "span_s": round(span, 3),
        "delivered_per_s": round(stats["count"] / span) if span > 0 else None,
        "p50_ms": None if p50 is None else round(p50 * 1000, 2),
        "p99_ms": None if p99 is None else round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
        "wire_bytes": stats["wire_bytes"],
        "client_closes": stats["closes"],
        "clients_open": stats["open"],
    }


def steady_expected(sent: int, tasks: int, clients: int) -> int:
    """Events of task j reach the clients n with n % tasks == j."""
    per_task = [sent // tasks + (1 if j < sent % tasks else 0) for j in range(tasks)]
    subs = [clients // tasks + (1 if j < clients % tasks else 0) for j in range(tasks)]
    return sum(e * s for e, s in zip(per_task, subs, strict=True))


def run_steady(c: Combo, letter: str, duration: float, how: str = "progress") -> dict[str, Any]:
    c.fleet.call("arm", letter=letter, final_index=-1)
    spec = {"name": "steady", "mode": "paced", "letter": letter, "tasks": c.steady_ids,
            "rate": c.plan.rate, "duration": duration, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    state = wait_run(c, "steady", duration + 20)
    stats = wait_deliveries(c, letter, 0, quiet_s=1.0, max_s=15)
    expected = steady_expected(state.get("sent", 0), len(c.steady_ids), c.clients)
    result = summarize(stats, state.get("started", 0.0), expected)
    result |= {"events_sent": state.get("sent", 0), "max_lag_ms": state.get("max_lag_ms")}
    result |= cpu_per_delivery(state, stats)
    result["events_per_s"] = round(state.get("sent", 0) / duration)
    return result


def run_burst(
    c: Combo, letter: str, *, frozen: bool = False, how: str = "progress"
) -> dict[str, Any]:
    # With a frozen client only "slowed or not" matters: a quarter of the events will do.
    count = c.plan.burst_events(c.clients) // (4 if frozen else 1)
    c.fleet.call("arm", letter=letter, final_index=count - 1)
    spec = {"name": "burst", "mode": "burst", "letter": letter, "tasks": [c.burst_id],
            "count": count, "max_s": c.plan.burst_max_s, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    # A stalled broadcast (plain with a frozen client) shows as 3 s without deliveries.
    quiet = 3.0 if frozen else 5.0
    stats = wait_deliveries(c, letter, c.clients, quiet_s=quiet, max_s=c.plan.burst_max_s + 10)
    state = wait_run(c, "burst", 5 if frozen else 30)
    c.server.request("/bench/stop", {"names": ["burst"]})
    result = summarize(stats, state.get("started", 0.0), count * c.clients)
    complete = stats["final_seen"] >= c.clients
    result |= {"events": count, "events_sent": state.get("sent"), "complete": complete}
    result |= cpu_per_delivery(state, stats)
    return result


def cpu_per_delivery(state: dict[str, Any], stats: dict[str, Any]) -> dict[str, Any]:
    """CPU microseconds per delivered event, server and clients: tells which side was
    saturated (a side well under 1 s of CPU per wall second was waiting)."""
    delivered = max(1, stats["count"])
    return {
        "server_cpu_s": round(state.get("cpu_s", 0.0), 2),
        "client_cpu_s": round(stats["cpu_s"], 2),
        "server_us_per_delivery": round(state.get("cpu_s", 0.0) * 1e6 / delivered, 2),
        "client_us_per_delivery": round(stats["cpu_s"] * 1e6 / delivered, 2),
    }


def run_fill(c: Combo, name: str, letter: str, count: int, how: str) -> dict[str, Any]:
    """Events only the frozen client subscribed to, as fast as the server goes; a
    server stuck on the frozen socket shows as `sent` standing still."""
    spec = {"name": name, "mode": "burst", "letter": letter, "tasks": [c.flood_id],
            "count": count, "max_s": 30.0, "how": how}  # fmt: skip
    c.server.request("/bench/start", spec)
    t0, last_sent, last_change, state = time.monotonic(), -1, time.monotonic(), {}
    while time.monotonic() - t0 < 35:
        status = c.server.status()
        state = (status or {}).get("runs", {}).get(name, {})
        if state.get("finished"):
            break
        if state.get("sent", 0) != last_sent:
            last_sent, last_change = state.get("sent", 0), time.monotonic()
        elif time.monotonic() - last_change > 2.0:
            break
        time.sleep(0.25)
    c.server.request("/bench/stop", {"names": [name]})
    stalled, seconds = not state.get("finished"), time.monotonic() - t0
    return {"sent": state.get("sent", 0), "of": count, "stalled": stalled,
            "per_s": round(state.get("sent", 0) / max(seconds, 1e-3)),
            "seconds": round(seconds, 2), "error": state.get("error")}  # fmt: skip


class RssSampler:
    """The server's peak RSS while the frozen client is present (4 samples/s)."""

    def __init__(self, server: ServerHandle) -> None:
        self.server, self.peak = server, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def _loop(self) -> None:
        for _ in range(100_000):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.server.rss())
            if self._stop.wait(0.25):
                return


def run_frozen(c: Combo) -> dict[str, Any]:
    """One client subscribes (to a steady task, the burst task and its own flood task)
    and stops reading; then the server fills its buffers and the scenarios run again."""
    flood_topic = f"task:{c.flood_id}"
    result: dict[str, Any] = {}
    with RssSampler(c.server) as sampler:
        result["rss_before"] = c.server.rss()
        c.fleet.call("freeze", target=c.server.target, topics=[*c.topics(0), flood_topic])
        result["fill"] = run_fill(c, "fill", "F", c.plan.fill, "progress")
        result["rss_filled"] = c.server.rss()
        result["driver_after_fill"] = (c.server.status() or {}).get("driver")
        result["steady"] = run_steady(c, "S", c.plan.frozen_steady_s)
        result["burst"] = run_burst(c, "B", frozen=True)
        result["rss_after"] = c.server.rss()
        result["lifecycle"] = run_fill(c, "lifecycle", "L", c.plan.lifecycle, "lifecycle")
        time.sleep(2.5)  # ocrlive gives a stuck close handshake 2 s before it aborts
        result["rss_end"] = c.server.rss()
        result["driver_end"] = (c.server.status() or {}).get("driver")
    result["rss_peak"] = max(sampler.peak, result["rss_end"])
    result["growth_mib"] = round((result["rss_peak"] - result["rss_before"]) / MIB, 2)
    result["thaw"] = c.fleet.call("thaw", wait_s=5.0, timeout=30)
    return result


def run_ocrlive_variants(c: Combo) -> dict[str, Any]:
    """The same sockets with events straight to the hub (no SQLite), then the same with
    the experimental fast path: what the WebSocket layer costs, and what the fix saves."""
    out = {
        "steady_hub": run_steady(c, "S", c.plan.steady_s, how="hub"),
        "burst_hub": run_burst(c, "B", how="hub"),
    }
    c.server.request("/bench/fastpath", {"on": True})
    try:
        out["steady_fast"] = run_steady(c, "S", c.plan.steady_s, how="hub")
        out["burst_fast"] = run_burst(c, "B", how="hub")
    finally:
        c.server.request("/bench/fastpath", {"on": False})
    return out


def run_combo(plan: Plan, kind: str, clients: int, root: Path) -> dict[str, Any]:
    # Another workload on the machine skews wall-clock numbers (not CPU per delivery).
    result: dict[str, Any] = {"server": kind, "clients": clients, "load_before": os.getloadavg()}
    try:
        with combo(plan, kind, clients, root) as c:
            result["memory"] = measure_memory(c)
            result["steady"] = run_steady(c, "S", plan.steady_s)
            result["burst"] = run_burst(c, "B")
            if kind == "ocrlive":
                result |= run_ocrlive_variants(c)
            result["frozen"] = run_frozen(c)
    except (RuntimeError, TimeoutError, OSError, KeyError) as exc:
        log.exception("%s with %d clients failed", kind, clients)
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["load_after"] = os.getloadavg()
    return result


# ------------------------------------------------------------- permessage-deflate


def progress_frames(count: int = 200) -> list[bytes]:
    """Consecutive task.progress frames of one task, exactly as ocrlive's hub builds them."""
    from ocrlive.events import Event, Task, utcnow
    from ocrlive.ws.hub import event_frame

    now = utcnow()
    task = Task(
        id=uuid.uuid4().hex, patient_id="P-12345", document_type="referral_letter",
        filename="letter.pdf", content_type="application/pdf", size=183422, priority="normal",
        status="processing", progress=0.0, stage="recognizing", message="", pages_done=0,
        pages_total=5, attempts=1, created_at=now, updated_at=now, error=None, version=0,
    )  # fmt: skip
    frames = []
    for n in range(count):
        page, line = n // 40 + 1, n % 40 + 1
        message = f"Page {page} of 5: recognizing text ({line} of 40 lines)"
        task = task.evolve(progress=round(n * 100 / count, 1), message=message,
                           pages_done=page - 1, updated_at=utcnow(), version=1000 + n)  # fmt: skip
        event = Event(seq=1000 + n, type="task.progress", task=task)
        frames.append(event_frame(f"task:{task.id}", event, task.dumps()).text.encode())
    return frames


def deflate_micro(frames: list[bytes], rounds: int = 25) -> dict[str, Any]:
    """zlib at aiohttp's settings (level 1, raw 15-bit window): bytes and CPU per frame,
    with context takeover (one stream per connection) and without (one per message)."""
    total = rounds * len(frames)
    stream, out, t0 = zlib.compressobj(1, zlib.DEFLATED, -15), 0, time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            out += len(stream.compress(frame) + stream.flush(zlib.Z_SYNC_FLUSH)) - 4
    takeover = {"bytes": out / total, "us": (time.perf_counter() - t0) * 1e6 / total}
    out, t0 = 0, time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            fresh = zlib.compressobj(1, zlib.DEFLATED, -15)
            out += len(fresh.compress(frame) + fresh.flush(zlib.Z_SYNC_FLUSH)) - 4
    no_takeover = {"bytes": out / total, "us": (time.perf_counter() - t0) * 1e6 / total}
    return {
        "frame_bytes": sum(map(len, frames)) / len(frames),
        "takeover": {k: round(v, 1) for k, v in takeover.items()},
        "no_takeover": {k: round(v, 1) for k, v in no_takeover.items()},
        "compressor_kib": round(compressor_memory(frames[0]) / KIB, 1),
    }


def compressor_memory(frame: bytes, count: int = 50) -> float:
    """zlib allocates through PyMem_RawMalloc, which tracemalloc sees."""
    tracemalloc.start()
    keep = []
    for _ in range(count):
        stream = zlib.compressobj(1, zlib.DEFLATED, -15)
        stream.compress(frame)
        stream.flush(zlib.Z_SYNC_FLUSH)
        keep.append(stream)
    size = tracemalloc.get_traced_memory()[0] / count
    tracemalloc.stop()
    return size


def run_deflate(plan: Plan, root: Path) -> dict[str, Any]:
    """ocrlive with browser-like clients that offer permessage-deflate, against the same
    number of clients that do not: memory, burst throughput and bytes on the wire."""
    small = Plan(**{**asdict(plan), "burst": 300})
    result: dict[str, Any] = {"clients": plan.deflate_clients}
    for deflate in (False, True):
        with combo(small, "ocrlive", plan.deflate_clients, root) as c:
            memory = measure_memory(c, deflate=deflate)
            burst = run_burst(c, "B")
        per_delivery = burst["wire_bytes"] / max(1, burst["delivered"])
        result["deflate" if deflate else "off"] = {
            "memory": memory, "burst": burst, "wire_bytes_per_delivery": round(per_delivery),
        }  # fmt: skip
    return result


# ------------------------------------------------------------------------ report


def mib(value: float | None) -> float | None:
    return None if value is None else round(value / MIB, 1)


def by_key(results: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["server"], r["clients"]): r for r in results if "error" not in r}


def burst_ratio(results: list[dict[str, Any]], clients: int, key: str = "burst") -> float | None:
    runs = by_key(results)
    ours, plain = runs.get(("ocrlive", clients)), runs.get(("plain", clients))
    if not ours or not plain or key not in ours:
        return None
    a, b = ours[key]["delivered_per_s"], plain["burst"]["delivered_per_s"]
    return round(a / b, 2) if a and b else None


VARIANTS = {"hub": "ocrlive/hub", "fast": "ocrlive/hub+fastpath"}


def scenario_rows(results: list[dict[str, Any]], name: str) -> list[tuple[str, dict[str, Any]]]:
    """(label, run) per server, plus ocrlive's hub-only and fast-path variants."""
    rows = []
    for r in results:
        if "error" in r:
            continue
        rows.append((r["server"], r))
        for suffix, label in VARIANTS.items():
            if f"{name}_{suffix}" in r:
                rows.append((label, {**r, name: r[f"{name}_{suffix}"]}))
    return rows


def print_results(results: list[dict[str, Any]]) -> None:
    ok = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"\n{r['server']} with {r['clients']} clients FAILED: {r['error']}")
    print_table(
        "memory: idle authenticated + subscribed connections",
        ["server", "clients", "connect s", "RSS base MiB", "RSS idle MiB", "RSS/conn KiB"],
        [[r["server"], r["clients"], r["memory"]["connect_s"], mib(r["memory"]["rss_base"]),
          mib(r["memory"]["rss_idle"]), r["memory"]["rss_per_conn_kib"]] for r in ok],
    )  # fmt: skip
    print_table(
        "steady: 50 tasks x 10 updates/s, each client on one task (ocrlive/hub: no SQLite)",
        ["server", "clients", "events/s", "delivered/s", "recv %", "p50 ms", "p99 ms",
         "max ms", "RSS/conn KiB"],
        [[label, r["clients"], s["events_per_s"], s["delivered_per_s"], s["received_pct"],
          s["p50_ms"], s["p99_ms"], s["max_ms"], r["memory"]["rss_per_conn_kib"]]
         for label, r in scenario_rows(results, "steady") for s in [r["steady"]]],
    )  # fmt: skip
    print_table(
        "burst: one task, every client, events as fast as possible",
        ["server", "clients", "events", "delivered/s", "recv %", "all got last", "span s",
         "p50 ms", "p99 ms", "server us/dlv", "client us/dlv", "RSS/conn KiB", "x plain"],
        [[label, r["clients"], events_cell(b), b["delivered_per_s"], b["received_pct"],
          b["complete"], b["span_s"], b["p50_ms"], b["p99_ms"], b["server_us_per_delivery"],
          b["client_us_per_delivery"], r["memory"]["rss_per_conn_kib"],
          ratio(results, label, r["clients"])]
         for label, r in scenario_rows(results, "burst") for b in [r["burst"]]],
    )  # fmt: skip
    print_frozen(ok)
    loads = [max(r["load_before"][0], r["load_after"][0]) for r in results if "load_after" in r]
    if loads and max(loads) > (os.cpu_count() or 1):
        print(f"\nWARNING: load average reached {max(loads):.1f} on {os.cpu_count()} CPUs: another")
        print("workload competed for the CPUs; trust 'us/dlv' (CPU time) over wall-clock rates.")


def events_cell(burst: dict[str, Any]) -> object:
    """ "sent/planned" when the burst hit its time cap (burst_max_s)."""
    sent, planned = burst.get("events_sent"), burst["events"]
    return planned if sent in (None, planned) else f"{sent}/{planned}"


def ratio(results: list[dict[str, Any]], label: str, clients: int) -> float | None:
    if label == "ocrlive":
        return burst_ratio(results, clients)
    keys = {v: f"burst_{k}" for k, v in VARIANTS.items()}
    return burst_ratio(results, clients, keys[label]) if label in keys else None


def print_frozen(ok: list[dict[str, Any]]) -> None:
    rows = []
    for r in ok:
        f = r["frozen"]
        end = f.get("driver_end") or {}
        rows.append([
            r["server"], r["clients"], f"{f['fill']['sent']}/{f['fill']['of']}", f["fill"]["per_s"],
            mib(f["rss_before"]), mib(f["rss_peak"]), f["growth_mib"],
            f"{r['steady']['p99_ms']} -> {f['steady']['p99_ms']}",
            f"{r['burst']['delivered_per_s']} -> {f['burst']['delivered_per_s']}",
            f["burst"]["complete"], (f.get("driver_after_fill") or {}).get("worst_outbox_entries"),
            ",".join(f"{k}x{v}" for k, v in end.get("closes", {}).items()) or None,
            f["thaw"]["close_code"],
        ])  # fmt: skip
    print_table(
        "frozen client: fill its buffers, then steady + burst again, then 600 lifecycle events",
        ["server", "clients", "fill sent", "fill/s", "RSS MiB", "peak MiB", "growth MiB",
         "steady p99 ms", "burst delivered/s", "burst done", "outbox entries",
         "server closes", "frozen saw"],
        rows,
    )  # fmt: skip


def print_deflate(micro: dict[str, Any], e2e: dict[str, Any] | None) -> None:
    t, n = micro["takeover"], micro["no_takeover"]
    print(f"\npermessage-deflate on ocrlive progress frames ({micro['frame_bytes']:.0f} B each):")
    print(f"  context takeover : {t['bytes']:.0f} B/frame, {t['us']:.1f} us/frame/connection")
    print(f"  no takeover      : {n['bytes']:.0f} B/frame, {n['us']:.1f} us/frame/connection")
    print(f"  one compressor   : {micro['compressor_kib']:.0f} KiB per connection (takeover)")
    if not e2e or "off" not in e2e or "deflate" not in e2e:
        return
    print_table(
        f"ocrlive, {e2e['clients']} clients, without / with permessage-deflate offered",
        ["clients offer", "RSS/conn KiB", "burst delivered/s", "wire B/delivery"],
        [[name, e2e[name]["memory"]["rss_per_conn_kib"], e2e[name]["burst"]["delivered_per_s"],
          e2e[name]["wire_bytes_per_delivery"]] for name in ("off", "deflate")],
    )  # fmt: skip


def goals(results: list[dict[str, Any]]) -> dict[str, Any]:
    runs, out = by_key(results), {}
    for (kind, clients), r in sorted(runs.items()):
        if kind != "ocrlive":
            continue
        for key in ("burst", "burst_hub", "burst_fast"):
            value = burst_ratio(results, clients, key)
            out[f"{key}_ratio_{clients}"] = {"value": value, "goal": ">= 0.8",
                                             "met": value is not None and value >= 0.8}  # fmt: skip
        p99 = r["steady"]["p99_ms"]
        out[f"steady_p99_ms_{clients}"] = {"value": p99, "goal": "< 5 (at 1000)",
                                           "met": p99 is not None and p99 < 5}  # fmt: skip
        per_conn = r["memory"]["rss_per_conn_kib"]
        out[f"rss_per_conn_kib_{clients}"] = {"value": per_conn, "goal": "< 20",
                                              "met": per_conn < 20}  # fmt: skip
        growth = r["frozen"]["growth_mib"]
        out[f"frozen_growth_mib_{clients}"] = {"value": growth, "goal": "flat (< 2 MiB)",
                                               "met": growth < 2}  # fmt: skip
    return out


def print_goals(checks: dict[str, Any]) -> None:
    print("\ngoals (ocrlive):")
    for name, check in checks.items():
        verdict = "ok  " if check["met"] else "MISS"
        print(f"  {verdict} {name}: {check['value']} (goal {check['goal']})")


# -------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,1000", help="client counts, e.g. 100,1000,5000")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--quick", action="store_true", help="shorter phases (about 3 minutes)")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument("--budget-s", type=float, default=570.0, help="stop starting new runs")
    parser.add_argument("--deflate-clients", type=int, default=None, help="0 skips it")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/clients")
    parser.add_argument("--profile", metavar="DIR", help="cProfile each server into DIR")
    return parser.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    servers = [s for s in args.servers.split(",") if s]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        raise SystemExit(f"unknown servers: {', '.join(sorted(unknown))}")
    clients = sorted({int(n) for n in args.clients.split(",") if n})
    quick: dict[str, Any] = {}
    if args.quick:
        quick = {"steady_s": 4.0, "burst": 300, "fill": 8000, "frozen_steady_s": 3.0,
                 "deflate_clients": 200}  # fmt: skip
    if args.deflate_clients is not None:
        quick["deflate_clients"] = args.deflate_clients
    return Plan(clients=clients, servers=servers, budget_s=args.budget_s, pin=not args.no_pin,
                profile_dir=args.profile, **quick)  # fmt: skip


def run_all(plan: Plan, root: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    deadline, results = time.monotonic() + plan.budget_s, []
    for clients in plan.clients:
        for kind in plan.servers:
            if time.monotonic() + plan.estimate_s(clients) > deadline:
                log.warning("skipping %s with %d clients: over the time budget", kind, clients)
                results.append({"server": kind, "clients": clients, "error": "skipped: budget"})
                continue
            log.info("%s with %d clients", kind, clients)
            results.append(run_combo(plan, kind, clients, root))
    e2e = None
    if plan.deflate_clients and time.monotonic() + 40 < deadline:
        log.info("ocrlive with %d deflate clients", plan.deflate_clients)
        try:
            e2e = run_deflate(plan, root)
        except (RuntimeError, TimeoutError, OSError, KeyError) as exc:
            e2e = {"error": f"{type(exc).__name__}: {exc}"}
    return results, e2e


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    raise_nofile()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_ws-") as tmp:
        results, e2e = run_all(plan, Path(tmp))
    micro = deflate_micro(progress_frames())
    print_results(results)
    print_deflate(micro, e2e)
    checks = goals(results)
    print_goals(checks)
    python = sys.version.split()[0]
    print(f"\ntotal {time.monotonic() - t0:.0f} s, {os.cpu_count()} cpus, python {python}")
    if args.json:
        report = {"plan": asdict(plan), "results": results, "deflate": {"micro": micro, "e2e": e2e},
                  "goals": checks, "seconds": round(time.monotonic() - t0, 1)}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
