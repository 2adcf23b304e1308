"""A fresh install as an outside client finds it, against `ocrlive serve` with the real
engine: the first-run link, people and tokens made with the CLI while the server runs,
a clerk uploads, a clinician reads, a clinician's upload is refused, an auditor sees
both reads with patient ids and addresses, and disabling a person closes their socket."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import aiohttp
import pytest
from tests.helpers.drawing import draw_caution_card
from tests.helpers.live import Live
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine
PASSWORD = "a long ward password"


def first_run_link(server: ServerProcess, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"(http://\S+/login\?link=\S+)", server.log())
        if found:
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError(f"no first-run link printed: {server.log()}")


def png() -> bytes:
    buf = io.BytesIO()
    draw_caution_card().save(buf, format="PNG")
    return buf.getvalue()


def upload_form() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("patient_id", "P-CLI-1")
    form.add_field("document_type", "caution_card")
    form.add_field("file", png(), filename="card.png")
    return form


async def test_fresh_install_people_tokens_and_the_audit_trail(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", OCRLIVE_WORKERS="1")
    server.start(provision=False)
    try:
        link = first_run_link(server)
        origin = {"Origin": server.url}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as admin:
            first = await admin.get(link, allow_redirects=False)
            assert first.status == 302
            resp = await admin.put(f"{server.url}/api/me/password", headers=origin,
                                   json={"password": PASSWORD})  # fmt: skip
            assert resp.status == 200
            again = await admin.get(link, allow_redirects=False)
            assert again.headers["Location"] == "/?link=invalid"  # single use
        clerk = server.add_person("clerk1", "clerk")
        clinician = server.add_person("doc1", "clinician")
        auditor = server.add_person("audit1", "auditor")
        assert "clerk1" in server.cli("users", "list") and "audit1" in server.cli("users", "list")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {clerk}"}) as c:
            live = await Live.connect(c, f"{server.url}/api/ws")
            await live.subscribe("tasks")
            async with c.post(f"{server.url}/api/tasks", data=upload_form()) as up:
                assert up.status == 202
                task_id = (await up.json())["task"]["id"]
            await live.until_terminal(task_id, timeout=180)
            assert (await c.get(f"{server.url}/api/tasks/{task_id}/result")).status == 200
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {clinician}"}) as d:
            assert (await d.get(f"{server.url}/api/tasks/{task_id}/result")).status == 200
            refused = await d.post(f"{server.url}/api/tasks", data=upload_form())
            assert refused.status == 403 and (await refused.json())["error"]["code"] == "forbidden"
            live = await Live.connect(d, f"{server.url}/api/ws")
            server.cli("users", "disable", "doc1")  # another process: the sweep closes it
            closed = await live.ws.receive(timeout=15)
            assert closed.data == 4001
            assert (await d.get(f"{server.url}/api/tasks")).status == 401
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {auditor}"}) as a:
            url = f"{server.url}/api/audit?action=result.read&patient_id=P-CLI-1"
            entries = (await (await a.get(url)).json())["entries"]
            assert sorted(e["username"] for e in entries) == ["clerk1", "doc1"]
            assert {e["address"] for e in entries} == {"127.0.0.1"}
            assert (await a.get(f"{server.url}/api/tasks")).status == 403
        token_id = server.cli("tokens", "list", "--user", "clerk1").split()[0]
        server.cli("tokens", "revoke", token_id)
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {clerk}"}) as c:
            assert (await c.get(f"{server.url}/api/tasks")).status == 401
        assert "intact" in server.cli("audit", "verify")
    finally:
        server.stop()
