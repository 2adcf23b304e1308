"""Hostile and malformed input against the real `ocrlive serve` process (real engine,
one worker): every answer is a 4xx with a code, never a 500; nothing reaches the log as
a traceback; the server keeps serving. Issue #12, items 4, 5, 9 and 10."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from tests.conftest import TOKEN
from tests.helpers import rawhttp
from tests.helpers.drawing import label_png
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

AUTH = {"Authorization": f"Bearer {TOKEN}"}
BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def server(real_server: Callable[..., ServerProcess]) -> ServerProcess:
    return real_server(OCRLIVE_BODY_TIMEOUT=str(BODY_TIMEOUT))


def form(data: bytes, *, patient: str = "P-1", name: str = "scan.png") -> aiohttp.FormData:
    fd = aiohttp.FormData()
    fd.add_field("patient_id", patient)
    fd.add_field("document_type", "lab_report")
    fd.add_field("file", data, filename=name, content_type="image/png")
    return fd


async def post(server: ServerProcess, fd: aiohttp.FormData, **headers: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.post(f"{server.url}/api/tasks", data=fd, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


def assert_code(response: rawhttp.RawResponse, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.json()["error"]["code"] == code


def upload_head(body: bytes, content_type: bytes) -> bytes:
    return rawhttp.post_head(b"/api/tasks", TOKEN.encode(), body, content_type)


def assert_clean_log(server: ServerProcess) -> None:
    log = server.full_log()
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]


def test_credentials_that_are_not_utf8_are_refused_not_crashed(server: ServerProcess) -> None:
    for header in (b"Authorization: Bearer \xff\xfe\xfa", b"Cookie: ocrlive_session=\xff\xc3("):
        head = b"GET /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header
        assert_code(rawhttp.request(server.port, head), 401, "unauthorized")
    assert_clean_log(server)


def test_a_limit_in_non_ascii_digits_is_a_400(server: ServerProcess) -> None:
    for limit in (b"%C2%B2", b"%D9%A3", b"99999999999999999999"):  # superscript 2, Arabic 3
        head = b"GET /api/tasks?limit=" + limit + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        assert_code(rawhttp.request(server.port, head + TOKEN.encode()), 400, "invalid_request")


@pytest.mark.parametrize(
    "content_type,body",
    [
        (b"multipart/form-data", rawhttp.multipart([(b'Content-Disposition: form-data', b"1")])),
        (
            b"multipart/form-data; boundary=b0undary",
            rawhttp.multipart([(b'Content-Disposition: form-data; name="patient_id"\r\n'
                                b"Content-Type: text/plain; charset=no-such-charset", b"P-1")]),
        ),
        (
            b"multipart/form-data; boundary=b0undary",
            b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
            b"\x89PNG\r\n\x1a\n unterminated",
        ),
        (b"multipart/form-data; boundary=b0undary", b"not multipart at all"),
        (
            b"multipart/form-data; boundary=b0undary",
            rawhttp.multipart([(b'Content-Disposition: form-data; name="patient_id"\r\n'
                                b"Content-Type: text/plain; charset=utf-8", b"P-\xff\xfe")]),
        ),
    ],
    ids=["no-boundary", "bad-charset", "unterminated", "garbage", "bad-utf8"],
)  # fmt: skip
def test_malformed_multipart_is_a_400(
    server: ServerProcess, content_type: bytes, body: bytes
) -> None:
    response = rawhttp.request(server.port, upload_head(body, content_type), body)
    assert_code(response, 400, "invalid_request")
    assert_clean_log(server)


def test_a_text_field_over_its_limit_is_a_413_that_names_it(server: ServerProcess) -> None:
    body = rawhttp.multipart([(b'Content-Disposition: form-data; name="patient_id"', b"P" * 5000)])
    response = rawhttp.request(
        server.port, upload_head(body, b"multipart/form-data; boundary=b0undary"), body
    )
    assert_code(response, 413, "field_too_large")
    assert "patient_id" in response.json()["error"]["message"]


def test_a_request_aiohttp_cannot_parse_is_a_json_400(server: ServerProcess) -> None:
    head = upload_head(b"", b"multipart/form-data; boundary=b").replace(
        b"Content-Length: 0", b"Transfer-Encoding: chunked"
    )
    response = rawhttp.request(server.port, head, b"zz\r\nabc\r\n0\r\n\r\n")
    assert_code(response, 400, "invalid_request")
    assert_clean_log(server)


def test_a_client_that_disconnects_mid_upload_is_logged_at_info(server: ServerProcess) -> None:
    part = b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG\r\n\x1a\n'
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        head = upload_head(b"x" * 100_000, b"multipart/form-data; boundary=b0undary")
        sock.sendall(head + b"\r\n\r\n--b0undary\r\n" + part + b"x" * 5000)
        time.sleep(0.3)
    deadline = time.monotonic() + 10
    while "disconnected during POST /api/tasks" not in server.full_log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    assert " INFO ocrlive.http.middlewares: client 127.0.0.1 disconnected" in server.full_log()
    assert_clean_log(server)
    assert not list((server.data_dir / "files" / "incoming").iterdir())  # no half file kept


def test_a_stalled_body_is_answered_408_and_closed(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        head = upload_head(b"x" * 100_000, b"multipart/form-data; boundary=b0undary")
        sock.sendall(head + b"\r\n\r\n--b0undary\r\nContent-Disposition: form-data; name=")
        started = time.monotonic()
        response = rawhttp.read_response(sock)
        waited = time.monotonic() - started
        assert sock.recv(1) == b""  # and the connection is closed, not left open
    assert_code(response, 408, "request_timeout")
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 10


async def test_an_idempotency_key_reused_for_another_document_is_a_409(
    server: ServerProcess,
) -> None:
    first, second = label_png("idempotency one"), label_png("idempotency two")
    status, body = await post(server, form(first), **{"Idempotency-Key": "k-1"})
    assert status == 202
    status, again = await post(server, form(first), **{"Idempotency-Key": "k-1"})
    assert status == 200 and again["task"]["id"] == body["task"]["id"]
    for fd in (form(second), form(first, patient="P-2")):
        status, conflict = await post(server, fd, **{"Idempotency-Key": "k-1"})
        assert status == 409 and conflict["error"]["code"] == "idempotency_conflict"


def upload_named(server: ServerProcess, disposition: bytes, data: bytes) -> Any:
    body = rawhttp.multipart([
        (b'Content-Disposition: form-data; name="patient_id"', b"P-1"),
        (b'Content-Disposition: form-data; name="document_type"', b"other"),
        (b'Content-Disposition: form-data; name="file"; ' + disposition, data),
    ])  # fmt: skip
    head = upload_head(body, b"multipart/form-data; boundary=b0undary")
    response = rawhttp.request(server.port, head, body)
    assert response.status == 202, response.body
    return response.json()["task"]


def test_filenames_keep_no_control_or_bidi_characters(server: ServerProcess) -> None:
    # inv<RLO>oice<BEL><ZWSP><LRI>fdp.<PDI>exe<CR><LF>.png, percent-encoded (RFC 5987)
    name = quote("inv\u202eoice\u0007\u200b\u2066fdp.\u2069exe\r\n.png")
    task = upload_named(server, b"filename*=UTF-8''" + name.encode(), label_png("bidi name"))
    assert task["filename"] == "invoicefdp.exe.png"
    raw = "Zeugnis \u202ebild.png".encode()  # raw UTF-8 in filename="..."
    task = upload_named(server, b'filename="' + raw + b'"', label_png("raw name"))
    assert task["filename"] == "Zeugnis bild.png"
    task = upload_named(server, b'filename="C:\\\\Users\\\\x\\\\scan.png"', label_png("path name"))
    assert task["filename"] == "scan.png"


async def test_task_errors_name_no_server_path(server: ServerProcess) -> None:
    broken = b"\x89PNG\r\n\x1a\n" + b"\0" * 200  # a PNG header and nothing readable
    status, body = await post(server, form(broken))
    assert status == 202
    task = await wait_finished(server, body["task"]["id"])
    assert task["error"]["code"] == "unreadable_document"
    assert str(server.data_dir) not in task["error"]["message"]
    assert "/files/" not in task["error"]["message"], task["error"]


async def wait_finished(server: ServerProcess, task_id: str, timeout: float = 120) -> Any:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with asyncio.timeout(timeout):
            while True:
                async with session.get(f"{server.url}/api/tasks/{task_id}") as resp:
                    task = (await resp.json())["task"]
                if task["status"] not in ("queued", "processing"):
                    return task
                await asyncio.sleep(0.2)


async def test_deeply_nested_json_on_the_socket_keeps_it_open(server: ServerProcess) -> None:
    nested = "[" * 30000 + "]" * 30000  # under the 64 KiB frame limit
    async with aiohttp.ClientSession(headers=AUTH) as session:
        ws = await session.ws_connect(f"{server.url}/api/ws")
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        await ws.send_str(nested)
        reply = await ws.receive_json(timeout=10)
        assert reply["ok"] is False and reply["error"]["code"] == "invalid_json"
        await ws.send_str(json.dumps({"id": 1, "type": "ping"}))
        assert (await ws.receive_json(timeout=10))["pong"] is True
        await ws.close()
    assert_clean_log(server)


async def test_an_unauthenticated_socket_is_listed_and_closed_at_its_deadline(
    server: ServerProcess,
) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{server.url}/api/ws", autoping=True, heartbeat=1.0)
        assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
        started = time.monotonic()
        pending = server.status()["connections"]["unauthenticated"]
        assert len(pending) == 1 and pending[0]["address"] == "127.0.0.1"

        async def keep_pinging() -> None:  # a client that answers and sends pings
            while not ws.closed:
                await ws.ping()
                await asyncio.sleep(1.0)

        pinger = asyncio.create_task(keep_pinging())
        msg = await ws.receive(timeout=20)
        pinger.cancel()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4002
        assert time.monotonic() - started < 12.5
    assert server.status()["connections"]["unauthenticated"] == []


async def test_nested_json_as_the_auth_message_counts_as_a_failed_attempt(
    real_server: Callable[..., ServerProcess],
) -> None:
    server = real_server()  # its own address budget: ten failures lock the address out
    nested = '{"type": "auth", "token": ' + "[" * 30000 + "]" * 30000 + "}"
    async with aiohttp.ClientSession() as session:
        for _ in range(10):
            ws = await session.ws_connect(f"{server.url}/api/ws")
            assert (await ws.receive_json(timeout=10))["type"] == "auth_required"
            await ws.send_str(nested)
            await ws.receive(timeout=10)
            assert ws.close_code == 4001
        # Ten failures counted: the next wrong credential from this address is refused.
        wrong = {"Authorization": "Bearer not-the-token-0123456789"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{server.url}/api/ws", headers=wrong)
        assert refused.value.status == 429
    assert_clean_log(server)
