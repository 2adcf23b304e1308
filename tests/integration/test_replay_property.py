"""Replay exactness under concurrent publishing, as a property: whenever a client
subscribes with `since` while events are being published, it receives every logged
event after `since` once, in seq order; the only ones it may miss are progress
events that a newer event of the same task superseded in its outbox. On SQLite, on
PostgreSQL, and on PostgreSQL with two nodes: events committed on node A, the client
on node B (LISTEN/NOTIFY, then the table)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers.live import Live
from tests.helpers.people import token_for

from ocrlive.app import _store, _tasks
from ocrlive.events import Event, Stage
from ocrlive.keys import MANAGER, METRICS, SETTINGS, WS
from ocrlive.metrics import Metrics
from ocrlive.ocr.types import Progress
from ocrlive.settings import load_settings
from ocrlive.store.db import migrate
from ocrlive.tasks.manager import NewTask, TaskManager
from ocrlive.ws import view


async def live_app(data_dir: Path, database_url: str = "") -> tuple[web.Application, str]:
    """The real event log, registry and WebSocket view, without the OCR pool; an admin's
    API token."""
    app = web.Application()
    settings = load_settings(environ={}, data_dir=data_dir, database_url=database_url)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()  # app._tasks counts the events it publishes
    app.router.add_get("/api/ws", view.handle)
    app.cleanup_ctx.extend([_store, _tasks])
    migrate(settings.database)
    return app, await token_for(settings, "admin", "admin")


def new_task(n: int) -> NewTask:
    return NewTask(patient_id=f"P{n}", document_type="other", filename=f"{n}.png",
                   content_type="image/png", size=1, sha256="0" * 64, file_path="/x")  # fmt: skip


async def publish(manager: TaskManager, plan: list[tuple[int, int]], pause: float) -> None:
    """plan: (task index, progress steps); tasks advance interleaved, one event at a time."""
    ids = [(await manager.create(new_task(n)))[0].id for n in range(len(plan))]
    cursors = [0] * len(plan)
    order = [i for i, (_, steps) in enumerate(plan) for _ in range(steps + 2)]
    for index in order:
        task_id, step = ids[index], cursors[index]
        cursors[index] += 1
        if step == 0:
            await manager.mark_started(task_id)
        elif step <= plan[index][1]:
            await manager.apply_progress(Progress(task_id, Stage.RECOGNIZING, step * 10, "", 1, 1))
        else:
            result = {"task_id": task_id, "text": "", "score": 0.0, "engine": {}, "pages": []}
            await manager.complete(task_id, result)  # type: ignore[arg-type]
        await asyncio.sleep(pause)


async def scenario(data_dir: Path, plan: list[tuple[int, int]], join_at: int,
                   since_share: float, pause: float, urls: tuple[str, str]) -> None:  # fmt: skip
    """urls: the database of the publishing node and of the client's (SQLite when empty);
    the same PostgreSQL database twice makes two nodes."""
    app, token = await live_app(data_dir / "a", urls[0])
    other = (await live_app(data_dir / "b", urls[1]))[0] if urls[1] else app
    async with (
        TestServer(app) as publishing_node,
        TestServer(other)
        if other is not app
        else contextlib.nullcontext(publishing_node) as server,
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session,
    ):
        manager: TaskManager = app[MANAGER]
        publishing = asyncio.create_task(publish(manager, plan, pause))
        while app[WS].hub.published < join_at and not publishing.done():
            await asyncio.sleep(0)
        client_side: TaskManager = other[MANAGER]
        since = int(client_side.store.log.head() * since_share)
        client = await Live.connect(session, str(server.make_url("/api/ws")))
        reply = await client.subscribe("tasks", since=since)
        assert reply["recovered"] is True
        await publishing
        await drain(client, manager, since)
        check(client.events, await logged_since(client_side, since))
        await client.close()


async def logged_since(manager: TaskManager, since: int) -> list[Event]:
    logged = await manager.store.log.read_since(since, manager.epoch)
    assert logged is not None
    return logged


async def drain(client: Live, manager: TaskManager, since: int) -> None:
    last = manager.store.log.head()
    async with asyncio.timeout(20):  # nothing is owed when the client was up to date
        while last > since and (not client.events or client.events[-1]["seq"] < last):
            await client._receive()


def check(received: list[dict[str, Any]], logged: list[Any]) -> None:
    seqs = [e["seq"] for e in received]
    assert seqs == sorted(set(seqs)), "duplicates or disorder"
    by_seq = {e.seq: e for e in logged}
    for event in received:  # nothing invented, and each as it was logged
        assert by_seq[event["seq"]].task.to_json() == event["task"]
    got = set(seqs)
    for i, event in enumerate(logged):
        if event.seq in got:
            continue
        later = [e for e in logged[i + 1 :] if e.task.id == event.task.id and e.seq in got]
        assert event.type == "task.progress" and later, f"gap at seq {event.seq} ({event.type})"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(st.tuples(st.just(0), st.integers(0, 6)), min_size=1, max_size=4),
    join_at=st.integers(0, 30),
    since_share=st.floats(0, 1),
    pause=st.sampled_from([0.0, 0.0005]),
)
@pytest.mark.parametrize("backend", ["sqlite", "postgres", "postgres, two nodes"])
def test_replay_is_exact_while_events_are_published(
    request: pytest.FixtureRequest, tmp_path_factory: Any, backend: str,
    plan: list[tuple[int, int]], join_at: int, since_share: float, pause: float,
) -> None:  # fmt: skip
    data_dir = tmp_path_factory.mktemp("property")
    urls = ("", "")
    if backend != "sqlite":
        url = request.getfixturevalue("postgres").create_database()
        urls = (url, url if "two nodes" in backend else "")
    try:
        asyncio.run(scenario(data_dir, plan, join_at, since_share, pause, urls))
    finally:
        if urls[0]:
            request.getfixturevalue("postgres").drop_database(urls[0])
