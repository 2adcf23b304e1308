"""The records API on the real app (fake engine): search paging and validation, the patient
view, the review queue, line edits with their errors, re-runs, exports, a purge."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.live import Live, fake_png
from tests.integration.test_api import assert_error, upload

from ocrlive.keys import STORE

Client = TestClient[Any, Any]


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """Every test here runs on SQLite and on PostgreSQL."""
    return each_backend_url


async def finished(client: Client, text: bytes, **kw: Any) -> dict[str, Any]:
    _, body = await upload(client, fake_png(text), **kw)
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{body['task']['id']}", since=0)
    events = await live.until_terminal(body["task"]["id"])
    await live.close()
    assert events[-1]["event"] == "task.completed"
    task: dict[str, Any] = events[-1]["task"]
    return task


async def get(client: Client, path: str, **params: Any) -> tuple[int, Any]:
    resp = await client.get(path, params=params)
    return resp.status, await resp.json()


async def test_search_pages_through_hits_and_refuses_bad_parameters(client: Client) -> None:
    tasks = [await finished(client, b"glucose fasting %d" % n, patient="P-9") for n in range(3)]
    status, first = await get(client, "/api/search", q="glucose", limit=2)
    assert status == 200 and first["total"] == 3 and first["total_exact"] is True
    _, second = await get(client, "/api/search", q="glucose", limit=2, offset=2)
    found = [h["task"]["id"] for h in first["hits"] + second["hits"]]
    assert sorted(found) == sorted(t["id"] for t in tasks)
    hit = first["hits"][0]
    assert hit["page"] == 1 and hit["task"]["patient_id"] == "P-9" and hit["score"] >= 0
    for params in ({"q": ""}, {"q": "x", "status": "lost"}, {"q": "x", "from": "yesterday"},
                   {"q": "x", "document_type": "poem"}, {"q": "x", "limit": "0"}):  # fmt: skip
        status, body = await get(client, "/api/search", **params)
        assert status == 400, params
        assert_error(body, "invalid_request")


async def test_patient_view_and_review_queue(client: Client) -> None:
    old = await finished(client, b"first letter", patient="P-77")
    new = await finished(client, b"second letter", patient="P-77")
    _, view = await get(client, "/api/patients/P-77/documents")
    assert [d["task"]["id"] for d in view["documents"]] == [new["id"], old["id"]]
    assert view["documents"][0]["first_lines"] == ["second letter"] and view["total"] == 2
    _, queue = await get(client, "/api/review")
    assert queue["documents"] == [] and queue["threshold"] == 0.8  # the fake reads at 0.99


async def test_line_edits_over_http_with_their_errors(client: Client) -> None:
    task = await finished(client, b"sodium 140")
    base = f"/api/tasks/{task['id']}/pages/1/lines"
    resp = await client.post(f"{base}/0", json={"action": "correct", "text": "sodium 141"})
    edited = await resp.json()
    assert resp.status == 200 and edited["revision"] == 2 and edited["task"]["id"] == task["id"]
    assert edited["line"]["ocr_text"] == "sodium 140" and edited["line"]["reviewed"] == "corrected"
    _, result = await get(client, f"/api/tasks/{task['id']}/result")
    assert result["revision"] == 2 and result["text"] == "sodium 141"
    cases = [
        (f"{base}/0", {"action": "confirm", "revision": 1}, 409, "revision_conflict"),
        (f"{base}/3", {"action": "confirm"}, 404, "not_found"),
        (f"{base}/0", {"action": "erase"}, 400, "invalid_request"),
        (f"{base}/0", {"action": "correct", "text": 5}, 400, "invalid_request"),
        ("/api/tasks/nope/pages/1/lines/0", {"action": "confirm"}, 404, "not_found"),
    ]
    for path, body, status, code in cases:
        resp = await client.post(path, json=body)
        assert resp.status == status, (body, await resp.text())
        assert_error(await resp.json(), code)
    resp = await client.post(f"{base}/0", data=b"not json")
    assert resp.status == 400
    _, past = await get(client, f"/api/tasks/{task['id']}/revisions")
    assert [e["text_after"] for e in past["edits"]] == ["sodium 141"] and past["revision"] == 2


async def test_a_rerun_keeps_the_text_readable_and_adds_a_revision(client: Client) -> None:
    task = await finished(client, b"potassium 4.1")
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    await live.subscribe(f"task:{task['id']}", since=task["version"])
    resp = await client.post(f"/api/tasks/{task['id']}/rerun")
    assert resp.status == 200 and (await resp.json())["task"]["status"] == "queued"
    events = await live.until_terminal(task["id"])
    assert events[0]["event"] == "task.requeued" and events[-1]["event"] == "task.completed"
    _, result = await get(client, f"/api/tasks/{task['id']}/result")
    assert result["revision"] == 2
    _, past = await get(client, f"/api/tasks/{task['id']}/revisions")
    assert [r["revision"] for r in past["replaced"]] == [1]
    status, old = await get(client, f"/api/tasks/{task['id']}/revisions/1")
    assert status == 200 and old["text"] == "potassium 4.1"
    status, _ = await get(client, f"/api/tasks/{task['id']}/revisions/7")
    assert status == 404
    resp = await client.post(f"/api/tasks/{task['id']}/rerun")  # completed again: allowed
    assert resp.status == 200
    await live.close()


async def test_exports_of_one_document_and_of_a_selection(client: Client) -> None:
    one = await finished(client, b"urea 5.0", patient="P-1", name="a.png")
    two = await finished(client, b"urea 6.2", patient="P-2", name="b.png")
    resp = await client.get(f"/api/tasks/{one['id']}/export.txt")
    assert resp.status == 200 and (await resp.text()).strip() == "urea 5.0"
    resp = await client.get(f"/api/tasks/{one['id']}/export.json")
    body = json.loads(await resp.read())
    assert body["pages"][0]["lines"][0]["box"] and body["revision"] == 1
    resp = await client.get(f"/api/tasks/{one['id']}/export.pdf")
    assert resp.status == 200 and (await resp.read()).startswith(b"%PDF")
    resp = await client.post(
        "/api/exports", json={"task_ids": [one["id"], two["id"]], "format": "json"}
    )
    archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    assert sorted(archive.namelist()) == ["P-1_a.json", "P-2_b.json"]
    for body, code in (({"task_ids": []}, 400), ({"task_ids": [one["id"]], "format": "doc"}, 400),
                       ({"task_ids": ["missing"]}, 404)):  # fmt: skip
        resp = await client.post("/api/exports", json=body)
        assert resp.status == code, body


async def test_a_purge_takes_the_document_out_of_search(client: Client) -> None:
    task = await finished(client, b"troponin negative")
    assert (await get(client, "/api/search", q="troponin"))[1]["total"] == 1
    await client.app[STORE].log.purge("9999-12-31")
    _, found = await get(client, "/api/search", q="troponin")
    assert found["hits"] == [] and found["total"] == 0
    status, _ = await get(client, f"/api/tasks/{task['id']}/result")
    assert status == 404
