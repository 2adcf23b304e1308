"""OpenAPI 3.1 at /api/openapi.json: a valid document, covering every registered route,
and the real answers of the server match it. Every test that starts the app in-process
(conftest `start_app`) validates all its responses too; here every described
operation is exercised, and the check is shown to catch a drift."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate
from tests.helpers.live import fake_png
from tests.helpers.openapi_check import ResponseValidator

from ocrlive.app import create_app
from ocrlive.errors import HTTP_ERROR_CODES
from ocrlive.http.openapi import build_spec
from ocrlive.settings import Settings

Client = TestClient[Any, Any]


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """Every operation answers as described on SQLite and on PostgreSQL."""
    return each_backend_url


STATIC = "/static/dist/assets/{filename}"


def registered_operations(settings: Settings) -> set[tuple[str, str]]:
    """(method, path template) of every route the app registers, HEAD aside."""
    app = create_app(settings)
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        path = route.resource.canonical if route.resource is not None else ""
        if path == "/static":  # aiohttp's static prefix: the dashboard's hashed files
            path = STATIC
        found.add((route.method.lower(), path))
    return found


def described_operations() -> set[tuple[str, str]]:
    return {(method, path) for path, ops in build_spec()["paths"].items() for method in ops}


def test_the_description_is_valid_openapi_3_1() -> None:
    spec = build_spec()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_every_registered_route_is_described(settings: Settings) -> None:
    missing = registered_operations(settings) - described_operations()
    assert missing == set(), f"describe these in ocrlive/http/openapi/: {sorted(missing)}"
    stale = described_operations() - registered_operations(settings)
    assert stale == set(), f"described but not served: {sorted(stale)}"


def test_every_http_error_code_is_in_the_description() -> None:
    text = str(build_spec())
    assert [code for code in HTTP_ERROR_CODES if f"'{code}'" not in text] == []


async def test_every_operation_answers_as_described(
    client: Client, openapi_validator: ResponseValidator, settings: Settings
) -> None:
    await exercise(client, settings)
    exercised = {(k.split()[0].lower(), k.split()[1]) for k in openapi_validator.checked}
    exercised = {(m, STATIC if p.startswith("/static") else p) for m, p in exercised}
    assert described_operations() - exercised == set()
    statuses = {int(k.split()[2]) for k in openapi_validator.checked}
    assert {101, 200, 201, 202, 302, 400, 401, 403, 404, 409} <= statuses
    # openapi_validator's teardown fails the test on any answer the description forbids


async def exercise(client: Client, settings: Settings) -> None:
    form = aiohttp.FormData()
    form.add_field("patient_id", "P-1")
    form.add_field("document_type", "lab_report")
    form.add_field("file", fake_png(b"described"), filename="a.png")
    created = await client.post("/api/tasks", data=form, headers={"Idempotency-Key": "k1"})
    task = (await created.json())["task"]
    base = f"/api/tasks/{task['id']}"
    await client.get(f"{base}/result")  # 409 not_ready, or 200 if already done
    for _ in range(200):
        if (await (await client.get(base)).json())["task"]["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    again = aiohttp.FormData()
    again.add_field("patient_id", "P-1")
    again.add_field("document_type", "lab_report")
    again.add_field("file", fake_png(b"described"), filename="a.png")
    assert (
        await client.post("/api/tasks", data=again, headers={"Idempotency-Key": "k1"})
    ).status == 200
    for path in (
        "/api/tasks?status=finished&limit=5",
        base,
        f"{base}/result",
        f"{base}/pages/1.png",
        f"{base}/pages/9.png",
        "/api/tasks/nope",
        "/api/tasks?status=bogus",
        "/api/status",
        "/api/health",
        "/api/openapi.json",
        "/metrics",
        "/",
    ):
        await client.get(path, allow_redirects=False)
    await client.post(f"{base}/cancel")  # 409: it is finished
    await client.post(f"{base}/retry")  # 409: it did not fail
    await client.post("/api/tasks", data=b"")  # 400
    async with aiohttp.ClientSession() as anonymous:
        await anonymous.get(client.make_url("/api/tasks"))  # 401
    html = await (await client.get("/")).text()
    asset = html.split('src="')[1].split('"')[0] if 'src="/static/' in html else "/static/none.js"
    await client.get(asset)
    await client.get("/static/dist/assets/missing.js")
    ws = await client.ws_connect("/api/ws")
    await ws.close()
    await exercise_records(client, base, task["id"])
    await exercise_people(client)


async def exercise_people(client: Client) -> None:
    """Signing in (password, link, OIDC not configured), people, tokens, the audit log."""
    for path in ("/login?link=wrong", "/login/oidc", "/login/oidc/callback?state=x&code=y"):
        await client.get(path, allow_redirects=False)
    await client.get("/api/auth")
    await client.get("/api/session")
    await client.post("/api/session/refresh")
    await client.put("/api/me/password", json={"password": "x"})  # 403: not with a token
    added = await client.post("/api/users", json={"username": "nurse", "role": "clerk"})
    link = (await added.json())["link"]
    await client.post("/api/users", json={"username": "nurse", "role": "clerk"})  # 409
    await client.patch("/api/users/nurse", json={"role": "clinician"})
    await client.patch("/api/users/nobody", json={"role": "clinician"})  # 404
    await client.post("/api/users/nurse/link")
    await client.get("/api/users")
    made = await client.post("/api/tokens", json={"name": "scanner"})
    token_id = (await made.json())["info"]["id"]
    await client.get("/api/tokens?all=1")
    await client.delete(f"/api/tokens/{token_id}")
    await client.delete("/api/tokens/999999")  # 404
    await client.get("/api/audit?user=admin")
    await client.get("/api/audit?before=x")  # 400
    await client.get("/api/audit/export.csv?from=2020-01-01&to=2100-01-01")
    await client.get("/api/audit/export.csv")  # 400
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    async with aiohttp.ClientSession() as browser:
        await browser.get(client.make_url("/login?link=" + link.split("link=")[1]),
                          allow_redirects=False)  # fmt: skip
        await browser.get(client.make_url("/api/session"))
        new = "a much longer passphrase 7"
        await browser.put(client.make_url("/api/me/password"), headers=origin,
                          json={"password": new})  # fmt: skip
        await browser.post(client.make_url("/api/logout"), headers=origin)
        for password in ("wrong one", new):  # 401 invalid_credentials, then 200
            await browser.post(client.make_url("/api/login"), headers=origin,
                               json={"username": "nurse", "password": password})  # fmt: skip


async def exercise_records(client: Client, base: str, task_id: str) -> None:
    for path in (
        "/api/search?q=described",
        "/api/search?from=yesterday",
        "/api/review",
        "/api/patients/P-1/documents",
        f"{base}/revisions",
        f"{base}/revisions/1",
        f"{base}/export.txt",
        f"{base}/export.json",
    ):
        await client.get(path)
    await client.post(f"{base}/pages/1/lines/0", json={"action": "confirm"})
    await client.post(f"{base}/pages/1/lines/0", json={"action": "nonsense"})
    await client.post("/api/exports", json={"task_ids": [task_id], "format": "txt"})
    await client.post("/api/exports", json={"task_ids": []})
    await client.post(f"{base}/rerun", json={"settings": {"box_threshold": 7}})
    await client.post(f"{base}/rerun", json={"settings": {"orientation": False}})


async def test_a_drift_is_caught(settings: Settings) -> None:
    """A Task missing a field, an undescribed status, an undescribed route: each is
    reported, so the check above can fail."""
    from aiohttp.test_utils import make_mocked_request

    validator = ResponseValidator()
    request = make_mocked_request("GET", "/api/tasks/abc")
    validator.check(request, 200, b'{"task": {"id": "abc"}}', "application/json")
    validator.check(request, 418, b'{"error": {"code": "teapot", "message": "x"}}',
                    "application/json")  # fmt: skip
    validator.check(make_mocked_request("GET", "/api/undescribed"), 200, b"{}", "application/json")
    assert len(validator.errors) == 3, validator.errors
