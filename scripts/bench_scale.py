"""Scale-out: one long PDF read by the local pool, by one Dask worker and by two.

The local pool reads a document on one worker process (the document is its unit of
work), so a long PDF runs at one worker's speed however many there are. The Dask
executor splits it into pages: with two worker processes both read at once. All
read the same PDF in one run, each warm (models loaded, one page read first); prints
pages/s and the ratios. Two workers run twice: every page at once (the default) and a
few at a time (`lookahead=1`: one read and one waiting per worker), with the pages
each worker read and how long the first idled while the other finished.
The CPU seconds of each process during the two-worker run say where the cores went:
the two readers, and the scheduler, the nannies and this process (the node) beside
them. The load average is printed too: on a shared machine, other work takes cores.

The second half (PostgreSQL, scripts/scale_latency.py): the latency from an event's
commit on node A to its delivery to WebSocket clients of node B, with 1 client (the
baseline) and with 1,000; node B and the clients pinned each to a core, the client a
raw one (see scale_latency.py for what is counted as delivered).

    .venv/bin/python scripts/bench_scale.py [--pages 24] [--lines 8] [--clients 1,1000]
    .venv/bin/python scripts/bench_scale.py --only latency
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.dask_cluster import DaskCluster  # noqa: E402
from tests.helpers.drawing import draw_page, sample_lines, write_pdf  # noqa: E402

import scale_latency  # noqa: E402  (scripts/, beside this file)
from ocrlive.ocr.dask_cluster import dask_variable  # noqa: E402
from ocrlive.ocr.dask_executor import LOOKAHEAD, DaskExecutor  # noqa: E402  (None)
from ocrlive.ocr.executor import Executor  # noqa: E402
from ocrlive.ocr.models import provision_models  # noqa: E402
from ocrlive.ocr.pool import OcrPool  # noqa: E402
from ocrlive.ocr.types import EngineConfig, OcrJob  # noqa: E402
from ocrlive.settings import load_settings  # noqa: E402

HALF_A4 = (1654, 1170)  # at 200 dpi: a dense half page keeps a 24-page run to minutes
TIMEOUT_S = 3 * 3600.0


def make_pdf(folder: Path, pages: int, lines: int) -> Path:
    drawn = [draw_page(sample_lines(lines, seed=n), HALF_A4) for n in range(pages)]
    return write_pdf(drawn, folder / f"long-{pages}.pdf")


async def pages_per_second(executor: Executor, pdf: Path, warm: Path, work: Path) -> float:
    await executor.run(OcrJob("warm", str(warm), str(work / "warm")), lambda p: None)
    started = time.perf_counter()
    result = await executor.run(OcrJob("long", str(pdf), str(work / "long")), lambda p: None)
    return len(result.pages) / (time.perf_counter() - started)


async def local_pool(config: EngineConfig, pdf: Path, warm: Path, work: Path) -> float:
    # The whole PDF is one task on one worker: on a loaded machine it outlasts the
    # default 600 s timeout (a 24-page run measured at load ~15 did).
    pool = OcrPool(workers=2, engine_config=config, task_timeout=TIMEOUT_S)
    await pool.start()
    try:
        await pool.wait_ready(timeout=300)
        return await pages_per_second(pool, pdf, warm, work / "local")
    finally:
        await pool.close()


async def dask(
    address: str, config: EngineConfig, pdf: Path, warm: Path, work: Path,
    lookahead: int | None = LOOKAHEAD,
) -> dict[str, Any]:  # fmt: skip
    executor = DaskExecutor(address, config, task_timeout=TIMEOUT_S, lookahead=lookahead)
    finished: dict[str, float] = {}  # worker -> when it returned its last page
    await executor.start()
    try:
        await executor.wait_ready(timeout=300)
        name = f"dask-{executor.size}-{lookahead}"
        await executor.run(OcrJob("warm", str(warm), str(work / name / "warm")), lambda p: None)
        before = dict(executor._pages_read)
        started = time.perf_counter()
        track = asyncio.create_task(_track_last_page(executor, finished))
        result = await executor.run(OcrJob("long", str(pdf), str(work / name)), lambda p: None)
        elapsed = time.perf_counter() - started
        track.cancel()
    finally:
        await executor.close()
    per_worker = Counter(executor._pages_read) - Counter(before)
    ends = sorted(finished.values())
    return {
        "pages_per_s": len(result.pages) / elapsed,
        "pages_per_worker": sorted(per_worker.values()),
        "tail_idle_s": round(ends[-1] - ends[0], 1) if len(ends) > 1 else 0.0,
    }


async def _track_last_page(executor: DaskExecutor, finished: dict[str, float]) -> None:
    seen: Counter[str] = Counter(executor._pages_read)
    while True:
        now = Counter(executor._pages_read)
        for worker, count in now.items():
            if count != seen[worker]:
                finished[worker] = time.perf_counter()
        seen = now
        await asyncio.sleep(0.05)


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system) of each group of processes so far."""
    totals: dict[str, float] = {}
    for group, found in pids.items():
        total = 0.0
        for pid in found:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        totals[group] = total
    return totals


def process_groups(cluster: DaskCluster) -> dict[str, list[int]]:
    """The scheduler, the `ocrlive worker` processes (nannies), their worker children
    (the readers) and this process (the node: its Dask client and event loop)."""
    scheduler, *commands = cluster.procs
    readers = [
        child.pid
        for command in commands
        for child in psutil.Process(command.pid).children(recursive=True)
        if "resource_tracker" not in " ".join(child.cmdline())
    ]
    return {
        "readers": readers, "scheduler": [scheduler.pid],
        "nannies": [c.pid for c in commands], "node": [os.getpid()],
    }  # fmt: skip


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


IDLE_S = 20.0


def idle_overhead(work: Path, dask_defaults: bool) -> dict[str, float]:
    """CPU seconds per minute that an idle 2-worker cluster's processes take, with
    ocrlive's Dask settings (dask_cluster.QUIET, STEAL_INTERVAL) or, through DASK_*
    variables, Dask's."""
    saved = dict(os.environ)
    if dask_defaults:
        os.environ.update({dask_variable(k): v for k, v in _DASK_DEFAULTS.items()})
    cluster = DaskCluster(work, workers=2, threads=1)
    try:
        cluster.start()
        time.sleep(5.0)  # the engines have loaded; let the start settle
        groups = process_groups(cluster)
        before = cpu_seconds(groups)
        time.sleep(IDLE_S)
        after = cpu_seconds(groups)
    finally:
        cluster.stop()
        os.environ.clear()
        os.environ.update(saved)
    return {k: round(60 * (after[k] - before[k]) / IDLE_S, 2) for k in groups if k != "node"}


_DASK_DEFAULTS = {
    "distributed.worker.profile.enabled": "True",
    "distributed.scheduler.work-stealing": "True",
    "distributed.admin.system-monitor.interval": "500ms",
    "distributed.worker.memory.monitor-interval": "100ms",
    "distributed.scheduler.work-stealing-interval": "1s",  # dask_cluster.STEAL_INTERVAL
}


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    provision_models(work / "models")
    os.environ["OCRLIVE_MODELS_DIR"] = str(work / "models")  # for `ocrlive worker`
    config = load_settings(environ={}, models_dir=work / "models", threads_per_worker=1,
                           workers=2).engine_config()  # fmt: skip
    pdf = make_pdf(work, args.pages, args.lines)
    (work / "warm").mkdir()
    warm = make_pdf(work / "warm", 1, args.lines)
    row: dict[str, Any] = {"pages": args.pages, "cores": os.cpu_count(), "load_before": load()}
    row["local_pool_2x1"] = asyncio.run(local_pool(config, pdf, warm, work))
    cluster = DaskCluster(work, workers=1, threads=1)
    try:
        cluster.start()
        row["dask_1"] = asyncio.run(dask(cluster.address, config, pdf, warm, work))
        cluster.add_workers(1)
        row["dask_2_window"] = asyncio.run(
            dask(cluster.address, config, pdf, warm, work, lookahead=1)
        )
        groups = process_groups(cluster)
        cpu_before = cpu_seconds(groups)
        row["dask_2"] = asyncio.run(dask(cluster.address, config, pdf, warm, work))
        cpu_after = cpu_seconds(groups)
        row["cpu_s_dask_2"] = {k: round(cpu_after[k] - cpu_before[k], 1) for k in groups}
    finally:
        cluster.stop()
    if args.overhead:
        row["idle_cpu_s_per_min_dask_defaults"] = idle_overhead(work, dask_defaults=True)
        row["idle_cpu_s_per_min_ocrlive"] = idle_overhead(work, dask_defaults=False)
    row["load_after"] = load()
    one, two = row["dask_1"]["pages_per_s"], row["dask_2"]["pages_per_s"]
    row["ratio_dask1_local"] = one / row["local_pool_2x1"]
    row["ratio_dask2_dask1"] = two / one
    row["ratio_window_all_at_once"] = row["dask_2_window"]["pages_per_s"] / two
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=24, help="pages of the PDF")
    parser.add_argument("--lines", type=int, default=8, help="lines of text on each page")
    parser.add_argument("--json", type=Path, help="write the results here")
    skip = "skip the idle clusters' CPU (Dask's settings against ocrlive's)"
    parser.add_argument("--no-overhead", dest="overhead", action="store_false", help=skip)
    parser.add_argument(
        "--clients",
        default="1,1000",
        help="WebSocket clients on node B, one round each (first: baseline)",
    )
    parser.add_argument("--events", type=int, default=200, help="events committed on node A")
    parser.add_argument("--rate", type=float, default=10.0, help="events per second on A")
    parser.add_argument("--only", choices=("pages", "latency"), help="one half only")
    args = parser.parse_args()
    row: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "latency":
            row = measure(args, Path(tmp))
        if args.only != "pages":
            counts = [int(n) for n in args.clients.split(",")]
            row["latency"] = scale_latency.measure(Path(tmp), counts, args.events, args.rate)
            row["latency_load"] = load()
    print(json.dumps(row, default=str))
    if args.only != "latency":
        report(args.pages, row)
    if args.only != "pages":
        report_latency(row)
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))


def report_latency(row: dict[str, Any]) -> None:
    print(f"\nevent latency, commit on node A -> delivery to node B's WebSocket clients "
          f"(PostgreSQL; load average {row['latency_load']}):")  # fmt: skip
    for name, found in row["latency"].items():
        got = f"{found['deliveries']} of {found['expected']} delivered"
        parsed, cpu = found["parsed"], found["cpu_s"]
        print(f"{name}: p50 {found['p50_ms']} ms, p99 {found['p99_ms']} ms, "
              f"max {found['max_ms']} ms ({got}); parsed by the client p50 "
              f"{parsed['p50_ms']} ms, p99 {parsed['p99_ms']} ms; CPU s node B "
              f"{cpu['node_b']}, clients {cpu['clients']}; node B's loop waited for a "
              f"core {found.get('node_b_waited_for_cpu_ms')} ms")  # fmt: skip


def report(pages: int, row: dict[str, Any]) -> None:
    print(f"\n{pages}-page PDF, pages/s (load average {row['load_before']} -> "
          f"{row['load_after']} on {row['cores']} cores)")  # fmt: skip
    print(f"local pool, 2 workers x 1 thread : {row['local_pool_2x1']:.3f}")
    one, two, window = row["dask_1"], row["dask_2"], row["dask_2_window"]
    print(f"Dask, 1 worker x 1 thread       : {one['pages_per_s']:.3f}"
          f"  ({row['ratio_dask1_local']:.2f}x the local pool)")  # fmt: skip
    print(f"Dask, 2 workers x 1 thread      : {two['pages_per_s']:.3f}"
          f"  ({row['ratio_dask2_dask1']:.2f}x one Dask worker; goal >= 1.7; pages per "
          f"worker {two['pages_per_worker']}, tail {two['tail_idle_s']} s)")  # fmt: skip
    print(f"Dask, 2 workers, 1 page waiting : {window['pages_per_s']:.3f}"
          f"  ({row['ratio_window_all_at_once']:.2f}x all at once; pages per worker "
          f"{window['pages_per_worker']}, tail {window['tail_idle_s']} s)")  # fmt: skip
    print(f"CPU seconds during the 2-worker run: {row['cpu_s_dask_2']}")
    if "idle_cpu_s_per_min_ocrlive" in row:
        print("idle 2-worker cluster, CPU s per minute: Dask's defaults "
              f"{row['idle_cpu_s_per_min_dask_defaults']}, ocrlive's settings "
              f"{row['idle_cpu_s_per_min_ocrlive']}")  # fmt: skip


if __name__ == "__main__":
    main()
