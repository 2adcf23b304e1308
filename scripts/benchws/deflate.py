"""permessage-deflate: what zlib costs and saves on ocrlive's progress frames, and the
plain server (aiohttp's default compress=True) with and without deflate clients.
ocrlive itself refuses the extension (ws.view: compress=False); the ocrlive runs
probe that with one client that offers it."""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_common import print_table
from benchws.handles import combo
from benchws.plan import KIB, Plan
from benchws.scenarios import measure_memory, run_burst

DEFLATE_SERVER = "plain"


def progress_frames(count: int = 200) -> list[bytes]:
    """Consecutive task.progress frames of one task, exactly as ocrlive's hub builds them."""
    from ocrlive.events import Event, EventType, Priority, Stage, Task, TaskStatus, utcnow
    from ocrlive.ws.hub import event_frame

    now = utcnow()
    task = Task(
        id=uuid.uuid4().hex, patient_id="P-12345", document_type="referral_letter",
        filename="letter.pdf", content_type="application/pdf", size=183422,
        priority=Priority.NORMAL, status=TaskStatus.PROCESSING, progress=0.0,
        stage=Stage.RECOGNIZING, message="", pages_done=0, pages_total=5, attempts=1,
        created_at=now, updated_at=now, error=None, version=0,
    )  # fmt: skip
    frames = []
    for n in range(count):
        page, line = n // 40 + 1, n % 40 + 1
        message = f"Page {page} of 5: recognizing text ({line} of 40 lines)"
        task = task.evolve(progress=round(n * 100 / count, 1), message=message,
                           pages_done=page - 1, updated_at=utcnow(), version=1000 + n)  # fmt: skip
        event = Event(seq=1000 + n, type=EventType.PROGRESS, task=task)
        frames.append(event_frame(f"task:{task.id}", event, task.dumps()).text.encode())
    return frames


def _compressor() -> Any:
    """zlib at aiohttp's settings: level 1, raw deflate, 15-bit window."""
    return zlib.compressobj(1, zlib.DEFLATED, -15)


def _cost(frames: list[bytes], rounds: int, stream_for: Callable[[], Any]) -> dict[str, float]:
    """Bytes and microseconds per compressed frame; stream_for() gives the compressor
    of each message (one shared stream: context takeover; a fresh one: none)."""
    total, out, t0 = rounds * len(frames), 0, time.perf_counter()
    for _ in range(rounds):
        for frame in frames:
            stream = stream_for()
            out += len(stream.compress(frame) + stream.flush(zlib.Z_SYNC_FLUSH)) - 4
    us = (time.perf_counter() - t0) * 1e6 / total
    return {"bytes": round(out / total, 1), "us": round(us, 1)}


def deflate_micro(frames: list[bytes], rounds: int = 25) -> dict[str, Any]:
    shared = _compressor()
    return {
        "frame_bytes": sum(map(len, frames)) / len(frames),
        "takeover": _cost(frames, rounds, lambda: shared),
        "no_takeover": _cost(frames, rounds, _compressor),
        "compressor_kib": round(compressor_memory(frames[0]) / KIB, 1),
    }


def compressor_memory(frame: bytes, count: int = 50) -> float:
    """zlib allocates through PyMem_RawMalloc, which tracemalloc sees."""
    tracemalloc.start()
    keep = []
    for _ in range(count):
        stream = _compressor()
        stream.compress(frame)
        stream.flush(zlib.Z_SYNC_FLUSH)
        keep.append(stream)
    size = tracemalloc.get_traced_memory()[0] / count
    tracemalloc.stop()
    return size


def run_deflate(plan: Plan, root: Path) -> dict[str, Any]:
    """The plain server with browser-like clients that offer permessage-deflate, against
    the same number of clients that do not: memory, burst throughput, wire bytes."""
    small = dataclasses.replace(plan, burst=300)
    result: dict[str, Any] = {"server": DEFLATE_SERVER, "clients": plan.deflate_clients}
    for deflate in (False, True):
        with combo(small, DEFLATE_SERVER, plan.deflate_clients, root) as c:
            memory = measure_memory(c, deflate=deflate)
            burst = run_burst(c, "B")
        per_delivery = burst["wire_bytes"] / max(1, burst["delivered"])
        result["deflate" if deflate else "off"] = {
            "memory": memory, "burst": burst, "wire_bytes_per_delivery": round(per_delivery),
        }  # fmt: skip
    return result


def print_deflate(micro: dict[str, Any], e2e: dict[str, Any] | None) -> None:
    t, n = micro["takeover"], micro["no_takeover"]
    print(f"\npermessage-deflate on ocrlive progress frames ({micro['frame_bytes']:.0f} B each):")
    print(f"  context takeover : {t['bytes']:.0f} B/frame, {t['us']:.1f} us/frame/connection")
    print(f"  no takeover      : {n['bytes']:.0f} B/frame, {n['us']:.1f} us/frame/connection")
    print(f"  one compressor   : {micro['compressor_kib']:.0f} KiB per connection (takeover)")
    if not e2e or "off" not in e2e or "deflate" not in e2e:
        return
    print_table(
        f"{e2e['server']} (aiohttp compress=True), {e2e['clients']} clients, "
        "without / with permessage-deflate offered",
        ["clients offer", "RSS/conn KiB", "burst delivered/s", "server us/dlv", "wire B/delivery"],
        [[name, e2e[name]["memory"]["rss_per_conn_kib"], e2e[name]["burst"]["delivered_per_s"],
          e2e[name]["burst"]["server_us_per_delivery"], e2e[name]["wire_bytes_per_delivery"]]
         for name in ("off", "deflate")],
    )  # fmt: skip
