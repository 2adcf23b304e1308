"""The database at start-up and while serving (issue #12, item 8): a missing database
beside stored documents, a damaged header or a failed quick_check stop `ocrlive serve`
with a message that says what to do; a damaged page met while serving is answered with
a coded error, and the socket and the server stay up."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers.drawing import label_png
from tests.helpers.server import ServerProcess, free_port

from ocrlive.store.db import migrate

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def serve_once(data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`ocrlive serve` on a data folder it must refuse: it exits on its own."""
    cmd = [sys.executable, "-m", "ocrlive", "serve", "--port", str(free_port()),
           "--data-dir", str(data_dir)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 3, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for word in ("backup", *words):
        assert word in done.stderr, done.stderr


def test_a_missing_database_beside_stored_documents_stops_serve(tmp_path: Path) -> None:
    stored = tmp_path / "files" / "ab" / "ab12.png"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert_refused(serve_once(tmp_path), "is missing", "1 stored files")
    assert not (tmp_path / "ocrlive.db").exists()  # no empty database made beside them


def test_a_damaged_header_stops_serve(tmp_path: Path) -> None:
    migrate(tmp_path / "ocrlive.db")
    with open(tmp_path / "ocrlive.db", "r+b") as db:
        db.write(b"\0" * 16)
    assert_refused(serve_once(tmp_path), "header")


def root_pages(db_path: Path, *tables: str) -> tuple[int, list[int]]:
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        query = "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = ?"
        return page_size, [conn.execute(query, (t,)).fetchone()[0] for t in tables]
    finally:
        conn.close()


def damage(db_path: Path, page_size: int, pages: list[int]) -> None:
    """Overwrite b-tree pages with bytes no page type starts with."""
    with open(db_path, "r+b") as db:
        for page in pages:
            db.seek((page - 1) * page_size)
            db.write(b"\x55" * page_size)


async def upload_and_finish(session: aiohttp.ClientSession, url: str, text: str) -> str:
    fd = aiohttp.FormData()
    fd.add_field("patient_id", "P-8")
    fd.add_field("document_type", "other")
    fd.add_field("file", label_png(text), filename="label.png", content_type="image/png")
    async with session.post(f"{url}/api/tasks", data=fd) as resp:
        task_id: str = (await resp.json())["task"]["id"]
    async with asyncio.timeout(120):
        while True:
            async with session.get(f"{url}/api/tasks/{task_id}") as resp:
                if (await resp.json())["task"]["status"] == "completed":
                    return task_id
            await asyncio.sleep(0.2)


async def check_damage_is_answered(session: aiohttp.ClientSession, url: str, task_id: str) -> None:
    async with session.get(f"{url}/api/tasks/{task_id}/result") as resp:
        body: Any = await resp.json()
        assert resp.status == 503 and body["error"]["code"] == "storage_unavailable", body
    ws = await session.ws_connect(f"{url}/api/ws")
    hello = await ws.receive_json(timeout=10)
    await ws.send_str(json.dumps({"id": 1, "type": "subscribe", "topic": f"task:{task_id}",
                                  "since": 0, "epoch": hello["epoch"]}))  # fmt: skip
    reply = await ws.receive_json(timeout=10)
    assert reply["ok"] is False and reply["error"]["code"] == "storage_unavailable", reply
    await ws.send_str(json.dumps({"id": 2, "type": "ping"}))
    assert (await ws.receive_json(timeout=10))["pong"] is True  # the socket stays
    await ws.close()
    async with session.get(f"{url}/api/tasks") as resp:
        assert resp.status == 200  # undamaged tables are still served


@pytest.mark.engine
async def test_a_damaged_page_is_a_coded_error_while_serving_and_stops_the_next_start(
    tmp_path: Path, engine_config: Any
) -> None:
    models = str(Path(engine_config.det_model_dir).parent)
    server = ServerProcess(tmp_path / "data", TOKEN, OCRLIVE_MODELS_DIR=models, OCRLIVE_WORKERS="1")
    db_path = server.data_dir / "ocrlive.db"
    server.start()
    try:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            task_id = await upload_and_finish(session, server.url, "damaged page")
            server.stop()
            page_size, pages = root_pages(db_path, "results", "events")
            server.start()
            damage(db_path, page_size, pages)
            await check_damage_is_answered(session, server.url, task_id)
            storage = server.status()["storage"]
            assert storage["ok"] is False and "malformed" in storage["error"]
        assert "Traceback" not in server.full_log()
    finally:
        server.stop()
    assert_refused(serve_once(server.data_dir), "quick_check")
