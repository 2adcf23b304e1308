"""What the audit log costs: the upload path and the WebSocket subscribe path, with
auditing on and off in the same run, as ratios (on / off).

The real app (SQLite file, single writer, process pool with the fake engine so OCR does
not set the numbers) on a real port; rounds alternate on and off so drift hits both.

    .venv/bin/python scripts/bench_audit.py [--uploads 200] [--subscribes 400] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT))

from tests.helpers.people import token_for  # noqa: E402

from ocrlive.app import create_app  # noqa: E402
from ocrlive.keys import AUDIT  # noqa: E402
from ocrlive.settings import load_settings  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def document(n: int) -> bytes:
    return PNG + f"bench {n}".encode() + b"\n" + os.urandom(64)


async def uploads(session: aiohttp.ClientSession, url: str, count: int, parallel: int) -> float:
    """Seconds for `count` uploads, `parallel` in flight."""
    gate = asyncio.Semaphore(parallel)

    async def one(n: int) -> None:
        form = aiohttp.FormData()
        form.add_field("patient_id", f"P-{n % 50}")
        form.add_field("document_type", "other")
        form.add_field("file", document(n), filename=f"{n}.png")
        async with gate, session.post(f"{url}/api/tasks", data=form) as resp:
            assert resp.status == 202, await resp.text()

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return time.perf_counter() - start


async def subscribes(
    session: aiohttp.ClientSession, url: str, ids: list[str], clients: int
) -> float:
    """Seconds for `clients` sockets each subscribing to every task in `ids` in turn."""
    sockets = [await session.ws_connect(f"{url}/api/ws") for _ in range(clients)]
    for ws in sockets:
        await ws.receive_json()

    async def run(ws: aiohttp.ClientWebSocketResponse) -> None:
        msg_id = 0
        for task_id in ids:
            for kind, fields in (
                ("subscribe", {"topic": f"task:{task_id}", "since": None}),
                ("unsubscribe", {"topic": f"task:{task_id}"}),
            ):
                msg_id += 1
                await ws.send_json({"id": msg_id, "type": kind, **fields})
                while (reply := await ws.receive_json()).get("id") != msg_id:
                    pass
                assert reply["ok"], reply

    start = time.perf_counter()
    await asyncio.gather(*(run(ws) for ws in sockets))
    elapsed = time.perf_counter() - start
    for ws in sockets:
        await ws.close()
    return elapsed


async def measure(
    label: str,
    rounds: int,
    audit_flag: Callable[[bool], None],
    work: Callable[[], Awaitable[float]],
) -> tuple[float, float]:
    on, off = [], []
    for r in range(rounds):
        for enabled in (True, False) if r % 2 == 0 else (False, True):
            audit_flag(enabled)
            (on if enabled else off).append(await work())
            state = "on" if enabled else "off"
            took = (on if enabled else off)[-1]
            print(f"  {label}, audit {state}: {took:.3f} s", file=sys.stderr, flush=True)
    audit_flag(True)
    return statistics.median(on), statistics.median(off)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={},
            data_dir=Path(tmp) / "data",
            workers=1,
            queue_limit=100_000,
            connect_rate=100_000,
            ws_rate=100_000.0,
        )
        token = await token_for(settings, "admin", "admin")
        app = create_app(settings, engine_factory="ocrlive.ocr.fake:FakeEngine")
        headers = {"Authorization": f"Bearer {token}"}
        async with TestServer(app) as server, aiohttp.ClientSession(headers=headers) as s:
            url = str(server.make_url("")).rstrip("/")

            def flag(enabled: bool) -> None:
                app[AUDIT].enabled = enabled

            rows = []
            for parallel in (1, 16):
                on, off = await measure(
                    f"upload x{parallel}",
                    args.rounds,
                    flag,
                    lambda p=parallel: uploads(s, url, args.uploads, p),
                )
                rows.append((f"upload, {parallel} in flight", args.uploads, on, off))
            listed = await (await s.get(f"{url}/api/tasks?limit=20")).json()
            ids = [t["id"] for t in listed["tasks"]]
            for clients in (1, 20):
                per = max(1, args.subscribes // (clients * len(ids)))
                on, off = await measure(
                    f"subscribe x{clients}",
                    args.rounds,
                    flag,
                    lambda c=clients, k=per: subscribes(s, url, ids * k, c),
                )
                rows.append(
                    (f"subscribe+unsubscribe, {clients} clients", clients * len(ids) * per, on, off)
                )
    print(f"{'path':40} {'ops':>6} {'audit on ms/op':>15} {'off ms/op':>10} {'ratio':>6}")
    for name, ops, on, off in rows:
        print(f"{name:40} {ops:6} {on / ops * 1e3:15.3f} {off / ops * 1e3:10.3f} {on / off:6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--subscribes", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
