"""Shared pieces of the WebSocket benchmarks: a minimal raw WebSocket client, the
recorder that counts event deliveries, process setup and table printing.

The client is hand-rolled on purpose: with aiohttp's client every message wakes one
task per connection, which costs more CPU than the servers spend sending it, so on a
2-core machine the client process and not the server would set the numbers. Parsing
frames straight from `data_received` is several times cheaper.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import resource
import socket
import struct
import threading
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

# Every benchmark event carries "bench <phase letter> <index> <time.time() at creation>".
STAMP = re.compile(rb"bench ([A-Z]) (\d+) (\d+\.\d+)")
# An ocrlive event's topic and seq, for a client that resumes with `since` (storm).
EVENT_POSITION = re.compile(rb'"topic":"([^"]+)","seq":(\d+)')
DEFLATE_TAIL = b"\x00\x00\xff\xff"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
ABNORMAL_CLOSE = 1006


def raise_nofile() -> int:
    """Every process holds thousands of sockets: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def pin_to(cpu: int | None) -> None:
    """Server on one core, clients on the other, so neither steals the other's time."""
    if cpu is not None and hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


def schedstat(task: str) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for one) of /proc/`task`
    (Linux schedstat); None where the kernel does not say or the thread ended."""
    try:
        with open(f"/proc/{task}/schedstat") as f:
            ran, waited = f.read().split()[:2]
        return int(ran) / 1e9, int(waited) / 1e9
    except (OSError, ValueError):
        return None


def waited_for_cpu_s(pid: int | None = None) -> float:
    """How long the calling thread (or process `pid`'s main thread: a server's event
    loop) has been runnable but not running (Linux schedstat's run-queue wait): the
    time other tasks on its core took from it. A latency tail with a large wait came
    from the machine, not from the code measured; 0.0 where the kernel does not say."""
    found = schedstat(f"{pid}/task/{pid}" if pid else f"self/task/{threading.get_native_id()}")
    return found[1] if found else 0.0


def threads_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process so far (Linux; empty elsewhere)."""
    tids = os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else []
    found = {int(tid): schedstat(f"self/task/{tid}") for tid in tids}
    return {tid: times[0] for tid, times in found.items() if times is not None}


def percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class PhaseStats:
    """Deliveries of one phase across every client of this process."""

    final_index: int
    wire_start: int
    cpu_start: float = field(default_factory=time.process_time)
    wait_start: float = field(default_factory=waited_for_cpu_s)
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    final_seen: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def add(self, index: int, stamp: float, now: float) -> None:
        self.count += 1
        self.first = self.first or now
        self.last = now
        self.latencies.append(now - stamp)
        if index == self.final_index:
            self.final_seen += 1


class Recorder:
    """Counts the events of armed phases only, so late events of an earlier phase
    never leak into the next one."""

    def __init__(self) -> None:
        self.phases: dict[bytes, PhaseStats] = {}
        self.closes: Counter[int] = Counter()
        self.wire_bytes = 0

    def arm(self, letter: str, final_index: int) -> None:
        self.phases[letter.encode()] = PhaseStats(final_index, self.wire_bytes)

    def on_text(self, payload: bytes) -> None:
        match = STAMP.search(payload)
        if match is None:
            return
        stats = self.phases.get(match.group(1))
        if stats is not None:
            stats.add(int(match.group(2)), float(match.group(3)), time.time())


def client_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """A masked, unfragmented client frame (RFC 6455 section 5.2)."""
    size, mask = len(payload), os.urandom(4)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    if not size:
        return head + mask
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")


def upgrade_request(port: int, path: str, headers: dict[str, str], deflate: bool) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if deflate:  # what every browser offers
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawWebSocket(asyncio.Protocol):
    """Just enough RFC 6455 for a benchmark client: the upgrade, masked text frames
    out, unfragmented frames in (optionally permessage-deflate), ping -> pong, close.
    Before `live` text frames queue in `inbox` for the subscribe handshake; after
    it they go straight to the recorder."""

    def __init__(self, request: bytes, recorder: Recorder, deflate: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.recorder = recorder
        self.live = False
        self.engineio = False  # answer engine.io pings ("2") with pongs ("3")
        self.close_code: int | None = None
        self.last_seq: dict[str, int] | None = None  # topic -> seq, once tracking
        self.epoch: str | None = None  # ocrlive: the hello's epoch
        self.positions: dict[str, int] = {}  # ocrlive: topic -> seq of its subscribe reply
        self.recovered = True  # ocrlive: every subscribe answered recovered: true
        self.deflate_agreed = False  # the server's 101 accepted permessage-deflate
        self.transport: asyncio.Transport | None = None
        self._request = request
        self._buf = bytearray()
        self._inflater = zlib.decompressobj(-15) if deflate else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self.recorder.wire_bytes += len(data)
        self._buf += data
        if not self.opened.done() and not self._finish_upgrade():
            return
        self._parse_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = ABNORMAL_CLOSE
        self.recorder.closes[self.close_code] += 1
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_text(self, text: str) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(text.encode()))

    async def next_text(self, timeout: float = 30.0) -> bytes:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _finish_upgrade(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end])
        del self._buf[: end + 4]
        if not head.startswith(b"HTTP/1.1 101"):
            self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
            self.abort()
            return False
        self.deflate_agreed = b"permessage-deflate" in head.lower()
        if not self.deflate_agreed:
            self._inflater = None
        self.opened.set_result(None)
        return True

    def _parse_frames(self) -> None:
        buf, pos, size = self._buf, 0, len(self._buf)
        while size - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            self._on_frame(buf[pos], bytes(buf[pos + head : end]))
            pos = end
        if pos:
            del buf[:pos]

    def _on_frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if first & 0x40 and self._inflater is not None:
            payload = self._inflater.decompress(payload + DEFLATE_TAIL)
        if opcode == OP_TEXT:
            self._on_text(payload)
        elif opcode == OP_PING and self.transport is not None:
            self.transport.write(client_frame(payload, OP_PONG))
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if payload else 1005
            if self.transport is not None:
                self.transport.write(client_frame(payload[:2], OP_CLOSE))
                self.transport.close()

    def _on_text(self, payload: bytes) -> None:
        if self.engineio and payload == b"2":
            self.send_text("3")
        elif self.live:
            self.recorder.on_text(payload)
            if self.last_seq is not None and (found := EVENT_POSITION.search(payload)):
                self.last_seq[found[1].decode()] = int(found[2])
        else:
            self.inbox.put_nowait(payload)


async def open_websocket(
    port: int,
    path: str,
    recorder: Recorder,
    *,
    headers: dict[str, str] | None = None,
    deflate: bool = False,
    rcvbuf: int | None = None,
) -> RawWebSocket:
    """Connect and upgrade; `rcvbuf` shrinks the receive buffer first (a slow client)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 30)
    except BaseException:
        sock.close()
        raise
    request = upgrade_request(port, path, headers or {}, deflate)
    proto = RawWebSocket(request, recorder, deflate)
    await loop.create_connection(lambda: proto, sock=sock)
    await asyncio.wait_for(proto.opened, 30)
    return proto


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    if not rows:  # a scenario this run skipped
        return
    cells = [[str(h) for h in header], *([_cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
