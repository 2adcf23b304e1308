"""ocrlive on a real PostgreSQL server (a throwaway cluster): a restart of the server
gives uploads a coded 503 and loses nothing, and both nodes carry on after it (the
first request served, LISTEN reconnected, the events of the outage read from the
table); two nodes on one database see each other's events in one order, gapless."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.live import Live, fake_png
from tests.helpers.postgres import PostgresCluster
from tests.helpers.server import ServerProcess
from tests.integration.test_api import assert_error, form, upload

from ocrlive.audit.log import AuditLog
from ocrlive.identity import people
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.settings import Settings
from ocrlive.store import open_store
from ocrlive.store.base import TaskFilter
from ocrlive.store.database import Database
from ocrlive.store.db import migrate

Client = TestClient[Any, Any]


async def follow(client: Client, topic: str = "tasks", since: int | None = 0) -> Live:
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(topic, since=since)
    return live


async def test_a_restart_of_postgres_gives_503_loses_nothing_and_both_nodes_carry_on(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings],
    postgres: PostgresCluster, database_url: str, tmp_path: Path,
) -> None:  # fmt: skip
    node_a = await start_app(make_settings(database_url=database_url, data_dir=tmp_path / "a"))
    node_b = await start_app(make_settings(database_url=database_url, data_dir=tmp_path / "b"))
    on_b = await follow(node_b)  # stays connected through the outage
    status, body = await upload(node_a, fake_png(b"before the outage"))
    assert status == 202
    first_id = body["task"]["id"]
    assert (await on_b.until_terminal(first_id))[-1]["event"] == "task.completed"
    postgres.stop_server()
    try:
        for node in (node_a, node_b):
            resp = await node.post("/api/tasks", data=form(fake_png(b"during the outage")))
            assert resp.status == 503 and int(resp.headers["Retry-After"]) > 0
            answer = await resp.json()
            assert_error(answer, "storage_unavailable")
            assert "127.0.0.1" not in answer["error"]["message"]  # the cause stays inside
            resp = await node.get("/api/tasks")
            assert resp.status == 503
            assert_error(await resp.json(), "storage_unavailable")
        status_a = await (await node_a.get("/api/health")).json()
        assert status_a == {"ok": True}  # the process itself serves on
    finally:
        postgres.start_server()
    # The first request after the restart is served (stale connections are made again).
    status, body = await upload(node_a, fake_png(b"after the restart"))
    assert status == 202, body
    after_id = body["task"]["id"]
    # Node B's browser, connected all along, hears of it: LISTEN reconnected, and its
    # events since the outage came from the table, gapless, each once.
    assert (await on_b.until_terminal(after_id))[-1]["event"] == "task.completed"
    seqs = [e["seq"] for e in on_b.events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    listed = await (await node_b.get("/api/tasks?status=all")).json()
    statuses = {t["id"]: t["status"] for t in listed["tasks"]}
    # Both tasks read; nothing half-stored from the outage (a 503 upload is not a task).
    assert statuses == {first_id: "completed", after_id: "completed"}, statuses
    storage = (await (await node_a.get("/api/status")).json())["storage"]
    assert storage["failures"] >= 1 and storage["ok"], storage  # seen, and over
    async with asyncio.timeout(30):  # every node is listed again once it listens again
        while len((await (await node_a.get("/api/status")).json())["nodes"]) != 2:
            await asyncio.sleep(0.2)
    await on_b.close()


async def test_two_nodes_on_one_database_see_every_event_once_in_order(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings],
    database_url: str, tmp_path: Any,
) -> None:  # fmt: skip
    node_a = await start_app(make_settings(database_url=database_url, data_dir=tmp_path / "a"))
    node_b = await start_app(make_settings(database_url=database_url, data_dir=tmp_path / "b"))
    on_a, on_b = await follow(node_a), await follow(node_b)
    async with asyncio.timeout(30):  # each node is listed once its LISTEN connection is up
        while len(nodes := (await (await node_a.get("/api/status")).json())["nodes"]) < 2:
            await asyncio.sleep(0.1)
    assert len(nodes) == 2 and [n["self"] for n in nodes].count(True) == 1, nodes
    uploaded = []
    for node, text in ((node_a, b"on node A"), (node_b, b"on node B"), (node_a, b"A again")):
        status, body = await upload(node, fake_png(text))
        assert status == 202
        uploaded.append(body["task"]["id"])
    for live in (on_a, on_b):
        for task_id in uploaded:
            await live.until_terminal(task_id)
    seqs_a = [e["seq"] for e in on_a.events]
    seqs_b = [e["seq"] for e in on_b.events]
    # Both nodes deliver the same events: every seq once, in order, none missing.
    assert seqs_a == seqs_b == list(range(seqs_a[0], seqs_a[0] + len(seqs_a)))
    assert [e["task"] for e in on_a.events] == [e["task"] for e in on_b.events]
    # A client of node B that reconnects with `since` gets the rest from the table.
    late = await follow(node_b, since=seqs_b[2])
    for task_id in uploaded:
        await late.until_terminal(task_id)
    assert [e["seq"] for e in late.events] == seqs_b[3:]
    for live in (on_a, on_b, late):
        await live.close()


async def test_two_nodes_starting_at_once_on_an_empty_database_make_one_first_admin(
    database_url: str,
) -> None:
    """Both see nobody and both add the first admin: one wins, the other starts without
    a link of its own rather than failing on the taken username."""
    nodes = [Database.open(database_url) for _ in range(2)]
    try:
        idents = [Identity(db, AuditLog(db.writer), IdentityConfig()) for db in nodes]
        links = await asyncio.gather(*(people.first_run(ident) for ident in idents))
        assert len([link for link in links if link]) == 1, links
        assert [u.username for u in await people.list_users(idents[0])] == ["admin"]
    finally:
        for db in nodes:
            await db.close()


async def test_every_form_of_a_postgresql_url_is_served_and_anything_else_refused(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    """postgresql://, +psycopg and +asyncpg all migrate and open (ocrlive uses psycopg 3)."""
    for driver in ("postgresql", "postgresql+asyncpg"):
        url = database_url.replace("postgresql+psycopg", driver, 1)
        migrate(url)  # already at head: Alembic connects and finds nothing to do
        store = open_store(make_settings(database_url=url).database)
        await store.log.open()
        assert store.log.epoch and await store.tasks.list(TaskFilter.ALL, 10) == []
        await store.close()
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        make_settings(database_url="mysql://root@localhost/ocrlive")


def test_two_serve_nodes_on_one_postgresql_share_one_data_folder(
    postgres: PostgresCluster, database_url: str, tmp_path: Path
) -> None:
    """The deployment of the README: `ocrlive serve` twice, one database, one folder
    (the one-server-per-folder lock is SQLite's rule); each lists both nodes."""
    data = tmp_path / "shared"
    env = {"OCRLIVE_DATABASE_URL": database_url, "OCRLIVE_WORKERS": "1"}
    node_a = ServerProcess(data, "shared-folder-token-0123456789", **env)
    node_b = ServerProcess(data, node_a.token, **env)
    try:
        node_a.start()
        node_b.start(provision=False)  # the admin and token are in the database already
        deadline = time.monotonic() + 30  # each node's LISTEN connection names it
        while {len(n.status()["nodes"]) for n in (node_a, node_b)} != {2}:
            assert time.monotonic() < deadline, [n.status()["nodes"] for n in (node_a, node_b)]
            time.sleep(0.2)
    finally:
        node_b.stop()
        node_a.stop()
