"""What the chaos run knows: the server, what was sent, what was accepted, what it found."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tests.helpers import rawhttp
from tests.helpers.server import ServerProcess


@dataclass
class Context:
    server: ServerProcess
    token: str
    disk: Path | None  # the tmpfs holding the data folder, when one could be mounted
    tmp: Path
    requests: int = 0
    five_hundreds: int = 0
    health_checks: int = 0
    health_failures: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # task id -> expected status
    findings: list[str] = field(default_factory=list)
    seq: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def session(self, **kw: Any) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(headers=self.auth, **kw)

    def finding(self, text: str) -> None:
        self.findings.append(text)

    def next_text(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix} {self.seq}"

    def answered(self, what: str, status: int, body: bytes, path: str = "/api/") -> None:
        """Count one answer; a 500, or an /api error without a code, is a finding."""
        self.requests += 1
        if status == 500:
            self.five_hundreds += 1
            self.finding(f"{what}: 500 {body[:160]!r}")
        elif status >= 400 and path.startswith("/api/") and b'"code"' not in body:
            self.finding(f"{what}: {status} without an error code {body[:160]!r}")

    def expect(self, what: str, response: rawhttp.RawResponse, status: int, code: str) -> None:
        self.answered(what, response.status, response.body)
        if response.status != status or f'"{code}"'.encode() not in response.body:
            self.finding(f"{what}: wanted {status} {code}, got {response.status} "
                         f"{response.body[:160]!r}")  # fmt: skip

    def accept(self, task: dict[str, Any], expected: str = "completed") -> None:
        self.accepted[task["id"]] = expected

    async def drain(self, timeout: float = 600) -> None:
        """Wait for every task to finish; then check each accepted one's end."""
        async with self.session() as session:
            try:
                async with asyncio.timeout(timeout):
                    while await _active(session, self.url):
                        await asyncio.sleep(1)
            except TimeoutError:
                stuck = await _active(session, self.url)
                self.finding(f"{len(stuck)} task(s) stuck: {stuck[:5]}")
            url = f"{self.url}/api/tasks?status=all&limit=5000"
            async with session.get(url) as resp:
                tasks = {t["id"]: t for t in (await resp.json())["tasks"]}
        for task_id, expected in self.accepted.items():
            task = tasks.get(task_id)
            status = task["status"] if task else "missing"
            if expected != "any" and status != expected:
                error = task["error"] if task else None
                self.finding(f"task {task_id}: wanted {expected}, is {status} {error}")


async def _active(session: aiohttp.ClientSession, url: str) -> list[str]:
    async with session.get(f"{url}/api/tasks?status=active&limit=5000") as resp:
        return [f"{t['id']} {t['status']}" for t in (await resp.json())["tasks"]]
