"""`ocrlive ingest FOLDER`: a batch of documents through a running server's queue,
followed live over the WebSocket, with a progress bar and a summary."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import aiohttp

from ocrlive.settings import Settings

TOKEN_ENV = "OCRLIVE_API_TOKEN"

SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf"}
TERMINAL = {"task.completed": "completed", "task.failed": "failed", "task.cancelled": "cancelled"}


@dataclass
class Batch:
    files: dict[str, Path] = field(default_factory=dict)  # task id -> file
    progress: dict[str, float] = field(default_factory=dict)
    outcome: dict[str, str] = field(default_factory=dict)
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.outcome) == len(self.files)


def ingest(args: argparse.Namespace, settings: Settings) -> int:
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in SUFFIXES)
    if not files:
        print(f"no PNG, JPEG, TIFF or PDF files in {args.folder}", file=sys.stderr)
        return 1
    token = args.token or os.environ.get(TOKEN_ENV, "")
    if not token:
        print(f"ocrlive ingest needs a personal API token: --token or {TOKEN_ENV} "
              "(make one on the dashboard's API tokens page or with `ocrlive tokens create`)",
              file=sys.stderr)  # fmt: skip
        return 2
    batch = asyncio.run(_run(args, token, files, sys.stderr))
    _summary(batch, sys.stdout)
    failed = [o for o in batch.outcome.values() if o != "completed"]
    return 1 if failed or batch.rejected else 0


async def _run(args: argparse.Namespace, token: str, files: list[Path], out: TextIO) -> Batch:
    batch = Batch()
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession(args.url, headers=headers) as session,
        session.ws_connect("/api/ws") as ws,
    ):
        await ws.receive_json(timeout=10)  # hello
        await ws.send_json({"id": 1, "type": "subscribe", "topic": "tasks"})
        for path in files:
            await _upload(session, path, args, batch)
        _draw(batch, out)
        await _follow(ws, batch, out)
    out.write("\n")
    return batch


async def _upload(
    session: aiohttp.ClientSession, path: Path, args: argparse.Namespace, batch: Batch
) -> None:
    form = aiohttp.FormData()
    form.add_field("patient_id", args.patient_id)
    form.add_field("document_type", args.document_type)
    form.add_field("file", path.read_bytes(), filename=path.name)
    key = f"ingest-{uuid.uuid5(uuid.NAMESPACE_URL, str(path.resolve()))}-{path.stat().st_mtime_ns}"
    async with session.post("/api/tasks", data=form, headers={"Idempotency-Key": key}) as resp:
        body: dict[str, Any] = await resp.json()
    if "task" not in body:
        batch.rejected.append((path, body.get("error", {}).get("message", str(resp.status))))
        return
    task = body["task"]
    batch.files[task["id"]] = path
    _apply(batch, task, None)


def _apply(batch: Batch, task: dict[str, Any], event: str | None) -> None:
    if task["id"] not in batch.files:
        return
    batch.progress[task["id"]] = float(task["progress"])
    if event in TERMINAL:
        batch.outcome[task["id"]] = TERMINAL[event]
    elif task["status"] in ("completed", "failed", "cancelled"):
        batch.outcome[task["id"]] = task["status"]


async def _follow(ws: aiohttp.ClientWebSocketResponse, batch: Batch, out: TextIO) -> None:
    while not batch.done:
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError("the server closed the connection")
        data = json.loads(msg.data)
        if data.get("type") == "event":
            _apply(batch, data["task"], data["event"])
            _draw(batch, out)


def _draw(batch: Batch, out: TextIO, width: int = 40) -> None:
    total = len(batch.files) or 1
    overall = sum(batch.progress.values()) / total
    filled = int(width * overall / 100)
    bar = "#" * filled + "-" * (width - filled)
    out.write(f"\r[{bar}] {overall:5.1f}%  {len(batch.outcome)}/{len(batch.files)} documents")
    out.flush()


def _summary(batch: Batch, out: TextIO) -> None:
    counts: dict[str, int] = {}
    for outcome in batch.outcome.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    parts = [f"{n} {name}" for name, n in sorted(counts.items())]
    if batch.rejected:
        parts.append(f"{len(batch.rejected)} rejected")
    out.write("summary: " + (", ".join(parts) or "nothing done") + "\n")
    for task_id, outcome in batch.outcome.items():
        if outcome != "completed":
            out.write(f"  {batch.files[task_id].name}: {outcome}\n")
    for path, reason in batch.rejected:
        out.write(f"  {path.name}: rejected: {reason}\n")
