"""Sessions: idle timeout (401 and the socket closed with 4001), sign-out and disabling
closing sockets, cross-origin state changes refused, security headers, the single-use
sign-in link, and failed sign-ins slowed per account without locking others out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.db import query
from tests.helpers.people import PASSWORD, sign_in, token_for

from ocrlive.audit.log import AuditLog
from ocrlive.identity import people
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.keys import SETTINGS
from ocrlive.settings import Settings
from ocrlive.store.database import Database

Client = TestClient[Any, Any]


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return each_backend_url


def browser() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def origin(client: Client) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def socket_by_cookie(
    session: aiohttp.ClientSession, client: Client
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(client.make_url("/api/ws"), headers=origin(client))
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def test_an_idle_session_gets_401_and_its_socket_is_closed(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await start_app(make_settings(session_idle_minutes=0.04))  # 2.4 s
    async with browser() as b:
        await sign_in(b, client)
        ws = await socket_by_cookie(b, client)
        closed = await ws.receive(timeout=10)  # the sweep ends the idle session
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4001
        resp = await b.get(client.make_url("/api/tasks"))
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "session_expired"
    expired = query(
        client.server.app[SETTINGS].database,
        "SELECT username, outcome FROM audit_log WHERE action = 'session.expired'",
    )
    assert expired == [("admin", "idle")]


async def test_activity_keeps_a_session_alive(
    start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await start_app(make_settings(session_idle_minutes=0.04))
    async with browser() as b:
        await sign_in(b, client)
        for _ in range(6):  # 3.6 s in all, more than the 2.4 s idle timeout
            await asyncio.sleep(0.6)
            resp = await b.post(client.make_url("/api/session/refresh"), headers=origin(client))
            assert resp.status == 200
        body = await (await b.get(client.make_url("/api/session"))).json()
        assert body["user"]["username"] == "admin" and body["idle_timeout"] == 2.4


async def test_sign_out_closes_the_persons_socket(client: Client) -> None:
    async with browser() as b:
        await sign_in(b, client)
        ws = await socket_by_cookie(b, client)
        assert (await b.post(client.make_url("/api/logout"), headers=origin(client))).status == 200
        assert (await ws.receive(timeout=5)).data == 4001
        assert (await b.get(client.make_url("/api/tasks"))).status == 401


async def test_disabling_or_a_role_change_ends_sessions_and_sockets(client: Client) -> None:
    token = await token_for(client.server.app[SETTINGS], "nurse", "clerk")
    async with browser() as b, aiohttp.ClientSession() as program:
        await sign_in(b, client, "nurse")
        by_cookie = await socket_by_cookie(b, client)
        by_token = await program.ws_connect(
            client.make_url("/api/ws"), headers={"Authorization": f"Bearer {token}"}
        )
        await by_token.receive_json(timeout=5)
        await client.patch("/api/users/nurse", json={"role": "clinician"})
        assert (await by_cookie.receive(timeout=5)).data == 4001
        assert (await by_token.receive(timeout=5)).data == 4001
        # A clerk's token exceeds a clinician's role: revoked with the change.
        resp = await program.get(
            client.make_url("/api/tasks"), headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status == 401
        await sign_in(b, client, "nurse")
        await client.patch("/api/users/nurse", json={"disabled": True})
        assert (await b.get(client.make_url("/api/session"))).status == 401


async def test_a_revoked_token_opens_no_more_sockets(client: Client) -> None:
    """Handshakes may reuse a token verified in the last seconds (identity/recent.py):
    a revocation through the API ends that at once; one made by another process (the
    CLI) refuses HTTP at once and handshakes once the sweep has seen it."""
    settings = client.server.app[SETTINGS]
    url = client.make_url("/api/ws")
    async with aiohttp.ClientSession() as program:
        for how in ("api", "elsewhere"):
            auth = {"Authorization": f"Bearer {await token_for(settings, 'nurse', 'clerk')}"}
            first = await program.ws_connect(url, headers=auth)
            assert (await first.receive_json(timeout=5))["type"] == "hello"
            again = await program.ws_connect(url, headers=auth)  # the remembered token
            assert (await again.receive_json(timeout=5))["type"] == "hello"
            tokens = await (await program.get(client.make_url("/api/tokens"), headers=auth)).json()
            token_id = tokens["tokens"][0]["id"]
            if how == "api":
                path = client.make_url(f"/api/tokens/{token_id}")
                assert (await program.delete(path, headers=auth)).status == 200
            else:
                await _revoke_elsewhere(settings, token_id)
                assert (
                    await program.get(client.make_url("/api/tasks"), headers=auth)
                ).status == 401
            assert (await first.receive(timeout=10)).data == 4001
            refused = await program.ws_connect(url, headers=auth)
            assert (await refused.receive(timeout=5)).data == 4001, how
            await again.close()


async def _revoke_elsewhere(settings: Settings, token_id: int) -> None:
    """As `ocrlive tokens revoke` does, from its own connection: the server's identity
    hears nothing of it."""
    db = Database.open(settings.database)
    try:
        await people.revoke_token(
            Identity(db, AuditLog(db.writer), IdentityConfig()), None, token_id
        )
    finally:
        await db.close()


async def test_cross_origin_state_changes_by_cookie_are_refused(client: Client) -> None:
    async with browser() as b:
        await sign_in(b, client)
        url = client.make_url("/api/logout")
        evil = await b.post(url, headers={"Origin": "http://evil.example"})
        assert evil.status == 403 and (await evil.json())["error"]["code"] == "forbidden_origin"
        site = await b.post(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert site.status == 403
        bare = await b.post(url)  # a cookie with neither header: not from our page
        assert bare.status == 403
        assert (await b.get(client.make_url("/api/tasks"))).status == 200  # reads are fine
        same = await b.post(url, headers={"Sec-Fetch-Site": "same-origin"})
        assert same.status == 200


async def test_security_headers(client: Client) -> None:
    for path in ("/", "/api/tasks", "/api/nothing-here"):
        resp = await client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"


async def test_a_sign_in_link_works_once_then_the_person_sets_a_password(client: Client) -> None:
    made = await client.post("/api/users", json={"username": "newbie", "role": "clinician"})
    assert made.status == 201
    link = (await made.json())["link"]
    assert "/login?link=" in link
    async with browser() as b:
        first = await b.get(link, allow_redirects=False)
        assert first.status == 302 and first.headers["Location"] == "/"
        assert "HttpOnly" in first.headers["Set-Cookie"]
        me = await (await b.get(client.make_url("/api/session"))).json()
        assert me["user"]["username"] == "newbie" and me["user"]["role"] == "clinician"
        weak = await b.put(client.make_url("/api/me/password"), headers=origin(client),
                           json={"password": "password1234"})  # fmt: skip
        assert weak.status == 400 and (await weak.json())["error"]["code"] == "weak_password"
        ok = await b.put(client.make_url("/api/me/password"), headers=origin(client),
                         json={"password": PASSWORD})  # fmt: skip
        assert ok.status == 200
    async with browser() as other:
        again = await other.get(link, allow_redirects=False)
        assert again.headers["Location"] == "/?link=invalid"
        await sign_in(other, client, "newbie")


async def test_failed_sign_ins_are_slowed_per_account_not_locked(client: Client) -> None:
    await token_for(client.server.app[SETTINGS], "nurse", "clinician")
    await token_for(client.server.app[SETTINGS], "doctor", "clinician")
    url = client.make_url("/api/login")
    async with browser() as b:
        for _ in range(5):
            resp = await b.post(url, json={"username": "nurse", "password": "not the password"})
            assert resp.status == 401
        slowed = await b.post(url, json={"username": "nurse", "password": PASSWORD})
        assert slowed.status == 429 and int(slowed.headers["Retry-After"]) >= 1
        await sign_in(b, client, "doctor")  # the same address, another person: not slowed
        await asyncio.sleep(1.1)
        await sign_in(b, client, "nurse")  # after the wait, the right password works
