"""The client process: every benchmark socket, driven by commands over a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from typing import Any

from bench_common import (
    RawWebSocket,
    Recorder,
    open_websocket,
    pin_to,
    raise_nofile,
    waited_for_cpu_s,
)
from benchws.plan import FROZEN_RCVBUF

MAX_COMMANDS = 100_000  # the command loop is bounded too
CONNECT_ERRORS = (OSError, TimeoutError, ValueError)


async def open_client(
    target: dict[str, Any], topics: list[str], recorder: Recorder,
    resume: dict[str, Any] | None = None, **options: Any,
) -> RawWebSocket:  # fmt: skip
    """Connect, authenticate and subscribe to `topics` in the server's own protocol;
    ocrlive clients given `resume` ({"epoch", "seqs": topic -> seq}) resume from there."""
    kind, port = target["kind"], target["port"]
    if kind == "ocrlive":
        bearer = {"Authorization": f"Bearer {target['token']}"}
        ws = await open_websocket(port, "/api/ws", recorder, headers=bearer, **options)
        await _subscribe_ocrlive(ws, topics, resume)
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


async def _subscribe_ocrlive(
    ws: RawWebSocket, topics: list[str], resume: dict[str, Any] | None = None
) -> None:
    hello = await _reply(ws, lambda m: m.get("type") == "hello")
    ws.epoch = hello["epoch"]
    for n, topic in enumerate(topics, 1):
        # since/epoch from the hello (or where the client was): the resume path every
        # reconnecting client takes.
        since, epoch = hello["seq"], hello["epoch"]
        if resume is not None:
            since, epoch = resume["seqs"].get(topic, since), resume["epoch"]
        message = {"id": n, "type": "subscribe", "topic": topic, "since": since, "epoch": epoch}
        ws.send_text(json.dumps(message))
        reply = await _reply(ws, lambda m, n=n: m.get("id") == n)  # type: ignore[misc]
        if not reply.get("ok"):
            raise ConnectionError(f"subscribe refused: {reply.get('error')}")
        ws.recovered = ws.recovered and bool(reply.get("recovered"))
        ws.positions[topic] = reply["seq"]


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
                except CONNECT_ERRORS as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1

        t0 = time.monotonic()
        await asyncio.gather(*(one(wanted) for wanted in topics))
        return {
            "connected": len(self.clients) - before,
            "failed": sum(errors.values()),
            "errors": dict(errors.most_common(3)),
            "seconds": time.monotonic() - t0,
        }

    async def cmd_track(self) -> dict[str, Any]:
        """From now on each client keeps the seq of the last event it saw per topic."""
        for ws in self.clients:
            ws.last_seq = dict(ws.positions)
        return {}

    async def cmd_storm(
        self, target: dict[str, Any], topics: list[list[str]], window_s: float
    ) -> dict[str, Any]:
        """Every client drops its socket and comes back within `window_s`, resuming from
        the last event it saw: what a restart of the server or a network blip does."""
        old, self.clients = self.clients, []
        for ws in old:
            ws.abort()
        t0 = time.monotonic()
        live_at: list[float] = []  # since the drop
        took: list[float] = []  # from the client's reconnect to its last subscribe reply
        errors, recovered = Counter[str](), 0

        async def one(n: int, ws: RawWebSocket) -> None:
            nonlocal recovered
            await asyncio.sleep(window_s * n / max(1, len(old)))
            resume = {"epoch": ws.epoch, "seqs": ws.last_seq or {}} if ws.epoch else None
            start = time.monotonic()
            try:
                new = await open_client(target, topics[n], self.recorder, resume=resume)
            except CONNECT_ERRORS as exc:
                errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
                return
            live_at.append(time.monotonic() - t0)
            took.append(time.monotonic() - start)
            recovered += new.recovered and new.epoch is not None
            self.clients.append(new)

        await asyncio.gather(*(one(n, ws) for n, ws in enumerate(old)))
        live_at.sort()
        took.sort()
        return {
            "clients": len(old), "live": len(live_at), "recovered": recovered,
            "failed": sum(errors.values()), "errors": dict(errors.most_common(3)),
            "last_live_s": round(live_at[-1], 3) if live_at else None,
            "reconnect_p50_ms": round(took[len(took) // 2] * 1000, 1) if took else None,
            "reconnect_max_ms": round(took[-1] * 1000, 1) if took else None,
        }  # fmt: skip

    async def cmd_probe_deflate(self, target: dict[str, Any]) -> dict[str, Any]:
        """One client that offers permessage-deflate as browsers do: did the server agree?"""
        ws = await open_client(target, [], Recorder(), deflate=True)
        ws.abort()
        return {"agreed": ws.deflate_agreed}

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
            "cpu_wait_s": waited_for_cpu_s() - stats.wait_start,
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
        """Read again: what the frozen client got, and how (whether) it was closed."""
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
