"""SIGTERM (systemd's stop) drains: WebSockets are closed with 1001, the server exits
0, the task being read stays in the database and is resumed at the next start. The
server runs with JSON log lines, as a log collector would read them, and tells systemd
READY=1 and STOPPING=1 on a notify socket (as a Type=notify unit would hear them)."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.api import upload
from tests.helpers.drawing import draw_page, sample_lines, write_pdf
from tests.helpers.live import Live
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine
TOKEN = "shutdown-token-0123456789"


async def test_sigterm_drains_and_the_task_resumes(tmp_path: Path) -> None:
    pdf = write_pdf([draw_page(sample_lines(12, seed=s)) for s in (1, 2)], tmp_path / "two.pdf")
    data = tmp_path / "data"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(30)
    server = ServerProcess(data, TOKEN, OCRLIVE_WORKERS="1", OCRLIVE_LOG_FORMAT="json",
                           NOTIFY_SOCKET=str(tmp_path / "notify.sock"))  # fmt: skip
    server.start()
    assert notify.recv(4096).startswith(b"READY=1\nSTATUS=serving on http://127.0.0.1:")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        status, body = await upload(session, server.url, pdf.read_bytes(), name="two.pdf")
        assert status == 202, body
        task_id = body["task"]["id"]
        while not any(e["event"] == "task.progress" for e in live.events):
            await live._receive()
        async with session.get(f"{server.url}/metrics") as resp:  # a real server's metrics
            assert resp.status == 200
            metrics = (await resp.text()).splitlines()
        expected = [
            'ocrlive_tasks{status="processing"} 1.0',
            "ocrlive_workers_busy 1.0",
            'ocrlive_workers{executor="local"} 1.0',
            "ocrlive_websocket_connections 1.0",
        ]
        assert [line for line in expected if line not in metrics] == []
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        closed = await live.ws.receive(timeout=30)
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 1001, closed
        assert notify.recv(4096) == b"STOPPING=1"
        assert server.proc.wait(60) == 0
    left = (
        sqlite3.connect(data / "ocrlive.db")
        .execute("SELECT status FROM tasks WHERE id = ?", (task_id,))
        .fetchone()
    )
    assert left == ("processing",)  # not failed, not lost: left to be resumed
    lines = [line for line in server.log().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    assert any(r["message"].startswith("ocrlive ") and "serving on" in r["message"]
               for r in records)  # fmt: skip
    assert any(r["message"] == "ocrlive: shutting down" for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)

    notify.close()
    server.start()
    try:
        async with aiohttp.ClientSession(headers=headers) as session:
            live = await Live.connect(session, f"{server.url}/api/ws")
            await live.subscribe(f"task:{task_id}", since=0)  # the whole log: requeue too
            events = await live.until_terminal(task_id, timeout=300)
            assert events[-1]["event"] == "task.completed"
            assert any("restart" in e["task"]["message"] for e in events)
            await live.close()
    finally:
        server.stop()
