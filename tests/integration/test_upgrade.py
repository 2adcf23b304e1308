"""Upgrades: a database of the first released schema (revision 0001), filled the way
that version filled it, is migrated to the newest schema and served: the same tasks,
results and event log, the event log's epoch kept, and an unfinished task resumed.

The rows are written with 0001's columns in plain SQL, never with today's models, so
a migration that forgets existing rows fails here."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from tests.helpers.live import fake_png

from ocrlive.settings import Settings
from ocrlive.store.db import MIGRATIONS_DIR, alembic_config, migrate

EPOCH = "0001-epoch-kept-across-upgrades"
T0 = "2026-11-20T08:00:00.000000+00:00"


def _task(task_id: str, status: str, stage: str, file_path: str, **extra: Any) -> dict[str, Any]:
    row = {
        "id": task_id, "patient_id": "P-0001", "document_type": "lab_report",
        "filename": f"{task_id}.png", "content_type": "image/png", "size": 73,
        "sha256": hashlib.sha256(task_id.encode()).hexdigest(), "file_path": file_path,
        "priority": "normal", "status": status, "progress": 0.0, "stage": stage,
        "message": "", "pages_done": 0, "pages_total": 0, "attempts": 0, "error_code": None,
        "error_message": None, "idempotency_key": None, "created_at": T0, "updated_at": T0,
        "finished_at": None, "version": 0,
    }  # fmt: skip
    row.update(extra)
    return row


def _task_json(row: dict[str, Any]) -> dict[str, Any]:
    """The Task object as 0001's server wrote it into each event."""
    hidden = {"sha256", "file_path", "idempotency_key", "finished_at", "error_code",
              "error_message"}  # fmt: skip
    task = {k: v for k, v in row.items() if k not in hidden}
    code = row["error_code"]
    task["error"] = {"code": code, "message": row["error_message"]} if code else None
    return task


def fill_first_schema(settings: Settings) -> dict[str, dict[str, Any]]:
    """Tasks in every state 0001 knew, their events and a result, as 0001 stored them."""
    settings.files_dir.mkdir(parents=True)
    queued_file = settings.files_dir / "queued.png"
    queued_file.write_bytes(fake_png())
    rows = {
        "done": _task("a" * 32, "completed", "done", "/gone/a.png", progress=100.0,
                      pages_done=1, pages_total=1, attempts=1, finished_at=T0, version=3),
        "failed": _task("b" * 32, "failed", "failed", "/gone/b.png", attempts=1,
                        error_code="unreadable_document", error_message="corrupt",
                        finished_at=T0, version=5),
        "queued": _task("c" * 32, "queued", "queued", str(queued_file), version=6),
        "running": _task("d" * 32, "processing", "detecting", str(queued_file),
                         attempts=1, progress=20.0, version=7),
    }  # fmt: skip
    conn = sqlite3.connect(settings.db_path)
    with conn:
        for row in rows.values():
            names = ", ".join(row)
            conn.execute(f"INSERT INTO tasks ({names}) VALUES ({', '.join('?' * len(row))})",
                         list(row.values()))  # fmt: skip
        events = [("a" * 32, "task.created"), ("a" * 32, "task.started"),
                  ("a" * 32, "task.completed"), ("b" * 32, "task.created"),
                  ("b" * 32, "task.failed"), ("c" * 32, "task.created"),
                  ("d" * 32, "task.started")]  # fmt: skip
        for task_id, kind in events:
            task = next(r for r in rows.values() if r["id"] == task_id)
            conn.execute(
                "INSERT INTO events (task_id, type, task, created_at) VALUES (?, ?, ?, ?)",
                (task_id, kind, json.dumps(_task_json(task)), T0),
            )
        engine = {"paddleocr": "3.7.0", "onnxruntime": "1.32.0"}
        result = {"task_id": "a" * 32, "text": "haemoglobin 13.2", "score": 0.97,
                  "engine": engine, "pages": []}  # fmt: skip
        conn.execute("INSERT INTO results VALUES (?, ?)", ("a" * 32, json.dumps(result)))
        conn.execute("INSERT INTO meta VALUES ('epoch', ?)", (EPOCH,))
    conn.close()
    return rows


def test_there_is_a_first_schema_to_upgrade_from() -> None:
    revisions = {s.revision for s in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    assert "0001" in revisions


async def test_first_schema_upgrades_and_is_served(
    settings: Settings, start_app: Callable[..., Any]
) -> None:
    settings.data_dir.mkdir(parents=True)
    command.upgrade(alembic_config(settings.db_path), "0001")
    rows = fill_first_schema(settings)
    migrate(settings.db_path)
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    with sqlite3.connect(settings.db_path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 7
    conn.close()

    client = await start_app(settings)
    listed = (await (await client.get("/api/tasks?status=all")).json())["tasks"]
    assert {t["id"] for t in listed} == {r["id"] for r in rows.values()}
    done = (await (await client.get(f"/api/tasks/{'a' * 32}")).json())["task"]
    assert (done["status"], done["patient_id"], done["version"]) == ("completed", "P-0001", 3)
    failed = (await (await client.get(f"/api/tasks/{'b' * 32}")).json())["task"]
    assert failed["error"] == {"code": "unreadable_document", "message": "corrupt"}
    result = await (await client.get(f"/api/tasks/{'a' * 32}/result")).json()
    assert result["text"] == "haemoglobin 13.2"

    # The event log continues where 0001 left it, under the same epoch.
    ws = await client.ws_connect("/api/ws")
    hello = await ws.receive_json(timeout=10)
    assert hello["epoch"] == EPOCH and hello["seq"] >= 7
    await ws.close()
    # The queued and the interrupted task run to the end on the new schema.
    for task_id in ("c" * 32, "d" * 32):
        for _ in range(200):
            task = (await (await client.get(f"/api/tasks/{task_id}")).json())["task"]
            if task["status"] == "completed":
                break
            await asyncio.sleep(0.05)
        assert task["status"] == "completed", task
