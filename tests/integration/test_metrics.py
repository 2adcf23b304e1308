"""GET /metrics: Prometheus text from the real app after real work (fake engine), its
own token, the loopback rule, and a slow client's close counted."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, make_mocked_request
from prometheus_client.parser import text_string_to_metric_families
from tests.helpers.live import Live, fake_png

from ocrlive.errors import Forbidden, Unauthorized
from ocrlive.http.metrics import check_access
from ocrlive.keys import SETTINGS
from ocrlive.settings import Settings

Client = TestClient[Any, Any]


@pytest.fixture
def backend_url(each_backend_url: str) -> str:
    """The metrics of real work on SQLite and on PostgreSQL."""
    return each_backend_url


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def finish(client: Client, data: bytes) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("patient_id", "P-5")
    form.add_field("document_type", "other")
    form.add_field("file", data, filename="doc.png")
    task = (await (await client.post("/api/tasks", data=form)).json())["task"]
    for _ in range(400):
        task = (await (await client.get(f"/api/tasks/{task['id']}")).json())["task"]
        if task["status"] in ("completed", "failed"):
            return task  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise TimeoutError(task)


async def test_metrics_after_real_work(client: Client) -> None:
    assert (await finish(client, fake_png(b"good")))["status"] == "completed"
    assert (await finish(client, fake_png(b"CRASH")))["status"] == "failed"
    live = await Live.connect(client.session, str(client.make_url("/api/ws")))
    samples = await scrape(client)
    await live.close()
    assert value(samples, "ocrlive_tasks", status="completed") == 1
    assert value(samples, "ocrlive_tasks", status="failed") == 1
    assert value(samples, "ocrlive_tasks", status="queued") == 0
    assert value(samples, "ocrlive_queue_depth") == 0
    assert value(samples, "ocrlive_queue_wait_seconds_count") >= 2
    assert value(samples, "ocrlive_ocr_seconds_per_page_count") == 1
    assert value(samples, "ocrlive_pages_read_total") == 1
    assert value(samples, "ocrlive_pages_per_second") > 0
    assert value(samples, "ocrlive_worker_restarts_total", cause="crashed") == 2
    assert value(samples, "ocrlive_websocket_connections") == 1
    assert value(samples, "ocrlive_events_total", event="task.completed") == 1
    assert value(samples, "ocrlive_events_total", event="task.requeued") == 1
    assert value(samples, "ocrlive_events_per_second") > 0
    assert value(samples, "ocrlive_workers", executor="local") == 1
    assert ("ocrlive_executor_queue_depth", ()) in samples
    route = {"method": "GET", "route": "/api/tasks/{task_id}"}
    assert value(samples, "ocrlive_http_request_duration_seconds_count", **route) >= 2
    assert not [k for k in samples if "route" in dict(k[1]) and "/api/tasks/" in
                dict(k[1])["route"] and "{" not in dict(k[1])["route"]]  # fmt: skip


async def test_metrics_token(start_app: Any, make_settings: Any) -> None:
    client: Client = await start_app(make_settings(metrics_token="metrics-secret-1"))
    resp = await client.get("/metrics")  # the admin's API token is not the metrics token
    assert resp.status == 401 and (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.get("/metrics", headers={"Authorization": "Bearer metrics-secret-1"})
    assert resp.status == 200 and "ocrlive_tasks" in await resp.text()


REMOTES = [("127.0.0.1", {}, True), ("::1", {}, True), ("10.0.0.5", {}, False),
           ("192.168.1.9", {}, False), ("127.0.0.1", {"X-Forwarded-For": "10.0.0.5"}, False),
           ("127.0.0.1", {"Forwarded": "for=10.0.0.5"}, False)]  # fmt: skip


@pytest.mark.parametrize(("remote", "headers", "allowed"), REMOTES)
def test_without_a_token_only_the_loopback(
    settings: Settings, remote: str, headers: dict[str, str], allowed: bool
) -> None:
    """A request relayed by a reverse proxy on the same host is not the loopback's."""
    app = mock.MagicMock()
    app.__getitem__.side_effect = lambda key: settings if key is SETTINGS else None
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (remote, 4000) if name == "peername" else default
    )
    request = make_mocked_request("GET", "/metrics", app=app, transport=transport, headers=headers)
    if allowed:
        check_access(request)
    else:
        with pytest.raises(Forbidden):
            check_access(request)


def test_a_wrong_metrics_token_is_refused(make_settings: Any) -> None:
    settings = make_settings(metrics_token="right")
    app = mock.MagicMock()
    app.__getitem__.side_effect = lambda key: settings if key is SETTINGS else None
    request = make_mocked_request("GET", "/metrics", app=app,
                                  headers={"Authorization": "Bearer wrong"})  # fmt: skip
    with pytest.raises(Unauthorized):
        check_access(request)
