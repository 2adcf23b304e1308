"""Chaos: the attacks and faults of issue #12, repeated against a fresh `ocrlive serve`.

Starts a server (the real engine) in a temporary data folder, on a small tmpfs when run
as root so that the disk can really fill, then, while a prober checks /api/health every
half second: malformed and hostile HTTP (credentials that are not UTF-8, odd digits,
broken multipart, oversized fields, unparseable requests, random requests), stalled
bodies, a client that vanishes mid-upload, sockets that never authenticate, nested JSON,
a burst of concurrent uploads against the queue limit, cancel-then-retry, SIGSTOP of an
idle and of a busy worker, and a full disk. Then it waits for the queue to drain and
prints what it found:

- no answer was a 500, and every /api error had a code;
- the log holds no traceback;
- no task is stuck in queued or processing;
- every accepted document completed (those cancelled on purpose aside);
- the server answered its health probe throughout.

    .venv/bin/python scripts/chaos.py [--rounds 2] [--keep]

Exit status 0 when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tests.helpers.server import ServerProcess  # noqa: E402

from chaoslib.attacks import ATTACKS, Context  # noqa: E402
from ocrlive.ocr.models import provision_models  # noqa: E402

TOKEN = "chaos-token-0123456789"
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=5)


def mount_small_disk(folder: Path, size_mb: int) -> bool:
    if os.geteuid() != 0:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(folder)],
                          capture_output=True, check=False)  # fmt: skip
    return done.returncode == 0


async def probe_health(ctx: Context, stop: asyncio.Event) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            try:
                async with session.get(f"{ctx.url}/api/health", timeout=PROBE_TIMEOUT) as resp:
                    ok = resp.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            ctx.health_checks += 1
            if not ok:
                ctx.health_failures += 1
            await asyncio.sleep(0.5)


async def run(ctx: Context, rounds: int) -> None:
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_health(ctx, stop))
    try:
        for round_ in range(1, rounds + 1):
            for name, attack in ATTACKS:
                started = time.monotonic()
                try:
                    note = await attack(ctx)
                except Exception as exc:  # an attack that breaks is a finding, not a crash
                    ctx.finding(f"{name}: the attack itself failed: {exc!r}")
                    note = "error"
                print(f"round {round_} {name:<28} {time.monotonic() - started:6.1f}s  {note}",
                      flush=True)  # fmt: skip
        await ctx.drain()
    finally:
        stop.set()
        await prober


def report(ctx: Context) -> int:
    log = ctx.server.full_log()
    if "Traceback" in log:
        ctx.finding("the server log holds a traceback")
    if ctx.health_failures:
        ctx.finding(f"health probe failed {ctx.health_failures} of {ctx.health_checks} times")
    print()
    print(f"requests sent: {ctx.requests}, answers 500: {ctx.five_hundreds}, documents "
          f"accepted: {len(ctx.accepted)}, health probes: {ctx.health_checks}")  # fmt: skip
    for line in ctx.findings:
        print(f"FOUND: {line}")
    print("OK: nothing found" if not ctx.findings else f"{len(ctx.findings)} finding(s)")
    return 0 if not ctx.findings else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ocrlive-chaos-"))
    disk = tmp / "disk"
    on_tmpfs = mount_small_disk(disk, 400)
    models = Path(os.environ.get("OCRLIVE_MODELS_DIR") or tmp / "models")
    provision_models(models)
    server = ServerProcess(disk / "data", TOKEN, OCRLIVE_MODELS_DIR=str(models),
                           OCRLIVE_WORKERS="1", OCRLIVE_QUEUE_LIMIT="40",
                           OCRLIVE_BODY_TIMEOUT="3", OCRLIVE_WORKER_LIVENESS_S="5")  # fmt: skip
    server.log_path = tmp / "server.log"
    print(f"server log: {server.log_path}; disk: {'tmpfs' if on_tmpfs else 'not mounted'}")
    server.start()
    server.wait_workers_ready()
    ctx = Context(server, TOKEN, disk if on_tmpfs else None, tmp)
    try:
        asyncio.run(run(ctx, args.rounds))
    finally:
        server.stop()
        if on_tmpfs:
            subprocess.run(["umount", "-l", str(disk)], check=False)
    status = report(ctx)
    if not args.keep:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return status


if __name__ == "__main__":
    sys.exit(main())
