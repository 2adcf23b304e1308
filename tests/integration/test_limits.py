"""Limits that count the right thing (issue 12, item 6): failed authentication on HTTP
is limited as on the WebSocket; failures never lock out a right token from the same
address; signed-in connections from one address are not capped; behind a trusted
proxy the forwarded address is the one limited and audited, and the proxy's user
header is believed from it alone."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from tests.helpers.people import admin_token, token_for

from ocrlive.keys import SETTINGS
from ocrlive.settings import Settings

Client = TestClient[Any, Any]


async def test_http_failures_are_limited_but_a_right_token_still_works(client: Client) -> None:
    right = {"Authorization": f"Bearer {admin_token(client)}"}
    async with aiohttp.ClientSession() as anon:
        url = client.make_url("/api/tasks")
        for _ in range(10):
            assert (await anon.get(url, headers={"Authorization": "Bearer guess"})).status == 401
        limited = await anon.get(url, headers={"Authorization": "Bearer guess"})
        assert limited.status == 429 and (await limited.json())["error"]["code"] == "rate_limited"
        assert limited.headers["Retry-After"]
        assert (await anon.get(url, headers=right)).status == 200


async def test_ws_failures_do_not_lock_out_a_right_token(client: Client) -> None:
    url = client.make_url("/api/ws")
    async with aiohttp.ClientSession() as anon:
        for _ in range(10):
            ws = await anon.ws_connect(url, headers={"Authorization": "Bearer guess"})
            assert (await ws.receive(timeout=5)).data == 4001
        ws = await anon.ws_connect(url, headers={"Authorization": f"Bearer {admin_token(client)}"})
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await ws.close()


async def test_a_ward_behind_one_address_is_not_capped(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await start_app(make_settings(connect_rate=5))
    headers = {"Authorization": f"Bearer {admin_token(client)}"}
    url = client.make_url("/api/ws")
    async with aiohttp.ClientSession() as ward:
        sockets = [await ward.ws_connect(url, headers=headers) for _ in range(80)]
        for ws in sockets:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await ws.close()
        # Sockets that authenticate by message count only until they have.
        for _ in range(8):
            ws = await ward.ws_connect(url)
            await ws.receive_json(timeout=5)
            await ws.send_json({"type": "auth", "token": admin_token(client)})
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await ws.close()
        # Anonymous sockets that never authenticate are capped.
        held = [await ward.ws_connect(url) for _ in range(5)]
        refused = await ward.get(
            url,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert refused.status == 429
        for ws in held:
            await ws.close()


def audit_addresses(client: Client) -> list[str]:
    db = sqlite3.connect(client.server.app[SETTINGS].db_path)
    found = [r[0] for r in db.execute("SELECT address FROM audit_log ORDER BY id")]
    db.close()
    return found


async def test_behind_a_trusted_proxy_the_forwarded_address_is_limited_and_audited(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await start_app(make_settings(trusted_proxies="127.0.0.1/32"))
    async with aiohttp.ClientSession() as proxy:
        url = client.make_url("/api/tasks")
        for _ in range(11):
            bad = {"Authorization": "Bearer guess", "X-Forwarded-For": "10.1.1.1"}
            last = await proxy.get(url, headers=bad)
        assert last.status == 429
        other = {"Authorization": "Bearer guess", "X-Forwarded-For": "10.2.2.2"}
        assert (await proxy.get(url, headers=other)).status == 401  # another person
    forwarded = {"X-Forwarded-For": "198.51.100.7, 10.9.9.9"}
    # 10.9.9.9 is not a trusted proxy: it is the client as far as ocrlive can tell.
    assert (await client.get("/api/tasks", headers=forwarded)).status == 200
    assert audit_addresses(client)[-1] == "10.9.9.9"


async def test_an_untrusted_peer_cannot_forge_its_address(client: Client) -> None:
    await client.get("/api/tasks", headers={"X-Forwarded-For": "10.9.9.9"})
    assert audit_addresses(client)[-1] == "127.0.0.1"


async def test_proxy_header_auth_only_from_a_trusted_proxy(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    for trusted, expected in (("127.0.0.1", 200), ("10.0.0.1", 401)):
        settings = make_settings(trusted_proxies=trusted, proxy_user_header="Remote-User")
        client = await start_app(settings)
        await token_for(settings, "ward-nurse", "clinician")
        async with aiohttp.ClientSession() as via_proxy:
            resp = await via_proxy.get(client.make_url("/api/session"),
                                       headers={"Remote-User": "ward-nurse"})  # fmt: skip
            assert resp.status == expected, trusted
            if expected == 200:
                assert (await resp.json())["user"]["username"] == "ward-nurse"
        await client.close()
