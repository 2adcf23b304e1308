"""The attacks of scripts/chaos.py: each returns a one-line note and records findings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
from tests.helpers import rawhttp
from tests.helpers.api import get_task, upload, wait_finished, wait_status
from tests.helpers.disk import fill
from tests.helpers.drawing import draw_page, label_png, sample_lines

from chaoslib.context import Context

Attack = Callable[[Context], Awaitable[str]]
MP = b"multipart/form-data; boundary=b0undary"
FILE_PART = b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
CUT_SHORT = FILE_PART + b"\r\n\r\n\x89PNG\r\n\x1a\n"  # no closing boundary


def _post(ctx: Context, body: bytes, content_type: bytes = MP) -> rawhttp.RawResponse:
    head = rawhttp.post_head(b"/api/tasks", ctx.token.encode(), body, content_type)
    return rawhttp.request(ctx.port, head, body)


def _field(name: bytes, value: bytes, extra: bytes = b"") -> tuple[bytes, bytes]:
    return b'Content-Disposition: form-data; name="' + name + b'"' + extra, value


def _malformed(ctx: Context) -> None:
    get = b"GET /api/tasks HTTP/1.1\r\nHost: x\r\n"
    for header in (b"Authorization: Bearer \xff\xfe", b"Cookie: ocrlive_session=\xc3("):
        response = rawhttp.request(ctx.port, get + header)
        ctx.answered("non-UTF-8 credentials", response.status, response.body)
        if response.status not in (401, 429):  # 429: this address failed too often
            ctx.finding(f"non-UTF-8 credentials: {response.status} {response.body[:160]!r}")
    for limit in (b"%C2%B2", b"%D9%A3"):
        head = b"GET /api/tasks?limit=" + limit + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        ctx.expect("odd digits", rawhttp.request(ctx.port, head + ctx.token.encode()), 400,
                   "invalid_request")  # fmt: skip
    charset = rawhttp.multipart(
        [_field(b"patient_id", b"P", b"\r\nContent-Type: text/plain; charset=x")]
    )
    cases = [
        (rawhttp.multipart([_field(b"a", b"1")]), b"multipart/form-data", 400, "invalid_request"),
        (charset, MP, 400, "invalid_request"),
        (CUT_SHORT, MP, 400, "invalid_request"),
        (rawhttp.multipart([_field(b"patient_id", b"P" * 9000)]), MP, 413, "field_too_large"),
    ]  # fmt: skip
    for body, content_type, status, code in cases:
        ctx.expect(f"multipart {code}", _post(ctx, body, content_type), status, code)
    chunked = rawhttp.post_head(b"/api/tasks", ctx.token.encode(), b"", MP)
    chunked = chunked.replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    ctx.expect("bad chunking", rawhttp.request(ctx.port, chunked, b"zz\r\n\r\n"), 400,
               "invalid_request")  # fmt: skip


async def malformed_http(ctx: Context) -> str:
    await asyncio.to_thread(_malformed, ctx)
    return "credentials, digits, multipart, fields, chunking"


def _random_request(rng: random.Random, token: bytes) -> bytes:
    method = rng.choice([b"GET", b"POST", b"DELETE", b"PUT"])
    path = rng.choice([b"/api/tasks", b"/api/tasks/x", b"/api/status", b"/api/tasks/x/result",
                       b"/api/tasks/x/retry", b"/"])  # fmt: skip
    query = b"?" + bytes(rng.randrange(33, 256) for _ in range(rng.randrange(0, 12)))
    headers = [b"Host: h", b"Authorization: Bearer " + token]
    for _ in range(rng.randrange(0, 4)):
        name = rng.choice([b"Cookie", b"Origin", b"Idempotency-Key", b"Content-Type", b"X-A"])
        value = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 40)))
        headers.append(name + b": " + value.replace(b"\r", b"").replace(b"\n", b""))
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    headers.append(b"Content-Length: " + str(len(body)).encode())
    return method + b" " + path + quote(query, safe="?=&/").encode() + b" HTTP/1.1\r\n" + \
        b"\r\n".join(headers) + b"\r\n\r\n" + body  # fmt: skip


def _random_requests(ctx: Context, count: int) -> None:
    rng = random.Random(ctx.seq)
    for _ in range(count):
        raw = _random_request(rng, ctx.token.encode())
        head, _, body = raw.partition(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode("latin-1")  # the page shell answers in text
        try:
            response = rawhttp.request(ctx.port, head, body, timeout=10)
        except (ConnectionError, TimeoutError):
            continue
        ctx.answered("random request", response.status, response.body, path)


async def random_requests(ctx: Context) -> str:
    await asyncio.to_thread(_random_requests, ctx, 300)
    return "300 random requests"


def _stall(ctx: Context) -> float:
    with socket.create_connection(("127.0.0.1", ctx.port), timeout=30) as sock:
        sock.sendall(rawhttp.post_head(b"/api/tasks", ctx.token.encode(), b"x" * 9999, MP)
                     + b"\r\n\r\n--b0undary\r\n")  # fmt: skip
        started = time.monotonic()
        ctx.expect("stalled body", rawhttp.read_response(sock), 408, "request_timeout")
        return time.monotonic() - started


async def stalled_body(ctx: Context) -> str:
    return f"answered after {await asyncio.to_thread(_stall, ctx):.1f}s"


def _vanish(ctx: Context) -> None:
    head = rawhttp.post_head(b"/api/tasks", ctx.token.encode(), b"x" * 99999, MP)
    with socket.create_connection(("127.0.0.1", ctx.port)) as sock:
        sock.sendall(head + b"\r\n\r\n" + CUT_SHORT)
        time.sleep(0.2)


async def vanishing_client(ctx: Context) -> str:
    await asyncio.to_thread(_vanish, ctx)
    return "closed mid-upload"


async def unauthenticated_socket(ctx: Context) -> str:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{ctx.url}/api/ws", heartbeat=1.0)
        await ws.receive_json(timeout=10)
        started = time.monotonic()
        if not ctx.server.status()["connections"]["unauthenticated"]:
            ctx.finding("a socket waiting for auth is not listed in /api/status")
        while not ws.closed and time.monotonic() - started < 30:
            await ws.ping()
            with contextlib.suppress(TimeoutError):
                await ws.receive(timeout=1.0)
        lasted = time.monotonic() - started
    if ws.close_code != 4002 or lasted > 12:
        ctx.finding(f"unauthenticated socket: closed {ws.close_code} after {lasted:.1f}s")
    return f"closed {ws.close_code} after {lasted:.1f}s"


async def nested_json(ctx: Context) -> str:
    nested = "[" * 30000 + "]" * 30000
    async with ctx.session() as session:
        ws = await session.ws_connect(f"{ctx.url}/api/ws")
        await ws.receive_json(timeout=10)
        await ws.send_str(nested)
        reply = await ws.receive_json(timeout=10)
        await ws.send_str(json.dumps({"id": 1, "type": "ping"}))
        pong = await ws.receive_json(timeout=10)
        await ws.close()
    if reply.get("error", {}).get("code") != "invalid_json" or not pong.get("pong"):
        ctx.finding(f"nested JSON: {reply} then {pong}")
    return "answered invalid_json; socket kept"


async def hostile_names(ctx: Context) -> str:
    name = "scan\u202egnp.exe\u0007.png"
    body = rawhttp.multipart([
        _field(b"patient_id", b"P-1"), _field(b"document_type", b"other"),
        _field(b"file", label_png(ctx.next_text("name")),
               b"; filename*=UTF-8''" + quote(name).encode()),
    ])  # fmt: skip
    response = await asyncio.to_thread(_post, ctx, body)
    ctx.answered("hostile filename", response.status, response.body)
    task = response.json()["task"]
    ctx.accept(task)
    if task["filename"] != "scangnp.exe.png":
        ctx.finding(f"filename shown as {task['filename']!r}")
    async with ctx.session() as session:
        headers = {"Idempotency-Key": ctx.next_text("key")}
        fd_one, fd_two = label_png(ctx.next_text("idem")), label_png(ctx.next_text("idem"))
        status, first = await _upload_keyed(session, ctx, fd_one, headers)
        ctx.accept(first["task"])
        status, second = await _upload_keyed(session, ctx, fd_two, headers)
    if status != 409:
        ctx.finding(f"reused Idempotency-Key with another file: {status} {second}")
    return "bidi/control name cleaned; key reuse 409"


async def _upload_keyed(
    session: aiohttp.ClientSession, ctx: Context, data: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, object]]:
    fd = aiohttp.FormData()
    fd.add_field("patient_id", "P-1")
    fd.add_field("document_type", "other")
    fd.add_field("file", data, filename="a.png")
    async with session.post(f"{ctx.url}/api/tasks", data=fd, headers=headers) as resp:
        return resp.status, await resp.json()


async def queue_burst(ctx: Context) -> str:
    data = label_png(ctx.next_text("burst"))
    async with ctx.session(connector=aiohttp.TCPConnector(limit=0)) as session:
        answers = await asyncio.gather(*(upload(session, ctx.url, data) for _ in range(150)))
    for status, body in answers:
        ctx.answered("burst upload", status, json.dumps(body).encode())
        if status == 202:
            ctx.accept(body["task"])
    queue = ctx.server.status()["queue"]
    if queue["peak"] > queue["limit"]:
        ctx.finding(f"queue went past its limit: {queue}")
    accepted = sum(1 for status, _ in answers if status == 202)
    return f"{accepted} of 150 accepted; peak {queue['peak']} of {queue['limit']}"


def _long_page(ctx: Context) -> bytes:
    path = ctx.tmp / f"long-{ctx.next_text('p').split()[1]}.png"
    draw_page(sample_lines(20, seed=ctx.seq), (1240, 1754)).save(path)
    return path.read_bytes()


async def cancel_retry(ctx: Context) -> str:
    async with ctx.session() as session:
        _status, body = await upload(session, ctx.url, _long_page(ctx))
        task_id = body["task"]["id"]
        ctx.accept(body["task"])
        for _ in range(10):
            await wait_status(session, ctx.url, task_id, ("processing",), timeout=600)
            for action in ("cancel", "retry"):
                async with session.post(f"{ctx.url}/api/tasks/{task_id}/{action}") as resp:
                    ctx.answered(action, resp.status, await resp.read())
        task = await wait_finished(session, ctx.url, task_id, timeout=300)
    return f"10 cancel+retry; ended {task['status']}"


def _worker_pid(ctx: Context) -> int:
    return int(ctx.server.status()["workers"][0]["pid"])


async def hung_idle_worker(ctx: Context) -> str:
    await _wait_idle(ctx)
    pid = _worker_pid(ctx)
    os.kill(pid, signal.SIGSTOP)
    async with ctx.session() as session:
        _status, body = await upload(session, ctx.url, label_png(ctx.next_text("idle hang")))
        ctx.accept(body["task"])
        task = await wait_finished(session, ctx.url, body["task"]["id"], timeout=300)
    _resume_if_alive(pid)
    return f"SIGSTOP {pid}; the next document {task['status']} (attempts {task['attempts']})"


async def hung_busy_worker(ctx: Context) -> str:
    async with ctx.session() as session:
        _status, body = await upload(session, ctx.url, _long_page(ctx))
        ctx.accept(body["task"])
        await wait_status(session, ctx.url, body["task"]["id"], ("processing",), timeout=300)
        pid = _worker_pid(ctx)
        os.kill(pid, signal.SIGSTOP)
        task = await wait_finished(session, ctx.url, body["task"]["id"], timeout=300)
    _resume_if_alive(pid)
    return f"SIGSTOP {pid} mid-document; it {task['status']} (attempts {task['attempts']})"


def _resume_if_alive(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)


async def _wait_idle(ctx: Context, timeout: float = 600) -> None:
    async with asyncio.timeout(timeout):
        while not all(w["state"] == "idle" for w in ctx.server.status()["workers"]):
            await asyncio.sleep(0.5)


async def full_disk(ctx: Context) -> str:
    if ctx.disk is None:
        return "skipped: needs root to mount a small tmpfs"
    async with ctx.session() as session:
        status, body = await upload(session, ctx.url, _long_page(ctx))
        ctx.accept(body["task"])
        await wait_status(session, ctx.url, body["task"]["id"], ("processing",), timeout=300)
        filler = fill(ctx.disk)
        status, refused = await upload(session, ctx.url, label_png(ctx.next_text("full")))
        ctx.answered("upload on a full disk", status, json.dumps(refused).encode())
        if status != 503 or refused["error"]["code"] != "storage_unavailable":
            ctx.finding(f"upload on a full disk: {status} {refused}")
        if ctx.server.status()["storage"]["ok"]:
            ctx.finding("/api/status does not show the full disk")
        await asyncio.sleep(8)
        filler.unlink()
        task = await wait_finished(session, ctx.url, body["task"]["id"], timeout=300)
        status, after = await upload(session, ctx.url, label_png(ctx.next_text("freed")))
        if status == 202:
            ctx.accept(after["task"])
        else:
            ctx.finding(f"upload after space was freed: {status} {after}")
        current = await get_task(session, ctx.url, body["task"]["id"])
    return f"503 while full; the task in flight {task['status']}, now {current['status']}"


ATTACKS: list[tuple[str, Attack]] = [
    ("malformed HTTP", malformed_http),
    ("random requests", random_requests),
    ("stalled body", stalled_body),
    ("client vanishes mid-upload", vanishing_client),
    ("socket never authenticates", unauthenticated_socket),
    ("deeply nested JSON", nested_json),
    ("hostile names and keys", hostile_names),
    ("burst against the queue", queue_burst),
    ("cancel then retry", cancel_retry),
    ("idle worker hangs", hung_idle_worker),
    ("busy worker hangs", hung_busy_worker),
    ("full disk", full_disk),
]
