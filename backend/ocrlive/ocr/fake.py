"""Fake engines with the interface of ocrlive.ocr.engine.Engine, for tests.

They are built by the pool from an import path ("ocrlive.ocr.fake:FakeEngine"),
inside the worker, so they read their knobs from the environment, which spawned
workers inherit, and pick a behaviour from the content of the job's file.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from ocrlive.events import Stage, TaskErrorCode
from ocrlive.ocr.types import (
    EngineConfig,
    OcrFailure,
    OcrJob,
    OcrLine,
    OcrPage,
    OcrResult,
    Progress,
    ProgressSink,
)

STEP_S_ENV = "OCRLIVE_FAKE_STEP_S"  # seconds between ordinary steps (default 0.01)
LOAD_S_ENV = "OCRLIVE_FAKE_LOAD_S"  # seconds the engine takes to "load" (default 0)
STEPS = 3
SLOW_STEPS = 100
SLOW_STEP_S = 0.1
DEFAULT_TEXT = "fake text"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BOX = [[0.0, 0.0], [100.0, 0.0], [100.0, 20.0], [0.0, 20.0]]


class FakeEngine:
    """Reads nothing real. The file's first bytes choose what happens:

    HANG   sleeps forever without reporting (task timeouts)
    CRASH  SIGKILLs its own process after the first report (worker crashes)
    FAIL   raises OcrFailure("unreadable_document")
    BOOM   raises RuntimeError, which the pool maps to "engine_error"
    SLOW   100 steps of 0.1 s, honouring cancel through report()
    other  STEPS quick steps; the page text is the file's first line
    """

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.step_seconds = float(os.environ.get(STEP_S_ENV, "0.01"))
        time.sleep(float(os.environ.get(LOAD_S_ENV, "0")))

    def versions(self) -> dict[str, str]:
        return {"engine": "fake", "fake": "1.0"}

    def read(self, job: OcrJob, report: ProgressSink) -> OcrResult:
        data = _head(job.path)
        report(Progress(job.task_id, Stage.LOADING, 0.0, "Opening the document", 0, 1))
        self._misbehave(data)
        steps, delay = (SLOW_STEPS, SLOW_STEP_S) if b"SLOW" in data else (STEPS, self.step_seconds)
        for done in range(1, steps + 1):
            time.sleep(delay)
            percent = round(100.0 * done / (steps + 1), 1)
            message = "Reading the text"
            report(Progress(job.task_id, Stage.RECOGNIZING, percent, message, 1, 1, done, steps))
        report(Progress(job.task_id, Stage.DONE, 100.0, "Done", 1, 1, steps, steps))
        return self._result(data)

    def _misbehave(self, data: bytes) -> None:
        if b"HANG" in data:
            while True:
                time.sleep(3600)
        if b"CRASH" in data:
            os.kill(os.getpid(), signal.SIGKILL)
        if b"FAIL" in data:
            raise OcrFailure(TaskErrorCode.UNREADABLE_DOCUMENT, "The fake engine was told to fail.")
        if b"BOOM" in data:
            raise RuntimeError("the fake engine exploded")

    def _result(self, data: bytes) -> OcrResult:
        data = data.removeprefix(PNG_MAGIC)  # tests steer it with text after the magic
        text = data.decode("utf-8", "replace").strip().split("\n")[0][:64] or DEFAULT_TEXT
        page = OcrPage(1, 100, 20, [OcrLine(text, 0.99, [list(p) for p in BOX])])
        threads = os.environ.get("OMP_NUM_THREADS")  # lets tests see the worker's limits
        return OcrResult([page], engine={"name": "fake", "pid": os.getpid(), "threads": threads})


class BrokenEngine:
    """An engine whose models cannot be loaded: construction always fails."""

    def __init__(self, config: EngineConfig) -> None:
        raise RuntimeError(f"no OCR models in {config.det_model_dir!r}")

    def versions(self) -> dict[str, str]:  # pragma: no cover - never built
        return {}

    def read(self, job: OcrJob, report: ProgressSink) -> OcrResult:  # pragma: no cover
        raise NotImplementedError


def _head(path: str) -> bytes:
    try:
        return Path(path).read_bytes()[:4096]
    except OSError as exc:
        raise OcrFailure(
            TaskErrorCode.UNREADABLE_DOCUMENT, f"The file cannot be opened: {exc}"
        ) from exc
