"""OCR speed of two checkouts of ocrlive, page by page, in one run.

`bench_ocr.py` times the whole service against PaddleOCR called directly; on a busy
machine its two halves run minutes apart and the load between them decides the
ratio. This one answers a narrower question robustly: does this checkout read pages
as fast as another one (say, the commit before a change to the engine)? Each
checkout gets its own worker process, built as the server builds it
(`load_settings().engine_config()`, one thread), warmed on one page; then every page
is read by both, one after the other, the order alternating page by page. Both see
the same load, and each page's CPU time (the process's own, which other processes'
load barely touches) is reported beside the wall time.

    git worktree add /tmp/before <commit>
    .venv/bin/python scripts/bench_ocr_versions.py /tmp/before .     # before, after
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The child: the engine of the checkout on its PYTHONPATH, reading what it is sent.
_CHILD = """
import json, sys, time
from ocrlive.ocr.engine import Engine
from ocrlive.ocr.types import OcrJob
from ocrlive.settings import load_settings
import os
engine = Engine(load_settings(dict(os.environ)).engine_config())
print("ready", flush=True)
for line in sys.stdin:
    path, pages_dir = json.loads(line)
    wall, cpu = time.perf_counter(), time.process_time()
    result = engine.read(OcrJob("bench", path, pages_dir), lambda *a, **k: None)
    lines = sum(len(p.lines) for p in result.pages)
    print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, lines]), flush=True)
"""


class Reader:
    """One checkout's engine in its own single-threaded process."""

    def __init__(self, checkout: Path, models: str, work: Path) -> None:
        env = os.environ | {"PYTHONPATH": str(checkout / "backend"), "OCRLIVE_MODELS_DIR": models,
                            "OCRLIVE_DATA_DIR": str(work / "data"), "OCRLIVE_WORKERS": "1",
                            "OCRLIVE_THREADS_PER_WORKER": "1", "OMP_NUM_THREADS": "1"}  # fmt: skip
        self.name = str(checkout)
        self.pages_dir = work / f"pages-{abs(hash(self.name))}"
        self.pages_dir.mkdir(parents=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"{checkout}: the engine did not start")

    def read(self, path: Path) -> tuple[float, float, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps([str(path), str(self.pages_dir)]) + "\n")
        self.proc.stdin.flush()
        wall, cpu, lines = json.loads(self.proc.stdout.readline())
        return float(wall), float(cpu), int(lines)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def corpus(folder: Path, images: int, pdf_pages: int) -> list[Path]:
    """bench_ocr's pages: drawn A4 pages and one multi-page PDF."""
    sys.path.insert(0, str(ROOT))
    from tests.helpers.drawing import draw_page, sample_lines, write_pdf

    paths = []
    for n in range(images):
        path = folder / f"page-{n:02d}.png"
        draw_page(sample_lines(30, seed=n)).save(path)
        paths.append(path)
    pdf = [draw_page(sample_lines(30, seed=100 + n)) for n in range(pdf_pages)]
    paths.append(write_pdf(pdf, folder / "report.pdf"))
    return paths


def compare(readers: list[Reader], docs: list[Path], rounds: int) -> dict[str, Any]:
    totals = {r.name: {"wall": 0.0, "cpu": 0.0, "lines": 0} for r in readers}
    for reader in readers:  # warm: the first read loads the models' sessions
        reader.read(docs[0])
    turn = 0
    for _ in range(rounds):
        for doc in docs:
            for reader in readers if turn % 2 == 0 else readers[::-1]:
                wall, cpu, lines = reader.read(doc)
                t = totals[reader.name]
                t["wall"] += wall
                t["cpu"] += cpu
                t["lines"] += lines
            turn += 1
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the checkout to compare against")
    parser.add_argument("after", type=Path, nargs="?", default=ROOT)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--pdf-pages", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    models = os.environ.get("OCRLIVE_MODELS_DIR", "")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "corpus").mkdir()
        if not models:
            sys.path.insert(0, str(ROOT / "backend"))
            from ocrlive.ocr.models import provision_models

            provision_models(work / "models")
            models = str(work / "models")
        docs = corpus(work / "corpus", args.images, args.pdf_pages)
        readers = [Reader(c.resolve(), models, work) for c in (args.before, args.after)]
        start = time.perf_counter()
        totals = compare(readers, docs, args.rounds)
        for r in readers:
            r.close()
    pages = (args.images + args.pdf_pages) * args.rounds
    before, after = (totals[r.name] for r in readers)
    print(json.dumps({"pages": pages, "seconds": round(time.perf_counter() - start, 1),
                      "before": before, "after": after}, indent=1))  # fmt: skip
    print(f"pages/s after / before, by CPU time:  {before['cpu'] / after['cpu']:.3f}")
    print(f"pages/s after / before, by wall time: {before['wall'] / after['wall']:.3f}")
    print(f"lines read: before {before['lines']}, after {after['lines']}")


if __name__ == "__main__":
    main()
