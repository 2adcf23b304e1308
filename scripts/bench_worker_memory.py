"""Peak memory of one OCR worker reading one large page, with and without ocrlive's
read scaling (ocrlive.ocr.documents: pages over OCRLIVE_READ_PIXELS are scaled down
before the engine sees them).

Each run is a fresh process that loads the real engine (PaddleOCR on ONNX Runtime, the
PP-OCRv6 small models) and reads one drawn page of text; its peak RSS (ru_maxrss) is
the worker's peak for that page. The baseline is the same page read at full size in
the same run; the table shows both and their ratio, against OCRLIVE_MAX_WORKER_RSS_MB.

    .venv/bin/python scripts/bench_worker_memory.py                # 59 MP and 36 MP pages
    .venv/bin/python scripts/bench_worker_memory.py --sides 4000,7680
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.drawing import draw_page, sample_lines  # noqa: E402

from ocrlive.ocr.models import provision_models  # noqa: E402
from ocrlive.settings import Settings  # noqa: E402


def make_page(side: int, folder: Path) -> Path:
    """A square page (the worst case for detection: its input is capped by the long
    side) with 40 lines of text in proportion to its size."""
    path = folder / f"page-{side}.png"
    lines = sample_lines(40, seed=side)
    page = draw_page(lines, (side, side))
    page.save(path, compress_level=1)
    return path


def measure(page: Path, read_pixels: int, models: Path, threads: int) -> dict[str, float]:
    """Run one worker-like process on `page`; its peak RSS and wall time."""
    code = (
        "import json, resource, sys, time\n"
        "from ocrlive.ocr.engine import Engine\n"
        "from ocrlive.ocr.types import OcrJob\n"
        "from ocrlive.settings import load_settings\n"
        "from pathlib import Path\n"
        f"s = load_settings(environ={{}}, models_dir=Path({str(models)!r}),"
        f" threads_per_worker={threads}, read_pixels={read_pixels}, max_pixels=200_000_000)\n"
        "engine = Engine(s.engine_config())\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "start = time.perf_counter()\n"
        f"result = engine.read(OcrJob('bench', {str(page)!r}, {str(page.parent / 'out')!r}), "
        "lambda p: None)\n"
        "print(json.dumps({'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
        " 'loaded_mb': base / 1024, 'seconds': time.perf_counter() - start,"
        " 'lines': sum(len(p.lines) for p in result.pages)}))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=False)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"the measuring process failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="6000,7680", help="square page sides in pixels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--read-pixels", default="", help="read sizes to compare (default: the setting's)"
    )
    args = parser.parse_args()
    defaults = Settings()
    models = Path(os.environ.get("OCRLIVE_MODELS_DIR") or tempfile.mkdtemp())
    provision_models(models)
    print(f"worker RSS limit (OCRLIVE_MAX_WORKER_RSS_MB): {defaults.max_worker_rss_mb} MiB; "
          f"read scaling above {defaults.read_pixels:,} pixels")  # fmt: skip
    sizes = [int(v) for v in args.read_pixels.split(",") if v] or [defaults.read_pixels]
    print("| page | read size | peak RSS, s, lines | RSS ratio to full size |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for side in (int(s) for s in args.sides.split(",")):
            page = make_page(side, Path(tmp))
            full = measure(page, 10**12, models, args.threads)
            label = f"{side} x {side} ({side * side / 1e6:.0f} MP)"
            print(f"| {label} | full size | {_cell(full)} | 1.00 |", flush=True)
            for pixels in sizes:
                scaled = measure(page, pixels, models, args.threads)
                ratio = scaled["peak_mb"] / full["peak_mb"]
                print(f"| {label} | {pixels / 1e6:g} MP | {_cell(scaled)} | {ratio:.2f} |",
                      flush=True)  # fmt: skip


def _cell(run: dict[str, float]) -> str:
    return f"{run['peak_mb']:.0f} MiB, {run['seconds']:.0f} s, {run['lines']:.0f} lines"


if __name__ == "__main__":
    main()
