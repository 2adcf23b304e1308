"""The OCR pool with the real PaddleOCR engine: a worker SIGKILLed in the middle of a
document fails that job with WorkerCrashed, and its replacement reads a drawn card."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from tests.helpers.drawing import (
    CAUTION_CARD_LINES,
    draw_caution_card,
    draw_page,
    sample_lines,
    word_recall,
    write_pdf,
)

from ocrlive.ocr.pool import OcrPool, WorkerCrashed
from ocrlive.ocr.types import EngineConfig, OcrJob, Progress

pytestmark = pytest.mark.engine

ENGINE = "ocrlive.ocr.engine:Engine"
LOAD_TIMEOUT = 180.0  # loading the models on a busy 2-core machine


def worker_pid(pool: OcrPool) -> int:
    pid = pool.status()[0]["pid"]
    assert isinstance(pid, int)
    return pid


def noop(progress: Progress) -> None:
    pass


async def test_killed_worker_is_replaced_and_the_replacement_reads(
    engine_config: EngineConfig, tmp_path: Path
) -> None:
    pool = OcrPool(
        workers=1, engine_config=engine_config, engine_factory=ENGINE, start_timeout=LOAD_TIMEOUT
    )
    await pool.start()
    try:
        await pool.wait_ready(timeout=LOAD_TIMEOUT)
        doomed_pid = worker_pid(pool)
        with pytest.raises(WorkerCrashed, match="SIGKILL"):
            await kill_mid_document(pool, tmp_path)
        await pool.wait_ready(timeout=LOAD_TIMEOUT)
        assert worker_pid(pool) != doomed_pid
        card = tmp_path / "card.png"
        draw_caution_card().save(card)
        result = await pool.run(OcrJob("card", str(card), str(tmp_path / "card")), noop)
        assert word_recall("\n".join(CAUTION_CARD_LINES), result.text) >= 0.8, result.text
        assert pool.status()[0]["restarts"] == 1
    finally:
        await pool.close()


async def kill_mid_document(pool: OcrPool, tmp_path: Path) -> None:
    """SIGKILL the worker while it recognizes page 1 of 3 dense pages; await the job."""
    pages = [draw_page(sample_lines(30, seed=seed)) for seed in (1, 2, 3)]
    letter = write_pdf(pages, tmp_path / "letter.pdf")
    recognizing = asyncio.Event()

    def on_progress(progress: Progress) -> None:
        if progress.stage == "recognizing":
            recognizing.set()

    job = OcrJob("doomed", str(letter), str(tmp_path / "doomed"))
    doomed = asyncio.create_task(pool.run(job, on_progress))
    await asyncio.wait_for(recognizing.wait(), 120)
    os.kill(worker_pid(pool), signal.SIGKILL)
    await asyncio.wait_for(doomed, 10)
