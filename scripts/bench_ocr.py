"""OCR throughput: ocrlive end to end against PaddleOCR called directly.

The same pages (drawn A4 pages and a multi-page PDF) go (a) through a running
`ocrlive serve` — upload over HTTP, followed to `task.completed` over the
WebSocket — and (b) straight into PaddleOCR's OCR pipeline in a process pool of
the same size with the same threads per process. Both pools are warm before the
clock starts. Prints pages/s for both and their ratio, then the time from upload
to the first progress event (p50, p95) on an idle warm pool.

    .venv/bin/python scripts/bench_ocr.py                 # 2 workers x 1 thread
    .venv/bin/python scripts/bench_ocr.py --scaling       # also 1 worker x 2 threads
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.drawing import draw_page, sample_lines, write_pdf  # noqa: E402
from tests.helpers.server import ServerProcess  # noqa: E402

from ocrlive.ocr.models import provision_models  # noqa: E402
from ocrlive.ocr.worker import thread_env  # noqa: E402

TOKEN = "bench-token-0123456789"
_pipeline: Any = None


def make_corpus(folder: Path, images: int, pdf_pages: int) -> tuple[list[Path], list[Path]]:
    """Documents to upload, and the same pages as single images for the baseline."""
    docs, pages = [], []
    for n in range(images):
        path = folder / f"page-{n:02d}.png"
        draw_page(sample_lines(30, seed=n)).save(path)
        docs.append(path)
        pages.append(path)
    pdf_images = [draw_page(sample_lines(30, seed=100 + n)) for n in range(pdf_pages)]
    pdf = write_pdf(pdf_images, folder / "report.pdf")
    # The long document goes first, as a scheduler that knew page counts would send
    # it: last in line, its pages would run on one worker while the others sit idle,
    # which measures the order of the queue, not the cost of ocrlive.
    docs.insert(0, pdf)
    for n, image in enumerate(pdf_images):
        path = folder / f"pdf-page-{n:02d}.png"
        image.save(path)
        pages.append(path)
    return docs, pages


# --- baseline: PaddleOCR's own pipeline in a process pool ------------------------


def _init_pipeline(models: str, threads: int) -> None:
    os.environ.update(thread_env(threads))
    from paddleocr import PaddleOCR

    global _pipeline
    _pipeline = PaddleOCR(
        text_detection_model_name="PP-OCRv6_small_det",
        text_detection_model_dir=f"{models}/PP-OCRv6_det_small",
        text_recognition_model_name="PP-OCRv6_small_rec",
        text_recognition_model_dir=f"{models}/PP-OCRv6_rec_small",
        use_doc_orientation_classify=False, use_doc_unwarping=False,
        use_textline_orientation=False, engine="onnxruntime", device="cpu",
        text_det_limit_side_len=64, text_det_limit_type="min",  # ocrlive's defaults too
        engine_config={"intra_op_num_threads": threads, "inter_op_num_threads": 1},
    )  # fmt: skip


def _read(path: str) -> int:
    return sum(len(r["rec_texts"]) for r in _pipeline.predict(path))


def run_baseline(pages: list[Path], workers: int, threads: int, models: Path) -> float:
    ctx = mp.get_context("spawn")
    # As ocrlive's pool does: a spawned child imports numpy and OpenCV (through this
    # module) before any initializer runs, so only the inherited environment pins them.
    os.environ.update(thread_env(threads))
    with ctx.Pool(workers, _init_pipeline, (str(models), threads)) as pool:
        pool.map(_read, [str(pages[0])] * workers, chunksize=1)  # warm every worker
        start = time.perf_counter()
        pool.map(_read, [str(p) for p in pages], chunksize=1)
        return len(pages) / (time.perf_counter() - start)


# --- ocrlive, end to end ----------------------------------------------------------


async def _upload(session: aiohttp.ClientSession, url: str, path: Path) -> str:
    form = aiohttp.FormData()
    form.add_field("patient_id", "BENCH-1")
    form.add_field("document_type", "lab_report")
    form.add_field("file", path.read_bytes(), filename=path.name)
    async with session.post(f"{url}/api/tasks", data=form) as resp:
        body = await resp.json()
        if resp.status != 202:
            raise RuntimeError(f"upload refused: {body}")
        return str(body["task"]["id"])


async def _wait_warm(session: aiohttp.ClientSession, url: str, workers: int) -> None:
    for _ in range(600):
        async with session.get(f"{url}/api/status") as resp:
            status = await resp.json()
        idle = [w for w in status["workers"] if w.get("state") == "idle"]
        if len(idle) >= workers:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the OCR pool did not get ready")


async def _events(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async for msg in ws:
        data = json.loads(msg.data)
        if data.get("type") == "event":
            yield data


async def ocrlive_throughput(url: str, docs: list[Path], pages: int, workers: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        await _wait_warm(session, url, workers)
        async with session.ws_connect(f"{url}/api/ws") as ws:
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "subscribe", "topic": "tasks"})
            await ws.receive_json()
            start = time.perf_counter()
            # The first document (the long PDF) is queued first for certain; concurrent
            # uploads would let the biggest file arrive, and so run, last.
            ids = {await _upload(session, url, docs[0])}
            ids |= set(await asyncio.gather(*(_upload(session, url, d) for d in docs[1:])))
            done: set[str] = set()
            async for event in _events(ws):
                if event["event"] in ("task.completed", "task.failed"):
                    done.add(event["task"]["id"])
                    if ids <= done:
                        break
            return pages / (time.perf_counter() - start)


async def first_event_latency(url: str, image: Path, samples: int) -> list[float]:
    """Upload to the first task.progress, one document at a time on an idle pool."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies = []
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.ws_connect(f"{url}/api/ws") as ws,
    ):
        await ws.receive_json()
        await ws.send_json({"id": 1, "type": "subscribe", "topic": "tasks"})
        await ws.receive_json()
        for _ in range(samples):
            start = time.perf_counter()
            task_id = await _upload(session, url, image)
            first = None
            async for event in _events(ws):
                if event["task"]["id"] != task_id:
                    continue
                if first is None and event["event"] == "task.progress":
                    first = time.perf_counter() - start
                if event["event"] in ("task.completed", "task.failed"):
                    break
            latencies.append((first or float("nan")) * 1000)
    return latencies


def run_ocrlive(docs: list[Path], pages: int, workers: int, threads: int, data: Path,
                small: Path, samples: int) -> tuple[float, list[float]]:  # fmt: skip
    env = {"OCRLIVE_WORKERS": str(workers), "OCRLIVE_THREADS_PER_WORKER": str(threads),
           "OCRLIVE_MODELS_DIR": str(data.parent / "models")}  # fmt: skip
    server = ServerProcess(data, TOKEN, **env)
    server.start()
    try:
        rate = asyncio.run(ocrlive_throughput(server.url, docs, pages, workers))
        latencies = asyncio.run(first_event_latency(server.url, small, samples)) if samples else []
    finally:
        server.stop()
    return rate, latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(args: argparse.Namespace, work: Path, workers: int, threads: int) -> dict[str, Any]:
    docs, pages = make_corpus(work / "corpus", args.images, args.pdf_pages)
    small = work / "corpus" / "small.png"
    draw_page(sample_lines(3, seed=7), size=(800, 300)).save(small)
    base = run_baseline(pages, workers, threads, work / "models")
    data = work / f"data-{workers}x{threads}"
    live, lat = run_ocrlive(docs, len(pages), workers, threads, data, small, args.samples)
    row = {"workers": workers, "threads": threads, "pages": len(pages),
           "paddleocr_pages_s": round(base, 3), "ocrlive_pages_s": round(live, 3),
           "ratio": round(live / base, 3)}  # fmt: skip
    if lat:
        row |= {"first_event_p50_ms": round(statistics.median(lat), 1),
                "first_event_p95_ms": round(percentile(lat, 0.95), 1)}  # fmt: skip
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=16, help="single-page A4 images")
    parser.add_argument("--pdf-pages", type=int, default=8, help="pages of the PDF")
    parser.add_argument("--samples", type=int, default=20, help="first-event latency samples")
    parser.add_argument("--scaling", action="store_true", help="also 1 worker x all cores")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "corpus").mkdir()
        provision_models(work / "models")
        layouts = [(min(2, cores), max(1, cores // min(2, cores)))]
        if args.scaling:
            layouts.append((1, cores))
        rows = [measure(args, work, w, t) for w, t in layouts]
    print("\nworkers x threads | pages | PaddleOCR pages/s | ocrlive pages/s | ratio | first event")
    for r in rows:
        lat = f"{r.get('first_event_p50_ms', '-')} / {r.get('first_event_p95_ms', '-')} ms"
        print(
            f"{r['workers']} x {r['threads']:<13} | {r['pages']:5} | {r['paddleocr_pages_s']:17.3f}"
            f" | {r['ocrlive_pages_s']:15.3f} | {r['ratio']:.3f} | p50/p95 {lat}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
