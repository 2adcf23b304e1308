"""The WebSocket protocol against the real server: authentication, validation,
subscriptions, replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.live import Live, fake_png
from tests.helpers.people import admin_token, sign_in
from tests.integration.test_api import upload

from ocrlive.keys import WS
from ocrlive.ws import view

Client = TestClient[Any, Any]


def ws_url(client: Client) -> str:
    return str(client.make_url("/api/ws"))


async def connect(client: Client) -> Live:
    return await Live.connect(client.session, ws_url(client))


async def test_hello_then_subscribe_gets_snapshot_and_live_events(client: Client) -> None:
    live = await connect(client)
    assert live.hello["type"] == "hello" and live.hello["epoch"]
    reply = await live.subscribe("tasks")
    assert reply["ok"] and reply["recovered"] is False and reply["snapshot"] == []
    _, body = await upload(client, fake_png(b"abc"))
    events = await live.until_terminal(body["task"]["id"])
    kinds = [e["event"] for e in events]
    assert (
        kinds[0] == "task.created" and kinds[1] == "task.started" and kinds[-1] == "task.completed"
    )
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs))
    assert all(e["topic"] == "tasks" for e in events)


async def test_a_client_gets_only_what_it_subscribed_to(client: Client) -> None:
    _, one = await upload(client, fake_png(b"one"))
    _, two = await upload(client, fake_png(b"two"))
    live = await connect(client)
    await live.subscribe(f"task:{two['task']['id']}", since=0)
    await live.until_terminal(two["task"]["id"])
    assert {e["task"]["id"] for e in live.events} == {two["task"]["id"]}
    assert one["task"]["id"] != two["task"]["id"]


async def test_replay_since_gives_exactly_the_missed_events(client: Client) -> None:
    first = await connect(client)
    await first.subscribe("tasks")
    _, body = await upload(client, fake_png(b"x"))
    seen = await first.until_terminal(body["task"]["id"])
    second = await connect(client)
    reply = await second.subscribe("tasks", since=seen[1]["seq"])
    assert reply["recovered"] is True
    await second.until_terminal(body["task"]["id"])
    assert [e["seq"] for e in second.events] == [e["seq"] for e in seen[2:]]
    third = await connect(client)
    stale = await third.subscribe("tasks", since=0, epoch="another-epoch")
    assert stale["recovered"] is False and stale["snapshot"][0]["id"] == body["task"]["id"]


async def test_unknown_task_and_bad_topics_are_coded(client: Client) -> None:
    live = await connect(client)
    reply = await live.subscribe("task:nosuchtask")
    assert reply["error"]["code"] == "not_found"
    reply = await live.subscribe("everything")
    assert reply["error"]["code"] == "invalid_topic"
    reply = await live.request("unsubscribe", topic="tasks")
    assert reply["error"]["code"] == "not_subscribed"


MALFORMED: list[tuple[str, str]] = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid_json"),
    ('{"id": 1}', "invalid_message"),
    ('{"id": 1, "type": "dance"}', "unknown_type"),
    ('{"id": "x", "type": "ping"}', "invalid_message"),
    ('{"id": 2, "type": "subscribe"}', "invalid_message"),
    ('{"id": 3, "type": "subscribe", "topic": 5}', "invalid_message"),
    ('{"id": 4, "type": "subscribe", "topic": "tasks", "since": "yesterday"}', "invalid_message"),
    ('{"id": 5, "type": "subscribe", "topic": "tasks", "since": -1}', "invalid_message"),
    ('{"id": 6, "type": "ack", "seq": true}', "invalid_message"),
    ('{"type": "auth", "token": "x"}', "already_authenticated"),
]


async def test_malformed_messages_get_coded_errors_and_the_socket_lives(client: Client) -> None:
    live = await connect(client)
    for text, code in MALFORMED:
        await live.ws.send_str(text)
        reply = await live.ws.receive_json(timeout=5)
        assert reply["type"] == "result" and reply["ok"] is False, text
        assert reply["error"]["code"] == code, text
    await live.ws.send_str(json.dumps({"id": 100, "type": "ping"}))
    assert (await live.ws.receive_json(timeout=5))["pong"] is True
    await live.ws.send_str(json.dumps({"id": 100, "type": "ping"}))
    assert (await live.ws.receive_json(timeout=5))["error"]["code"] == "id_not_increasing"


async def test_oversized_frame_closes_with_1009(client: Client) -> None:
    live = await connect(client)
    await live.ws.send_str(json.dumps({"id": 1, "type": "ping", "pad": "x" * 70_000}))
    msg = await live.ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1009


async def test_auth_message_flow(client: Client, monkeypatch: Any) -> None:
    monkeypatch.setattr(view, "AUTH_TIMEOUT", 0.3)
    async with aiohttp.ClientSession() as anon:
        ws = await anon.ws_connect(ws_url(client))
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_str(json.dumps({"type": "auth", "token": admin_token(client)}))
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()
        ws = await anon.ws_connect(ws_url(client))
        await ws.receive_json()
        await ws.send_str(json.dumps({"type": "auth", "token": "wrong"}))
        assert (await ws.receive()).data == 4001
        ws = await anon.ws_connect(ws_url(client))
        await ws.receive_json()
        assert (await ws.receive(timeout=5)).data == 4002


async def test_cookie_from_another_origin_is_refused(client: Client) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await sign_in(browser, client)
        origin = f"http://{client.host}:{client.port}"
        ws = await browser.ws_connect(ws_url(client), headers={"Origin": origin})
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await browser.ws_connect(ws_url(client), headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403


async def test_failed_attempts_are_rate_limited(client: Client) -> None:
    async with aiohttp.ClientSession() as anon:
        for _ in range(10):
            ws = await anon.ws_connect(ws_url(client), headers={"Authorization": "Bearer bad"})
            assert (await ws.receive()).data == 4001
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anon.ws_connect(ws_url(client), headers={"Authorization": "Bearer bad"})
        assert refused.value.status == 429


async def test_ack_is_kept_per_connection_and_shown_in_status(client: Client) -> None:
    live = await connect(client)
    reply = await live.request("ack", seq=7)
    assert reply["ok"] and reply["seq"] == 7
    status = await (await client.get("/api/status")).json()
    (conn,) = status["connections"]["list"]
    assert conn["last_ack"] == 7 and conn["address"] == "127.0.0.1"


async def test_shutdown_closes_sockets_with_1001(client: Client) -> None:
    live = await connect(client)
    closing = asyncio.create_task(live.ws.receive(timeout=10))
    await client.server.app.shutdown()
    msg = await closing
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1001


async def test_a_failing_command_answers_internal_error_and_the_socket_stays(
    client: Client, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in a handler (here: the store failing under subscribe) is the server's
    fault: the client gets `internal_error` for that message, the socket stays open,
    nothing stays half-subscribed, and the next message works."""
    recovery = client.server.app[WS].recovery

    async def broken(*args: Any) -> None:
        raise RuntimeError("the disk is on fire")

    live = await connect(client)
    monkeypatch.setattr(recovery, "recover", broken)
    reply = await live.subscribe("tasks")
    assert reply["ok"] is False and reply["error"]["code"] == "internal_error"
    assert "disk" not in reply["error"]["message"]  # details go to the log only
    assert "the disk is on fire" in caplog.text
    assert client.server.app[WS].hub._topics == {}  # the failed subscribe left nothing
    monkeypatch.undo()
    assert (await live.request("ping"))["pong"] is True
    reply = await live.subscribe("tasks")
    assert reply["ok"] is True
    _, body = await upload(client, fake_png(b"after"))
    await live.until_terminal(body["task"]["id"])


async def test_the_command_table_is_what_the_view_dispatches(client: Client) -> None:
    from ocrlive.ws import commands

    assert view.COMMANDS is commands.COMMANDS
    assert sorted(commands.COMMANDS) == ["ack", "ping", "subscribe", "unsubscribe"]


async def test_heartbeat_drops_a_silent_client_and_keeps_one_that_answers(
    start_app: Any, make_settings: Any
) -> None:
    """One task pings every socket each `heartbeat`; a socket that sends nothing back
    (not even the pong) within half of it is dropped, and the client sees it close."""
    client = await start_app(make_settings(ws_heartbeat=0.4))
    url = ws_url(client)
    answering = await connect(client)  # aiohttp answers pings whenever it reads
    silent = await Live.connect(client.session, url, autoping=False)

    async def read_until_closed(live: Live) -> list[aiohttp.WSMsgType]:
        kinds = []
        while (msg := await live.ws.receive(timeout=5)).type not in (
            aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR
        ):  # fmt: skip
            kinds.append(msg.type)
        return kinds

    async def keep_answering() -> None:
        for _ in range(15):  # reading (so answering pings) through several rounds
            await asyncio.sleep(0.1)
            assert (await answering.request("ping"))["pong"] is True

    seen, _ = await asyncio.wait_for(
        asyncio.gather(read_until_closed(silent), keep_answering()), 10
    )
    assert aiohttp.WSMsgType.PING in seen  # it was pinged, did not answer, was dropped
    services = client.server.app[WS]
    assert len(services.connections) == 1
