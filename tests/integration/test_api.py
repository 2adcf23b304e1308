"""The HTTP API on the real app (real port, SQLite file, process pool; fake engine)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.live import Live, fake_png
from tests.helpers.people import sign_in

from ocrlive.keys import SETTINGS

Client = TestClient[Any, Any]


def form(data: bytes, *, patient: str = "P-100", doc: str = "lab_report", name: str = "scan.png",
         **extra: str) -> aiohttp.FormData:  # fmt: skip
    fd = aiohttp.FormData()
    fd.add_field("patient_id", patient)
    fd.add_field("document_type", doc)
    for key, value in extra.items():
        fd.add_field(key, value)
    fd.add_field("file", data, filename=name, content_type="application/octet-stream")
    return fd


async def upload(client: Client, data: bytes, **kw: Any) -> tuple[int, dict[str, Any]]:
    headers = kw.pop("headers", None)
    resp = await client.post("/api/tasks", data=form(data, **kw), headers=headers)
    return resp.status, await resp.json()


def assert_error(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_upload_runs_to_completion_and_the_result_is_served(client: Client) -> None:
    status, body = await upload(client, fake_png(b"hello ward"))
    assert status == 202
    task = body["task"]
    assert task["status"] == "queued" and task["patient_id"] == "P-100"
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task['id']}", since=0)
    events = await live.until_terminal(task["id"])
    assert events[-1]["event"] == "task.completed"
    resp = await client.get(f"/api/tasks/{task['id']}/result")
    result = await resp.json()
    assert resp.status == 200 and result["task_id"] == task["id"]
    (page,) = result["pages"]
    # The run that read it (the seq of its task.started) names its page images' folder.
    (started,) = [e for e in events if e["event"] == "task.started"]
    assert result["run"] == started["seq"]
    assert page["image_url"] == f"/api/tasks/{task['id']}/pages/1.png?run={result['run']}"
    assert page["lines"][0]["text"]
    listed = await (await client.get("/api/tasks?status=finished")).json()
    assert [t["id"] for t in listed["tasks"]] == [task["id"]]
    await live.close()


@pytest.mark.parametrize(
    ("data", "name", "code", "status"),
    [
        (b"GIF89a not a supported type", "a.png", "unsupported_type", 415),
        (b"%!PS-Adobe postscript", "a.pdf", "unsupported_type", 415),
        (b"", "a.png", "empty_file", 400),
    ],
)
async def test_bad_files_get_coded_errors(
    client: Client, data: bytes, name: str, code: str, status: int
) -> None:
    got, body = await upload(client, data, name=name)
    assert got == status
    assert_error(body, code)


async def test_too_large_upload_is_refused_and_the_server_keeps_serving(
    start_app: Any, make_settings: Any
) -> None:
    client = await start_app(make_settings(max_upload_mb=1))
    status, body = await upload(client, fake_png() + b"\0" * (2 * 2**20))
    assert status == 413
    assert_error(body, "file_too_large")
    status, _ = await upload(client, fake_png(b"small"))
    assert status == 202


@pytest.mark.parametrize(
    ("fields", "missing"),
    [({"patient": ""}, "patient_id"), ({"doc": "poem"}, "document_type")],
)
async def test_invalid_fields_are_named(
    client: Client, fields: dict[str, str], missing: str
) -> None:
    status, body = await upload(client, fake_png(), **fields)
    assert status == 400
    assert_error(body, "invalid_request")
    assert missing in body["error"]["message"]


async def test_idempotency_key_makes_retries_safe(client: Client) -> None:
    headers = {"Idempotency-Key": "upload-42"}
    first_status, first = await upload(client, fake_png(b"one"), headers=headers)
    again_status, again = await upload(client, fake_png(b"one"), headers=headers)
    assert (first_status, again_status) == (202, 200)
    assert again["task"]["id"] == first["task"]["id"]


async def test_unknown_task_and_not_ready_result(client: Client) -> None:
    resp = await client.get("/api/tasks/doesnotexist")
    assert resp.status == 404
    assert_error(await resp.json(), "not_found")
    _, body = await upload(client, fake_png(b"SLOW"))
    resp = await client.get(f"/api/tasks/{body['task']['id']}/result")
    assert resp.status == 409
    assert_error(await resp.json(), "not_ready")


async def test_requests_without_the_token_are_refused(client: Client) -> None:
    async with aiohttp.ClientSession() as anonymous:
        resp = await anonymous.get(client.make_url("/api/tasks"))
        assert resp.status == 401
        assert_error(await resp.json(), "unauthorized")
        bad = {"Authorization": "Bearer wrong"}
        assert (await anonymous.get(client.make_url("/api/tasks"), headers=bad)).status == 401
        assert (await anonymous.get(client.make_url("/api/health"))).status == 200


async def test_password_sign_in_sets_a_strict_http_only_session_cookie(client: Client) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        resp = await sign_in(browser, client)
        cookie = resp.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        assert (await browser.get(client.make_url("/api/tasks"))).status == 200
        wrong = await browser.post(
            client.make_url("/api/login"), json={"username": "admin", "password": "not it at all"}
        )
        assert wrong.status == 401
        assert_error(await wrong.json(), "invalid_credentials")


async def test_cancel_and_retry(client: Client) -> None:
    _, body = await upload(client, fake_png(b"SLOW"))
    task_id = body["task"]["id"]
    resp = await client.post(f"/api/tasks/{task_id}/cancel")
    assert resp.status == 200 and (await resp.json())["task"]["status"] == "cancelled"
    again = await client.post(f"/api/tasks/{task_id}/cancel")
    assert again.status == 409
    assert_error(await again.json(), "invalid_state")
    retried = await client.post(f"/api/tasks/{task_id}/retry")
    assert retried.status == 200 and (await retried.json())["task"]["status"] == "queued"


async def test_status_reports_workers_queue_and_versions(client: Client) -> None:
    body = await (await client.get("/api/status")).json()
    assert len(body["workers"]) == 1 and body["workers"][0]["pid"]
    assert [node["self"] for node in body["nodes"]] == [True]  # SQLite: this server alone
    assert body["queue_depth"] == 0
    assert body["versions"]["paddleocr"] != "not installed"
    assert body["connections"]["count"] == 0


async def test_a_refused_upload_never_removes_a_stored_document(client: Client) -> None:
    data = fake_png(b"SLOW shared content")
    status, _ = await upload(client, data)
    assert status == 202
    bad_status, _ = await upload(client, data, doc="poem")  # same bytes, invalid field
    assert bad_status == 400
    settings = client.server.app[SETTINGS]
    stored = [p for p in settings.files_dir.rglob("*.png")]
    assert len(stored) == 1 and stored[0].read_bytes() == data
    assert list((settings.files_dir / "incoming").iterdir()) == []
