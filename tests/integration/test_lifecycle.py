"""Failure paths through the real app and process pool (the fake engine plays the
hang, the crash and the unreadable file): every task ends, loudly, with a code."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from tests.helpers.live import Live, fake_png
from tests.helpers.people import admin_token
from tests.integration.test_api import assert_error, upload

from ocrlive.ingest import ingest
from ocrlive.keys import SETTINGS

Client = TestClient[Any, Any]


async def follow(client: Client, task_id: str) -> list[dict[str, Any]]:
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task_id}", since=0)
    events = await live.until_terminal(task_id, timeout=60)
    await live.close()
    return events


async def test_a_hung_worker_is_killed_and_the_task_fails_with_timeout(
    start_app: Any, make_settings: Any
) -> None:
    client = await start_app(make_settings(task_timeout=1.5))
    _, body = await upload(client, fake_png(b"HANG"))
    events = await follow(client, body["task"]["id"])
    assert events[-1]["event"] == "task.failed"
    assert events[-1]["task"]["error"]["code"] == "timeout"
    _, ok = await upload(client, fake_png(b"after the hang"))
    assert (await follow(client, ok["task"]["id"]))[-1]["event"] == "task.completed"


async def test_a_crashing_document_is_retried_once_then_fails(client: Client) -> None:
    _, body = await upload(client, fake_png(b"CRASH"))
    events = await follow(client, body["task"]["id"])
    kinds = [e["event"] for e in events]
    assert kinds.count("task.started") == 2 and "task.requeued" in kinds
    assert events[-1]["task"]["error"]["code"] == "worker_crashed"
    _, ok = await upload(client, fake_png(b"after the crash"))
    assert (await follow(client, ok["task"]["id"]))[-1]["event"] == "task.completed"
    status = await (await client.get("/api/status")).json()
    assert status["workers"][0]["restarts"] >= 2


async def test_an_unreadable_document_fails_with_its_code(client: Client) -> None:
    _, body = await upload(client, fake_png(b"FAIL"))
    events = await follow(client, body["task"]["id"])
    assert events[-1]["task"]["error"]["code"] == "unreadable_document"


async def test_cancel_stops_a_running_task(client: Client) -> None:
    _, body = await upload(client, fake_png(b"SLOW"))
    task_id = body["task"]["id"]
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task_id}", since=0)
    while not any(e["event"] == "task.progress" for e in live.events):
        await live._receive()
    await client.post(f"/api/tasks/{task_id}/cancel")
    events = await live.until_terminal(task_id)
    assert events[-1]["event"] == "task.cancelled"
    _, ok = await upload(client, fake_png(b"next"))  # the worker is free again
    assert (await follow(client, ok["task"]["id"]))[-1]["event"] == "task.completed"


async def test_urgent_tasks_jump_the_queue_and_a_full_queue_answers_503(
    start_app: Any, make_settings: Any
) -> None:
    client = await start_app(make_settings(queue_limit=3))
    _, slow = await upload(client, fake_png(b"SLOW"))
    await asyncio.sleep(0.5)  # the slow one is running; the next ones wait
    _, normal = await upload(client, fake_png(b"normal"))
    _, urgent = await upload(client, fake_png(b"urgent"), priority="urgent")
    await upload(client, fake_png(b"third"))
    status, full = await upload(client, fake_png(b"one too many"))
    assert status == 503
    assert_error(full, "queue_full")
    await client.post(f"/api/tasks/{slow['task']['id']}/cancel")
    urgent_events = await follow(client, urgent["task"]["id"])
    normal_events = await follow(client, normal["task"]["id"])
    started = {
        e["task"]["id"]: e["seq"]
        for e in urgent_events + normal_events
        if e["event"] == "task.started"
    }
    assert started[urgent["task"]["id"]] < started[normal["task"]["id"]]


async def test_ingest_sends_a_folder_through_the_queue(client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for n in range(3):
        (folder / f"doc{n}.png").write_bytes(fake_png(f"doc {n}".encode()))
    (folder / "notes.txt").write_text("ignored: not a document")
    (folder / "broken.pdf").write_bytes(b"not a pdf at all")
    settings = client.server.app[SETTINGS]
    url = str(client.make_url("")).rstrip("/")
    args = argparse.Namespace(
        folder=folder,
        patient_id="P-7",
        document_type="lab_report",
        url=url,
        token=admin_token(client),
    )
    code = await asyncio.to_thread(ingest, args, settings)
    assert code == 1  # the broken file was rejected, so the batch is not clean
    listed = await (await client.get("/api/tasks")).json()
    assert sorted(t["filename"] for t in listed["tasks"]) == ["doc0.png", "doc1.png", "doc2.png"]
    assert {t["status"] for t in listed["tasks"]} == {"completed"}
