"""The role matrix: every HTTP route and every WebSocket command, for every role, a
disabled person, an expired session and no credentials. The expected outcome is
written out here from the issue's roles, not read from the server's own table; a
route or command missing from this matrix fails the test."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.db import query
from tests.helpers.live import Live, fake_png
from tests.helpers.people import admin_token, sign_in, token_for
from tests.integration.test_api import form, upload

from ocrlive.keys import AUTH, SETTINGS
from ocrlive.ratelimit import SlidingWindow
from ocrlive.ws.commands import COMMANDS

Client = TestClient[Any, Any]
ROLES = ("admin", "clerk", "clinician", "auditor")
READ = {"admin", "clerk", "clinician"}
ALL = set(ROLES)
PUBLIC = "public"
SESSION_ONLY = "session only"  # a password is changed from a signed-in browser

# (method, route as declared) -> roles allowed, PUBLIC, or SESSION_ONLY
MATRIX: dict[tuple[str, str], Any] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("GET", "/login/oidc"): PUBLIC,
    ("GET", "/login/oidc/callback"): PUBLIC,
    ("GET", "/api/health"): PUBLIC,
    ("GET", "/api/auth"): PUBLIC,
    ("POST", "/api/login"): PUBLIC,
    ("GET", "/api/ws"): PUBLIC,
    ("GET", "/api/openapi.json"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # its own token or the loopback (test_metrics.py)
    ("POST", "/api/logout"): ALL,
    ("GET", "/api/session"): ALL,
    ("POST", "/api/session/refresh"): ALL,
    ("PUT", "/api/me/password"): SESSION_ONLY,
    ("GET", "/api/status"): READ,
    ("POST", "/api/tasks"): {"admin", "clerk"},
    ("GET", "/api/tasks"): READ,
    ("GET", "/api/tasks/{task_id}"): READ,
    ("GET", "/api/tasks/{task_id}/result"): READ,
    ("GET", r"/api/tasks/{task_id}/pages/{number}.png"): READ,
    ("POST", "/api/tasks/{task_id}/cancel"): {"admin", "clerk"},
    ("POST", "/api/tasks/{task_id}/retry"): {"admin", "clerk"},
    ("GET", "/api/users"): {"admin"},
    ("POST", "/api/users"): {"admin"},
    ("PATCH", "/api/users/{username}"): {"admin"},
    ("POST", "/api/users/{username}/link"): {"admin"},
    ("GET", "/api/tokens"): READ,
    ("POST", "/api/tokens"): READ,
    ("DELETE", "/api/tokens/{token_id}"): READ,
    ("GET", "/api/search"): {"admin", "clinician"},
    ("GET", "/api/review"): {"admin", "clinician"},
    ("GET", "/api/patients/{patient_id}/documents"): READ,
    ("POST", "/api/tasks/{task_id}/pages/{page}/lines/{line}"): {"admin", "clinician"},
    ("GET", "/api/tasks/{task_id}/revisions"): READ,
    ("GET", "/api/tasks/{task_id}/revisions/{revision}"): READ,
    ("POST", "/api/tasks/{task_id}/rerun"): {"admin", "clerk"},
    ("GET", "/api/tasks/{task_id}/export.{format}"): {"admin", "clinician"},
    ("POST", "/api/exports"): {"admin", "clinician"},
    ("GET", "/api/audit"): {"admin", "auditor"},
    ("GET", "/api/audit/export.csv"): {"admin", "auditor"},
}
WS_MATRIX = {"subscribe": READ, "unsubscribe": ALL, "ack": ALL, "ping": ALL}


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return each_backend_url


@dataclass
class World:
    client: Client
    tokens: dict[str, str]
    task_id: str
    patient_id: str = "P-MATRIX"


@pytest.fixture
async def world(client: Client) -> AsyncIterator[World]:
    settings = client.server.app[SETTINGS]
    tokens = {"admin": admin_token(client)}
    for role in ROLES[1:]:
        tokens[role] = await token_for(settings, f"{role}-1", role)
    tokens["disabled"] = await token_for(settings, "gone-1", "clinician")
    resp = await client.patch("/api/users/gone-1", json={"disabled": True})
    assert resp.status == 200
    _, body = await upload(client, fake_png(b"matrix"), patient="P-MATRIX")
    task_id = body["task"]["id"]
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task_id}", since=0)
    await live.until_terminal(task_id)
    await live.close()
    yield World(client, tokens, task_id)


PATTERN = re.compile(r"\{(\w+):(?:[^{}]|\{[^}]*\})*\}")  # {name:regex} -> {name}


def declared_routes(client: Client) -> list[tuple[str, str]]:
    found = []
    for route in client.server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD" and path and "prefix" not in info:
            found.append((route.method, PATTERN.sub(r"{\1}", path)))
    return found


def concrete(path: str, world: World) -> str:
    values = {"task_id": world.task_id, "number": "1", "username": "clinician-1",
              "token_id": "999999", "patient_id": world.patient_id, "page": "1", "line": "0",
              "revision": "1", "format": "pdf"}  # fmt: skip
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


async def call(
    world: World, method: str, path: str, headers: dict[str, str],
    session: aiohttp.ClientSession | None = None,
) -> aiohttp.ClientResponse:  # fmt: skip
    """`session`: default the client's, whose default header is the admin's token."""
    url = world.client.make_url(concrete(path, world))
    session = session or world.client.session
    if (method, path) == ("POST", "/api/tasks"):
        return await session.post(
            url, data=form(fake_png(b"m"), patient="P-MATRIX"), headers=headers
        )
    body = None if method == "GET" else {}
    return await session.request(method, url, json=body, headers=headers, allow_redirects=False)


def test_the_matrix_covers_every_route_and_command(client: Client) -> None:
    assert sorted(declared_routes(client)) == sorted(MATRIX)
    assert sorted(COMMANDS) == sorted(WS_MATRIX)


async def assert_outcome(resp: aiohttp.ClientResponse, allowed: bool, what: str) -> None:
    if allowed:
        assert resp.status not in (401, 403), f"{what}: {resp.status} {await resp.text()}"
    else:
        assert resp.status == 403, f"{what}: {resp.status} {await resp.text()}"
        assert (await resp.json())["error"]["code"] == "forbidden", what


async def test_every_route_for_every_role(world: World) -> None:
    for (method, path), allowed in MATRIX.items():
        if allowed == PUBLIC:
            continue
        for role in ROLES:
            # A fresh session-free client per call: Bearer only, no cookie jar.
            headers = {"Authorization": f"Bearer {world.tokens[role]}"}
            resp = await call(world, method, path, headers)
            ok = allowed != SESSION_ONLY and role in allowed
            await assert_outcome(resp, ok, f"{role} {method} {path}")


async def test_disabled_person_and_no_credentials_get_401_everywhere(world: World) -> None:
    # Dozens of failures from one address: past ten a minute they get 429 (test_limits).
    world.client.server.app[AUTH].failures = SlidingWindow(10_000)
    for (method, path), allowed in MATRIX.items():
        if allowed == PUBLIC:
            continue
        for headers in ({"Authorization": f"Bearer {world.tokens['disabled']}"}, {}):
            async with aiohttp.ClientSession() as anon:
                resp = await call(world, method, path, headers, anon)
                assert resp.status == 401, f"{method} {path} {headers}"
                assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_public_routes_answer_without_credentials(world: World) -> None:
    async with aiohttp.ClientSession() as anon:
        for path in ("/", "/api/health", "/api/auth", "/api/openapi.json"):
            assert (await anon.get(world.client.make_url(path))).status == 200, path


async def test_an_expired_session_gets_401_everywhere(world: World) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        await sign_in(browser, world.client)
        assert (await browser.get(world.client.make_url("/api/session"))).status == 200
        query(world.client.server.app[SETTINGS].database,
              "UPDATE sessions SET last_seen_at = '2000-01-01T00:00:00+00:00'")  # fmt: skip
        origin = {"Origin": f"http://{world.client.host}:{world.client.port}"}
        for (method, path), allowed in MATRIX.items():
            if allowed == PUBLIC:
                continue
            url = world.client.make_url(concrete(path, world))
            resp = await browser.request(method, url, json={}, headers=origin)
            assert resp.status == 401, f"{method} {path}"
            assert (await resp.json())["error"]["code"] == "session_expired", path


async def ws_command(live: Live, kind: str, task_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "subscribe": {"topic": f"task:{task_id}", "since": None},
        "unsubscribe": {"topic": "tasks"},
        "ack": {"seq": 1},
        "ping": {},
    }[kind]
    return await live.request(kind, **fields)


async def test_every_websocket_command_for_every_role(world: World) -> None:
    url = str(world.client.make_url("/api/ws"))
    async with aiohttp.ClientSession() as session:
        for role in ROLES:
            live = await Live.connect(session, url, world.tokens[role])
            assert live.hello["type"] == "hello"
            for kind, allowed in WS_MATRIX.items():
                reply = await ws_command(live, kind, world.task_id)
                code = None if reply["ok"] else reply["error"]["code"]
                if role in allowed:
                    assert code != "forbidden", f"{role} {kind}: {reply}"
                else:
                    assert code == "forbidden", f"{role} {kind}: {reply}"
            await live.close()


async def test_websocket_refuses_a_disabled_person_and_an_expired_session(world: World) -> None:
    url = str(world.client.make_url("/api/ws"))
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {world.tokens['disabled']}"}
        ws = await session.ws_connect(url, headers=headers)
        assert (await ws.receive(timeout=5)).data == 4001
        ws = await session.ws_connect(url)
        assert (await ws.receive_json(timeout=5))["type"] == "auth_required"
        await ws.send_str(json.dumps({"type": "auth", "token": world.tokens["disabled"]}))
        assert (await ws.receive(timeout=5)).data == 4001
