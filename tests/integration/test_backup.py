"""Backups that restore: `ocrlive backup` while the app serves, a task is being read and
an upload is still streaming in; `ocrlive restore` onto an empty folder; an app started
on it shows the same tasks, events, results, people and files, and finishes the task
that was being read. (The app runs in-process with the fake engine: the backup reads
the same SQLite file and folders the real server writes.)"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from tests.helpers.live import fake_png
from tests.helpers.people import sign_in

from ocrlive.cli import main
from ocrlive.settings import Settings

Client = TestClient[Any, Any]
OPEN_SESSIONS = "SELECT count(*) FROM sessions WHERE ended_at IS NULL"


def rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(query))
    finally:
        conn.close()


async def upload(client: Client, data: Any, name: str = "scan.png") -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("patient_id", "P-77")
    form.add_field("document_type", "lab_report")
    form.add_field("file", data, filename=name)
    resp = await client.post("/api/tasks", data=form)
    assert resp.status == 202, await resp.text()
    task: dict[str, Any] = (await resp.json())["task"]
    return task


async def status(client: Client, task_id: str) -> str:
    return str((await (await client.get(f"/api/tasks/{task_id}")).json())["task"]["status"])


async def until(client: Client, task_id: str, wanted: set[str]) -> None:
    for _ in range(600):
        if await status(client, task_id) in wanted:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(task_id)


async def test_backup_while_serving_then_restore(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    client: Client = await start_app(settings)
    done = await upload(client, fake_png(b"first document"))
    await until(client, done["id"], {"completed"})
    reading = await upload(client, fake_png(b"SLOW"))  # 10 s of steps in the fake engine
    await until(client, reading["id"], {"processing"})
    release = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield fake_png(b"late")[:20]
        await release.wait()
        yield fake_png(b"late")[20:]

    late = asyncio.create_task(upload(client, body(), "late.png"))
    await asyncio.sleep(0.2)  # the late upload is streaming in
    # A stale shared-token file from before #8 (plaintext, unused): never backed up.
    (settings.data_dir / "token").write_text("stale-shared-token-0123456789")
    browser = aiohttp.ClientSession()
    await sign_in(browser, client)  # an open session: it must not survive a restore
    backup = tmp_path / "backup"
    code = await asyncio.to_thread(
        main, ["backup", str(backup), "--data-dir", str(settings.data_dir)]
    )
    release.set()
    late_task = await late
    assert code == 0
    assert await status(client, reading["id"]) == "processing"  # the backup did not wait

    check_snapshot(settings.db_path, backup, late_task["id"])
    assert not (backup / "token").exists()
    manifest = json.loads((backup / "manifest.json").read_text())
    assert "token" not in {entry["path"] for entry in manifest["files"]}
    assert rows(backup / "ocrlive.db", OPEN_SESSIONS) == [(1,)]
    restored = tmp_path / "restored"
    (restored / "stray").mkdir(parents=True)
    assert main(["restore", str(backup), "--data-dir", str(restored)]) == 1  # not empty
    (restored / "stray").rmdir()
    assert main(["restore", str(backup), "--data-dir", str(restored)]) == 0
    assert not (restored / "token").exists()
    assert rows(restored / "ocrlive.db", OPEN_SESSIONS) == [(0,)]  # everyone signed out
    await browser.close()
    await serve_restored(start_app, make_settings(data_dir=restored), settings, done, reading)


def check_snapshot(original: Path, backup: Path, late_id: str) -> None:
    manifest = json.loads((backup / "manifest.json").read_text())
    for entry in manifest["files"]:
        assert hashlib.sha256((backup / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    db = backup / "ocrlive.db"
    tables = {r[0] for r in rows(original, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(manifest["rows"]) >= {t for t in tables if not t.startswith("sqlite_")}
    # The event log is append-only: the snapshot holds exactly a prefix of it.
    events = rows(db, "SELECT seq, task_id, type, task FROM events ORDER BY seq")
    later = rows(original, "SELECT seq, task_id, type, task FROM events ORDER BY seq")
    assert events and later[: len(events)] == events
    tasks = rows(db, "SELECT id, sha256, file_path FROM tasks")
    assert late_id not in {t[0] for t in tasks}  # not accepted yet when the snapshot was taken
    for _id, sha, file_path in tasks:  # every task's upload, byte for byte
        rel = Path(file_path).relative_to(original.parent)
        assert hashlib.sha256((backup / rel).read_bytes()).hexdigest() == sha


async def serve_restored(start_app: Callable[..., Any], restored: Settings, original: Settings,
                         done: dict[str, Any], reading: dict[str, Any]) -> None:  # fmt: skip
    people = "SELECT * FROM users ORDER BY 1"
    before_people = rows(original.db_path, people)
    client: Client = await start_app(restored)
    listed = (await (await client.get("/api/tasks?status=all")).json())["tasks"]
    assert {t["id"] for t in listed} == {done["id"], reading["id"]}
    result = await (await client.get(f"/api/tasks/{done['id']}/result")).json()
    query = f"SELECT result FROM results WHERE task_id = '{done['id']}'"
    stored = json.loads(rows(original.db_path, query)[0][0])
    assert result["text"] == stored["text"] and result["text"]
    assert rows(restored.db_path, people)[: len(before_people)] == before_people
    await until(client, reading["id"], {"completed"})  # requeued at start, read to the end
