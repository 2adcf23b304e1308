"""The server and client processes as the orchestrator sees them."""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchws.fleet import client_main
from benchws.plan import CLIENT_CPU, SERVER_CPU, Plan
from benchws.server import server_main


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

    def run_state(self, name: str) -> dict[str, Any]:
        """The named run's RunState, {} while unknown or unanswered."""
        status = self.status()
        state: dict[str, Any] = (status or {}).get("runs", {}).get(name, {})
        return state

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
        """Client n: one steady task (n modulo the tasks) and the burst task."""
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
