"""Audit completeness: every route whose answer carries a patient's data writes exactly
one audit row naming the person, the task, the patient and the address; a route that
returns patient data without one fails here (the routes are enumerated from the app,
not from a list). Also: subscriptions, sign-in events, people changes, the task purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.db import query
from tests.helpers.live import Live, fake_png
from tests.helpers.people import sign_in, token_for
from tests.integration.test_api import form, upload
from tests.integration.test_roles import World, concrete, declared_routes

from ocrlive.keys import SETTINGS, STORE
from ocrlive.store.audit import COLUMNS
from ocrlive.tasks.retention import run_retention

Client = TestClient[Any, Any]
PATIENT = "P-AUDIT-77"


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return each_backend_url


def rows(client: Client, after: int = 0) -> list[dict[str, Any]]:
    sql = f"SELECT {COLUMNS} FROM audit_log WHERE id > ? ORDER BY id"
    found = query(client.server.app[SETTINGS].database, sql, (after,))
    return [dict(zip(COLUMNS.split(", "), row, strict=True)) for row in found]


def last_id(client: Client) -> int:
    found = rows(client)
    return found[-1]["id"] if found else 0


async def completed_task(client: Client) -> str:
    _, body = await upload(client, fake_png(b"audit me"), patient=PATIENT)
    task_id: str = body["task"]["id"]
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task_id}", since=0)
    await live.until_terminal(task_id)
    await live.close()
    # The fake engine renders no page image; the real one writes it here.
    folder = client.server.app[SETTINGS].pages_dir / task_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page-1.png").write_bytes(fake_png())
    return task_id


async def test_every_route_that_returns_patient_data_writes_exactly_one_row(client: Client) -> None:
    task_id = await completed_task(client)
    world = World(client, {}, task_id, PATIENT)
    checked = []
    for method, path in declared_routes(client):
        if method != "GET" or path.startswith(("/api/ws", "/login")):
            continue
        before = last_id(client)
        resp = await client.get(concrete(path, world), allow_redirects=False)
        body = await resp.read()
        added = rows(client, before)
        # About this patient's task (its id, the patient's, or its page image).
        about = PATIENT.encode() in body or task_id.encode() in body
        if about or (resp.status == 200 and path.endswith(".png")):
            checked.append(path)
            assert len(added) == 1, f"{path}: {len(added)} audit rows for patient data"
            assert added[0]["username"] == "admin" and added[0]["address"] == "127.0.0.1"
            assert added[0]["outcome"] == "ok", path
    assert {"/api/tasks", "/api/tasks/{task_id}", "/api/tasks/{task_id}/result",
            r"/api/tasks/{task_id}/pages/{number}.png", "/api/audit"} <= set(checked)  # fmt: skip


async def test_rows_name_the_task_patient_role_and_action(client: Client) -> None:
    task_id = await completed_task(client)
    before = last_id(client)
    await client.get(f"/api/tasks/{task_id}/result")
    await client.get(f"/api/tasks/{task_id}/pages/1.png")
    (result, page) = rows(client, before)
    assert (result["action"], result["task_id"], result["patient_id"], result["role"]) == (
        "result.read", task_id, PATIENT, "admin")  # fmt: skip
    assert page["action"] == "page.read" and page["patient_id"] == PATIENT


async def test_upload_cancel_retry_and_subscribe_are_recorded(client: Client) -> None:
    before = last_id(client)
    _status, body = await upload(client, fake_png(b"SLOW"), patient=PATIENT)
    task_id = body["task"]["id"]
    await client.post(f"/api/tasks/{task_id}/cancel")
    await client.post(f"/api/tasks/{task_id}/retry")
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task_id}")
    await live.subscribe("tasks")
    await live.close()
    actions = [(r["action"], r["patient_id"]) for r in rows(client, before)]
    assert actions == [("task.upload", PATIENT), ("task.cancel", PATIENT), ("task.retry", PATIENT),
                       ("topic.subscribe", PATIENT), ("topic.subscribe", None)]  # fmt: skip


async def test_sign_in_events_and_people_changes_are_recorded(client: Client) -> None:
    await token_for(client.server.app[SETTINGS], "nurse", "clinician")
    before = last_id(client)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        bad = await browser.post(
            client.make_url("/api/login"),
            json={"username": "nurse", "password": "wrong guess here"},
        )
        assert bad.status == 401
        await sign_in(browser, client, "nurse")
        origin = {"Origin": f"http://{client.host}:{client.port}"}
        assert (await browser.post(client.make_url("/api/logout"), headers=origin)).status == 200
    await client.patch("/api/users/nurse", json={"role": "clerk"})
    await client.patch("/api/users/nurse", json={"disabled": True})
    found = rows(client, before)
    assert [(r["action"], r["outcome"]) for r in found] == [
        ("login.failed", "denied"), ("login", "ok"), ("logout", "ok"),
        ("user.role", "ok"), ("user.disable", "ok"),
    ]  # fmt: skip
    assert found[0]["username"] == "nurse" and found[3]["detail"] == "nurse: clinician -> clerk"


async def test_a_forbidden_call_is_recorded_as_denied(client: Client) -> None:
    token = await token_for(client.server.app[SETTINGS], "doc", "clinician")
    before = last_id(client)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as doc:
        resp = await doc.post(client.make_url("/api/tasks"), data=form(fake_png(b"x")))
        assert resp.status == 403
    (row,) = rows(client, before)
    assert (row["action"], row["outcome"], row["username"]) == ("access.denied", "forbidden", "doc")


async def test_the_task_purge_never_touches_the_audit_log(client: Client) -> None:
    await completed_task(client)
    kept = rows(client)
    await run_retention(client.server.app[STORE].log, client.server.app[SETTINGS].pages_dir,
                        retention=timedelta(0), compact_after=timedelta(0))  # fmt: skip
    assert (await (await client.get("/api/tasks")).json())["tasks"] == []
    assert rows(client)[: len(kept)] == kept


async def test_audit_csv_export_of_a_date_range(client: Client) -> None:
    await completed_task(client)
    resp = await client.get("/api/audit/export.csv?from=2000-01-01&to=2999-01-01")
    assert resp.status == 200 and resp.content_type == "text/csv"
    text = await resp.text()
    assert text.splitlines()[0].startswith("id,at,user_id,username,role,action")
    assert PATIENT in text
    missing = await client.get("/api/audit/export.csv")
    assert missing.status == 400
    listed = await (await client.get(f"/api/audit?patient_id={PATIENT}&action=task.upload")).json()
    assert [e["action"] for e in listed["entries"]] == ["task.upload"]
