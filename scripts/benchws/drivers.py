"""Event sources, one per server: what a benchmark event goes through to reach the
subscribers. Each runs inside its server's process."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from ocrlive.events import Task
    from ocrlive.ocr.types import Progress
    from ocrlive.tasks.manager import NewTask, TaskManager


class Driver(Protocol):
    async def setup(self, count: int) -> list[str]: ...

    async def publish(self, task_id: str, message: str, how: str) -> None:
        """how: "progress" (collapsible), "lifecycle" (never collapsed) or "hub"
        (ocrlive only: straight to the hub, without SQLite, to isolate the WebSocket
        layer; the others treat every kind alike)."""

    def stats(self) -> dict[str, Any]: ...


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


def event_text(task_id: str, seq: int, message: str) -> str:
    """The reference servers' event: ocrlive's fields, serialized once per event."""
    topic = f"task:{task_id}"
    event = {"type": "event", "topic": topic, "seq": seq, "event": "task.progress"}
    return json.dumps({**event, "task": bench_task(task_id, seq, message)})


class OcrliveDriver:
    """Events through the real TaskManager (a group-committed SQLite transaction, then
    the hub), or with how="hub" straight into the hub."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.closes: Counter[int] = Counter()
        self.tasks: dict[str, Task] = {}  # task id -> Task, for hub-only events
        self.seq = 10**9  # hub-only events need increasing seqs, far from the log's
        count_closes(self.closes)

    @property
    def manager(self) -> TaskManager:
        from ocrlive.keys import MANAGER

        return self.app[MANAGER]

    async def setup(self, count: int) -> list[str]:
        ids = []
        for n in range(count):
            # Owned by this node, as an upload's task is (the runner gave the manager its
            # node): a task nobody owns is taken over by the leader's sweep.
            task, _ = await self.manager.create(_new_task(n))
            # progress is only accepted while processing
            self.tasks[task.id] = await self.manager.mark_started(task.id)
            ids.append(task.id)
        return ids

    async def publish(self, task_id: str, message: str, how: str) -> None:
        if how == "hub":
            self._publish_to_hub(task_id, message)
        elif how == "lifecycle":  # task.requeued + task.started: never collapsed
            await self.manager.requeue(task_id, message)
            await self.manager.mark_started(task_id)
        else:
            await self.manager.apply_progress(_progress(task_id, message))

    def _publish_to_hub(self, task_id: str, message: str) -> None:
        """What the journal publishes after its commit, without the commit."""
        from ocrlive.events import Event, EventType, utcnow
        from ocrlive.keys import WS

        self.seq += 1
        task = self.tasks[task_id].evolve(message=message, version=self.seq, updated_at=utcnow())
        self.app[WS].hub.publish(Event(seq=self.seq, type=EventType.PROGRESS, task=task))

    def stats(self) -> dict[str, Any]:
        from ocrlive.keys import WS

        # Bench-only peek at private state: the outbox of the most backed-up socket
        # (entries counts superseded frames that the outbox has not compacted yet).
        conns = list(self.app[WS].connections._connections.values())
        worst = max(conns, key=lambda c: c.outbox.entries, default=None)
        return {
            "connections": len(conns),
            "closes": {str(code): n for code, n in self.closes.items()},
            "worst_outbox_entries": worst.outbox.entries if worst else 0,
            "worst_outbox_live": len(worst.outbox) if worst else 0,
        }


def _new_task(n: int) -> NewTask:
    from ocrlive.tasks.manager import NewTask

    return NewTask(
        patient_id=f"P-{n:05d}", document_type="referral_letter", filename="letter.pdf",
        content_type="application/pdf", size=183422, sha256="0" * 64,
        file_path="/nonexistent/bench.pdf",
    )  # fmt: skip


def _progress(task_id: str, message: str) -> Progress:
    from ocrlive.events import Stage
    from ocrlive.ocr.types import Progress

    return Progress(
        task_id=task_id, stage=Stage.RECOGNIZING, progress=42.5, message=message, page=2,
        pages_total=5, lines_done=24, lines_total=40,
    )  # fmt: skip


def count_closes(counter: Counter[int]) -> None:
    """Count ocrlive's close codes in the bench server: close_soon (the outbox
    overflow), the read loop and shutdown all end in Connection.close."""
    from ocrlive.ws.connection import Connection

    original = Connection.close

    async def close(self: Connection, code: int, reason: str) -> None:
        counter[code] += 1
        await original(self, code, reason)

    Connection.close = close


class PlainBroadcast:
    """The naive reference: serialize once, `await ws.send_str` to each subscriber.
    aiohttp's default compress=True: it agrees to permessage-deflate when offered."""

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
        frame = event_text(task_id, self.seq, message)
        for ws in list(self.topics.get(f"task:{task_id}", {}).values()):
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
