"""Scale-out: one long PDF read by the local pool, by one Dask worker and by two.

The local pool reads a document on one worker process (the document is its unit of
work), so a long PDF runs at one worker's speed however many there are. The Dask
executor splits it into pages: with two worker processes both read at once. All
three read the same 24-page PDF in one run, each warm (models loaded, one page read
first); prints pages/s and the ratios. The machine's load average is printed beside
them: on a shared machine, other work takes cores from the workers.

    .venv/bin/python scripts/bench_scale.py [--pages 24] [--lines 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.dask_cluster import DaskCluster  # noqa: E402
from tests.helpers.drawing import draw_page, sample_lines, write_pdf  # noqa: E402

from ocrlive.ocr.dask_executor import DaskExecutor  # noqa: E402
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


async def dask(address: str, config: EngineConfig, pdf: Path, warm: Path, work: Path) -> float:
    executor = DaskExecutor(address, config, task_timeout=TIMEOUT_S)
    await executor.start()
    try:
        await executor.wait_ready(timeout=300)
        return await pages_per_second(executor, pdf, warm, work / f"dask-{executor.size}")
    finally:
        await executor.close()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


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
        row["dask_1_worker"] = asyncio.run(dask(cluster.address, config, pdf, warm, work))
        cluster.add_workers(1)
        row["dask_2_workers"] = asyncio.run(dask(cluster.address, config, pdf, warm, work))
    finally:
        cluster.stop()
    row["load_after"] = load()
    row["ratio_dask1_local"] = row["dask_1_worker"] / row["local_pool_2x1"]
    row["ratio_dask2_dask1"] = row["dask_2_workers"] / row["dask_1_worker"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=24, help="pages of the PDF")
    parser.add_argument("--lines", type=int, default=12, help="lines of text on each page")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(args, Path(tmp))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
    print(f"\n{args.pages}-page PDF, pages/s (load average {row['load_before']} -> "
          f"{row['load_after']} on {row['cores']} cores)")  # fmt: skip
    print(f"local pool, 2 workers x 1 thread : {row['local_pool_2x1']:.3f}")
    print(f"Dask, 1 worker x 1 thread       : {row['dask_1_worker']:.3f}"
          f"  ({row['ratio_dask1_local']:.2f}x the local pool)")  # fmt: skip
    print(f"Dask, 2 workers x 1 thread      : {row['dask_2_workers']:.3f}"
          f"  ({row['ratio_dask2_dask1']:.2f}x one Dask worker; goal >= 1.7)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
